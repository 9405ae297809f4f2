//! Reading one cookie from a request and writing the `Set-Cookie` of the page's own cookies.

use http::HeaderMap;
use http::header::COOKIE;

/// The value of the cookie `name` in `headers`, if the request carries it.
pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for one of the page's cookies: scoped to the page's path, never
/// readable by scripts, never sent on cross-site requests, `Secure` when the page is served over
/// https. `max_age` zero removes the cookie.
pub(crate) fn set(
    name: &str,
    value: &str,
    path: &str,
    secure: bool,
    max_age: Option<u64>,
) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let mut cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// Whether the request reached the application over https: its URI says so, or the proxy in
/// front of it does (`X-Forwarded-Proto: https`). Only used to add `Secure` to cookies, which
/// can never weaken them.
pub(crate) fn is_https(uri: &http::Uri, headers: &HeaderMap) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            "a=1; enrich_admin_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(read(&headers, "enrich_admin_session"), Some("abc"));
        assert_eq!(read(&headers, "missing"), None);
    }

    #[test]
    fn page_cookies_are_http_only_strict_and_secure_over_https() {
        let cookie = set("n", "v", "/admin", true, None);
        assert_eq!(
            cookie,
            "n=v; Path=/admin; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set("n", "v", "", false, Some(0)).contains("Secure"));
    }
}
