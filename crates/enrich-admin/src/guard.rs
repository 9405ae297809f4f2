//! The gate every request passes: the application's hook decides what it may do, nothing but
//! the login form and the stylesheet is served without access, and every answer gets the
//! security headers (and, on a browser's first visit, its CSRF cookie).

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::header::{HeaderValue, SET_COOKIE};

use crate::access::Access;
use crate::context::{RequestContext, mount_prefix};
use crate::cookies;
use crate::csrf::{CSRF_COOKIE, CsrfKey};
use crate::headers;
use crate::refusal::Refusal;
use crate::shared::Shared;
use crate::views;

/// This browser's CSRF cookie; `fresh` when the request came without one (then no form it
/// posts can be valid).
#[derive(Debug, Clone)]
pub(crate) struct CsrfCookie {
    pub(crate) value: String,
    pub(crate) fresh: bool,
}

/// The paths served without access: they show no inbox data.
const PUBLIC: [&str; 2] = ["/style.css", "/login"];

/// The middleware.
pub(crate) async fn guard(
    State(shared): State<Arc<Shared>>,
    OriginalUri(original): OriginalUri,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let prefix = match &shared.mount_path {
        Some(path) => path.clone(),
        None => mount_prefix(original.path(), parts.uri.path()),
    };
    let https = cookies::is_https(&original, &parts.headers);
    let cookie = match cookies::read(&parts.headers, CSRF_COOKIE) {
        Some(value) if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
            CsrfCookie {
                value: value.to_owned(),
                fresh: false,
            }
        }
        _ => match CsrfKey::new_cookie() {
            Some(value) => CsrfCookie { value, fresh: true },
            None => {
                let mut response = Refusal::InboxUnavailable.respond(&parts.headers, |refusal| {
                    views::refusal(None, &prefix, refusal)
                });
                headers::secure(response.headers_mut());
                return response;
            }
        },
    };
    let context = RequestContext {
        access: shared.authorize.authorize(&parts),
        csrf_token: shared.csrf.token(&cookie.value),
        prefix,
        https,
    };
    let mut response = if context.access.can_read() || PUBLIC.contains(&parts.uri.path()) {
        parts.extensions.insert(context.clone());
        parts.extensions.insert(cookie.clone());
        next.run(Request::from_parts(parts, body)).await
    } else {
        refuse_entry(&shared, &context, &parts.headers)
    };
    headers::secure(response.headers_mut());
    if cookie.fresh {
        let set = cookies::set(CSRF_COOKIE, &cookie.value, &context.prefix, https, None);
        if let Ok(value) = HeaderValue::from_str(&set) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// The answer to a request that may not see the page: `401` (with the login form, when the
/// hook has one and a browser asks) or `403`. Never any data.
fn refuse_entry(shared: &Shared, context: &RequestContext, headers: &http::HeaderMap) -> Response {
    let refusal = if context.access == Access::Unauthenticated {
        Refusal::Unauthenticated
    } else {
        Refusal::Forbidden
    };
    refusal.respond(headers, |refusal| {
        if refusal == Refusal::Unauthenticated && shared.authorize.has_login_form() {
            views::login::page(&context.prefix, &context.csrf_token, false)
        } else {
            views::refusal(None, &context.prefix, refusal)
        }
    })
}

/// A refusal inside the page (after the gate), with the navigation of `context`.
pub(crate) fn refuse(
    context: &RequestContext,
    headers: &http::HeaderMap,
    refusal: Refusal,
) -> Response {
    refusal.respond(headers, |refusal| {
        views::refusal(Some(context), &context.prefix, refusal)
    })
}

/// `200` with a page.
pub(crate) fn html(page: String) -> Response {
    Html(page).into_response()
}
