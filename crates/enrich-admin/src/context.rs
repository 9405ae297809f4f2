//! What every handler knows about the request it answers, set by the guard.

use crate::access::Access;

/// The request's access, where the page is mounted, and the token its forms carry.
#[derive(Debug, Clone)]
pub(crate) struct RequestContext {
    /// What the request may do.
    pub(crate) access: Access,
    /// The path the application mounted the page under (`""` at the root, else `/admin`).
    pub(crate) prefix: String,
    /// The CSRF token of this browser's forms.
    pub(crate) csrf_token: String,
    /// Whether the request came over https (then the page's cookies are `Secure`).
    pub(crate) https: bool,
}

impl RequestContext {
    /// The absolute path of the page's `path` (which starts with `/`).
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// The path the page is mounted under: the original path of the request minus the path the
/// page's router sees (axum's `nest_service` strips the prefix and keeps the original).
pub(crate) fn mount_prefix(original: &str, seen: &str) -> String {
    let prefix = if seen == "/" {
        original.trim_end_matches('/')
    } else {
        original.strip_suffix(seen).unwrap_or("")
    };
    prefix.to_owned()
}

#[cfg(test)]
mod tests {
    use super::mount_prefix;

    #[test]
    fn the_prefix_is_what_nesting_stripped() {
        assert_eq!(mount_prefix("/admin/dead", "/dead"), "/admin");
        assert_eq!(mount_prefix("/admin", "/"), "/admin");
        assert_eq!(mount_prefix("/admin/", "/"), "/admin");
        assert_eq!(mount_prefix("/dead", "/dead"), "");
        assert_eq!(mount_prefix("/", "/"), "");
    }
}
