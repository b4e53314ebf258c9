//! The body of an invitation (now-rooms §8.1): `emails`, DRF's `ListField(child=EmailField(),
//! allow_empty=False)` with the recipient cap of B-SEC-4, validated with Django's e-mail rules
//! (a dot-atom local part, a domain of dotted labels with a top-level name, `localhost` or an
//! IPv4 literal); then deduplicated by exact string, first occurrence kept.

use serde_json::Value;

use crate::error::FieldErrors;
use crate::i18n::msg;

use super::fields::{python_type, NOT_A_STRING, NOT_BLANK, NOT_NULL, REQUIRED};

/// The deduplicated recipients of a valid `emails` value, or its DRF errors.
pub fn parse_emails(v: Option<&Value>, max: usize) -> Result<Vec<String>, FieldErrors> {
    let one = |m: crate::i18n::Msg| {
        let mut e = FieldErrors::new();
        e.add("emails", m);
        e
    };
    let items = match v {
        None => return Err(one(REQUIRED.into())),
        Some(Value::Null) => return Err(one(NOT_NULL.into())),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(one(msg::NOT_A_LIST.arg("input_type", python_type(other)))),
    };
    if items.is_empty() {
        return Err(one(msg::EMPTY_LIST.into()));
    }
    let mut bad = FieldErrors::new();
    let mut emails = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text: Result<String, crate::i18n::Msg> = match item {
            Value::Null => Err(NOT_NULL.into()),
            Value::String(s) => Ok(s.trim().to_string()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(NOT_A_STRING.into()),
        };
        match text {
            Ok(s) if s.is_empty() => {
                bad.add(&i.to_string(), NOT_BLANK);
            }
            Ok(s) if !is_valid_email(&s) => {
                bad.add(&i.to_string(), msg::INVALID_EMAIL);
            }
            Ok(s) => emails.push(s),
            Err(m) => {
                bad.add(&i.to_string(), m);
            }
        }
    }
    if !bad.is_empty() {
        let mut e = FieldErrors::new();
        e.nested("emails", bad);
        return Err(e);
    }
    if items.len() > max {
        return Err(one(msg::MAX_LIST_LENGTH.arg("max_length", max)));
    }
    let mut seen = std::collections::HashSet::new();
    emails.retain(|e| seen.insert(e.clone()));
    Ok(emails)
}

/// Django's `EmailValidator` (without quoted local parts), and an address the mailer can write.
pub fn is_valid_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else { return false };
    if value.len() > 320 || !local_part_ok(local) {
        return false;
    }
    let domain_ok = domain == "localhost" || domain_name_ok(domain) || ipv4_literal_ok(domain);
    domain_ok && value.parse::<lettre::Address>().is_ok()
}

fn local_part_ok(local: &str) -> bool {
    const SPECIALS: &str = "-!#$%&'*+/=?^_`{}|~";
    !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c)))
}

pub(crate) fn domain_name_ok(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else { return false };
    let label_ok = |l: &str| {
        let n = l.chars().count();
        (1..=63).contains(&n)
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let tld_ok = {
        let n = tld.chars().count();
        (2..=63).contains(&n)
            && !tld.ends_with('-')
            && (tld.chars().all(|c| c.is_alphabetic() || c == '-')
                || tld.strip_prefix("xn--").is_some_and(|p| p.chars().all(|c| c.is_ascii_alphanumeric())))
    };
    !rest.is_empty() && rest.iter().all(|l| label_ok(l)) && tld_ok
}

fn ipv4_literal_ok(domain: &str) -> bool {
    domain
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use serde_json::json;

    fn errors(v: Value) -> Value {
        Value::Object(parse_emails(Some(&v), 3).unwrap_err().to_json(Lang::En))
    }

    #[test]
    fn django_s_rules() {
        for ok in ["a@example.com", "first.last+tag@sub.example.org", "x@localhost", "o'neil@x-y.example.fr"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in ["abdc", "efg", "a@", "@b.com", "a@b", "a@b.c", "a..b@c.com", "a b@c.com", "a@-b.com", "a@b.c0m"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn list_errors_are_drf_s() {
        assert_eq!(errors(json!([])), json!({"emails": ["This list may not be empty."]}));
        assert_eq!(errors(json!("a@b.com")), json!({"emails": ["Expected a list of items but got type \"str\"."]}));
        assert_eq!(
            errors(json!(["ok@example.com", "efg", null, true])),
            json!({"emails": {"1": ["Enter a valid email address."], "2": ["This field may not be null."],
                "3": ["Not a valid string."]}})
        );
        assert_eq!(
            errors(json!(["a@x.com", "b@x.com", "c@x.com", "d@x.com"])),
            json!({"emails": ["Ensure this field has no more than 3 elements."]})
        );
        assert_eq!(
            Value::Object(parse_emails(None, 3).unwrap_err().to_json(Lang::En)),
            json!({"emails": ["This field is required."]})
        );
    }

    #[test]
    fn duplicates_go_case_sensitively() {
        let got = parse_emails(Some(&json!([" t@x.com", "t@x.com", "T@x.com"])), 50).unwrap();
        assert_eq!(got, vec!["t@x.com".to_string(), "T@x.com".to_string()]);
    }
}
