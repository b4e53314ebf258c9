//! The API's languages (users-auth-rooms §2.7): the language negotiated for the request (see
//! [`negotiate`]) is held in a task-local for the request's duration, and messages are
//! [`Msg`]s (an id from [`msg`] plus parameters) translated only when a response is written,
//! as gettext's lazy strings are. One catalogue per language, plain JSON keyed by the English
//! message id, embedded in the binary.

pub mod messages;
pub mod negotiate;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::LazyLock;

pub use messages as msg;
pub use negotiate::{negotiate, supported_variant, COOKIE};

/// A language of `LANGUAGES`, in Django's order of priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Fr,
    Nl,
    De,
}

impl Lang {
    /// `LANGUAGES`, in order.
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Fr, Lang::Nl, Lang::De];

    /// The language code, as `Content-Language` carries it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en-us",
            Lang::Fr => "fr-fr",
            Lang::Nl => "nl-nl",
            Lang::De => "de-de",
        }
    }

    fn catalogue(self) -> &'static Catalogue {
        static CATALOGUES: LazyLock<[Catalogue; 4]> = LazyLock::new(|| {
            [
                parse_catalogue(include_str!("en.json")),
                parse_catalogue(include_str!("fr.json")),
                parse_catalogue(include_str!("nl.json")),
                parse_catalogue(include_str!("de.json")),
            ]
        });
        &CATALOGUES[self as usize]
    }
}

/// Message id → translated text (with the same `{name}` placeholders).
type Catalogue = HashMap<String, String>;

/// A catalogue that does not parse is empty (every message then falls back to English); the
/// unit tests below make sure none ships that way.
fn parse_catalogue(json: &str) -> Catalogue {
    serde_json::from_str(json).unwrap_or_default()
}

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the request being served (English outside a request).
pub fn current() -> Lang {
    LANG.try_with(|l| *l).unwrap_or(Lang::En)
}

/// Runs `f` with `lang` as the [`current`] language.
pub async fn scope<F: Future>(lang: Lang, f: F) -> F::Output {
    LANG.scope(lang, f).await
}

/// A message id: the English text with `{name}` placeholders. Only [`msg`] makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MsgId(&'static str);

impl MsgId {
    /// The English text (the catalogue key).
    pub fn id(self) -> &'static str {
        self.0
    }

    /// The message with one parameter.
    pub fn arg(self, name: &'static str, value: impl fmt::Display) -> Msg {
        Msg::from(self).arg(name, value)
    }

    /// The placeholder names of a template, in order.
    pub fn placeholders(template: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else { break };
            out.push(&after[..end]);
            rest = &after[end + 1..];
        }
        out
    }
}

/// A message to show: an id and the values of its parameters (never translated themselves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    id: MsgId,
    args: Vec<(&'static str, String)>,
}

impl From<MsgId> for Msg {
    fn from(id: MsgId) -> Self {
        Msg { id, args: Vec::new() }
    }
}

impl Msg {
    /// Sets parameter `name`.
    pub fn arg(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    pub fn id(&self) -> MsgId {
        self.id
    }

    /// The text in `lang`: the catalogue's template (the English id when missing) with the
    /// parameters substituted in one pass (a value holding `{x}` is not substituted again).
    pub fn render(&self, lang: Lang) -> String {
        let template = lang.catalogue().get(self.id.0).map(String::as_str).unwrap_or(self.id.0);
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let name = after.find('}').map(|end| &after[..end]);
            match name.and_then(|n| self.args.iter().find(|(k, _)| *k == n)) {
                Some((name, value)) => {
                    out.push_str(value);
                    rest = &after[name.len() + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The text in the [`current`] language.
    pub fn text(&self) -> String {
        self.render(current())
    }
}

/// English (for logs and `Debug`-like uses).
impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn raw(lang: Lang) -> &'static str {
        match lang {
            Lang::En => include_str!("en.json"),
            Lang::Fr => include_str!("fr.json"),
            Lang::Nl => include_str!("nl.json"),
            Lang::De => include_str!("de.json"),
        }
    }

    #[test]
    fn every_catalogue_parses_and_holds_exactly_the_message_ids() {
        let ids: BTreeSet<&str> = msg::ALL.iter().map(|m| m.id()).collect();
        assert_eq!(ids.len(), msg::ALL.len(), "a message id is declared twice");
        for lang in Lang::ALL {
            let parsed: HashMap<String, String> =
                serde_json::from_str(raw(lang)).unwrap_or_else(|e| panic!("{}.json: {e}", lang.code()));
            let keys: BTreeSet<&str> = parsed.keys().map(String::as_str).collect();
            let missing: Vec<_> = ids.difference(&keys).collect();
            let unknown: Vec<_> = keys.difference(&ids).collect();
            assert!(missing.is_empty(), "{}: missing {missing:?}", lang.code());
            assert!(unknown.is_empty(), "{}: not a message of the code {unknown:?}", lang.code());
        }
    }

    #[test]
    fn translations_keep_the_placeholders_and_english_is_the_identity() {
        for id in msg::ALL {
            let mut expected = MsgId::placeholders(id.id());
            expected.sort_unstable();
            assert_eq!(Lang::En.catalogue().get(id.id()).map(String::as_str), Some(id.id()));
            for lang in Lang::ALL {
                let Some(text) = lang.catalogue().get(id.id()) else { continue };
                assert!(!text.is_empty(), "{}: empty text for {:?}", lang.code(), id.id());
                let mut got = MsgId::placeholders(text);
                got.sort_unstable();
                assert_eq!(got, expected, "{}: placeholders of {:?}", lang.code(), id.id());
            }
        }
    }

    #[test]
    fn render_substitutes_parameters_once() {
        let m = msg::METHOD_NOT_ALLOWED.arg("method", "{method}");
        assert_eq!(m.render(Lang::En), "Method \"{method}\" not allowed.");
        assert_eq!(
            msg::METHOD_NOT_ALLOWED.arg("method", "PUT").render(Lang::Fr),
            "Méthode «\u{a0}PUT\u{a0}» non autorisée."
        );
        assert_eq!(Msg::from(msg::REQUIRED).render(Lang::De), "Dieses Feld ist zwingend erforderlich.");
        assert_eq!(Msg::from(msg::REQUIRED).render(Lang::Nl), "Dit veld is vereist.");
        // A placeholder without a value stays as written.
        assert_eq!(Msg::from(msg::NO_MATCH).render(Lang::En), "No {model} matches the given query.");
    }

    #[tokio::test]
    async fn the_current_language_is_the_scope_s() {
        assert_eq!(current(), Lang::En);
        assert_eq!(scope(Lang::Nl, async { current() }).await, Lang::Nl);
        assert_eq!(Msg::from(msg::NOT_FOUND).text(), "Not found.");
        assert_eq!(scope(Lang::Fr, async { Msg::from(msg::NOT_FOUND).text() }).await, "Non trouvé.");
    }
}
