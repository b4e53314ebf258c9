//! DRF's page-number pagination (users-auth-rooms §2.8): 20 items a page, `page` = positive
//! integer or `last`, absolute `next`/`previous` links with the query parameters sorted.

use axum::http::Uri;
use serde::Serialize;
use serde_json::Value;

use super::extract::Origin;
use crate::error::ApiError;

pub const PAGE_SIZE: u64 = 20;

/// The slice of a collection to read, and the links around it.
#[derive(Debug, Clone)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// The page asked for in `uri`'s query, checked against `count` items.
pub fn page(uri: &Uri, origin: &Origin, count: u64) -> Result<Page, ApiError> {
    page_sized(uri, origin, count, PAGE_SIZE)
}

/// The `page_size` query parameter of the lists that honour it (recordings §4.5, now-rooms §6.5):
/// a positive integer capped at 100; anything else is the default size.
pub fn requested_size(uri: &Uri) -> u64 {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "page_size")
        .last()
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map(|n| (n as u64).min(100))
        .unwrap_or(PAGE_SIZE)
}

/// [`page`] with `size` items a page (endpoints that honour `page_size`, e.g. recordings §4.5).
pub fn page_sized(uri: &Uri, origin: &Origin, count: u64, size: u64) -> Result<Page, ApiError> {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let pages = count.div_ceil(size).max(1);
    // Django's QueryDict.get returns the last value of a repeated parameter.
    let number = match params.iter().rev().find(|(k, _)| k == "page").map(|(_, v)| v.as_str()) {
        None => 1,
        Some("last") => pages,
        Some(v) => v.parse::<u64>().map_err(|_| ApiError::InvalidPage)?,
    };
    if number == 0 || number > pages {
        return Err(ApiError::InvalidPage);
    }
    let link = |target: u64| {
        let mut kept: Vec<(String, String)> = params.iter().filter(|(k, _)| k != "page").cloned().collect();
        if target > 1 {
            kept.push(("page".into(), target.to_string()));
        }
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        let base = format!("{}{}", origin.base(), uri.path());
        if kept.is_empty() {
            base
        } else {
            let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
            format!("{base}?{query}")
        }
    };
    Ok(Page {
        offset: (number - 1) * size,
        limit: size,
        next: (number < pages).then(|| link(number + 1)),
        previous: (number > 1).then(|| link(number - 1)),
    })
}

/// DRF's paginated body.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Paginated<T: Serialize> {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T: Serialize> Paginated<T> {
    pub fn new(count: u64, page: Page, results: Vec<T>) -> Self {
        Paginated { count, next: page.next, previous: page.previous, results }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin { scheme: "http".into(), host: "testserver".into() }
    }

    #[test]
    fn links_are_absolute_sorted_and_page_one_has_no_page_parameter() {
        let uri: Uri = "/api/v1.0/users/?q=work.com&page_size=50&page=2".parse().unwrap();
        let p = page(&uri, &origin(), 70).unwrap();
        assert_eq!(p.offset, 20);
        assert_eq!(p.next.as_deref(), Some("http://testserver/api/v1.0/users/?page=3&page_size=50&q=work.com"));
        assert_eq!(p.previous.as_deref(), Some("http://testserver/api/v1.0/users/?page_size=50&q=work.com"));
    }

    #[test]
    fn invalid_pages_are_404() {
        for q in ["page=0", "page=x", "page=3", "page=-1"] {
            let uri: Uri = format!("/api/v1.0/rooms/?{q}").parse().unwrap();
            assert!(matches!(page(&uri, &origin(), 40), Err(ApiError::InvalidPage)), "{q}");
        }
        let uri: Uri = "/api/v1.0/rooms/?page=last".parse().unwrap();
        assert_eq!(page(&uri, &origin(), 41).unwrap().offset, 40);
        let empty: Uri = "/api/v1.0/rooms/".parse().unwrap();
        let p = page(&empty, &origin(), 0).unwrap();
        assert!(p.next.is_none() && p.previous.is_none());
    }
}
