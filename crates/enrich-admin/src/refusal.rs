//! The page's error answers: a status, a stable code, and a sentence, as HTML for browsers and
//! as `application/problem+json` for clients that ask for JSON.

use axum::response::{Html, IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};

/// One refusal or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No valid credentials (`401`).
    Unauthenticated,
    /// The application's hook forbids this request (`403`).
    Forbidden,
    /// A read-only role tried to change something (`403`).
    ReadOnly,
    /// A form came without its CSRF token, or with one that does not match (`403`).
    CsrfInvalid,
    /// No such page or delivery (`404`).
    NotFound,
    /// A form that cannot be read (`400`).
    BadForm,
    /// The delivery is not in the state the action needs (`409`).
    WrongState,
    /// The inbox could not be read or written (`503`).
    InboxUnavailable,
    /// No API client is configured, so the page cannot ask the API (`404`).
    ApiNotConfigured,
    /// The API could not answer (`502`).
    ApiUnavailable,
}

impl Refusal {
    /// The HTTP status.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::ReadOnly | Self::CsrfInvalid => StatusCode::FORBIDDEN,
            Self::NotFound | Self::ApiNotConfigured => StatusCode::NOT_FOUND,
            Self::ApiUnavailable => StatusCode::BAD_GATEWAY,
            Self::BadForm => StatusCode::BAD_REQUEST,
            Self::WrongState => StatusCode::CONFLICT,
            Self::InboxUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable, machine-readable code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::ReadOnly => "read_only",
            Self::CsrfInvalid => "csrf_invalid",
            Self::NotFound => "not_found",
            Self::BadForm => "bad_form",
            Self::WrongState => "wrong_state",
            Self::InboxUnavailable => "inbox_unavailable",
            Self::ApiNotConfigured => "api_not_configured",
            Self::ApiUnavailable => "api_unavailable",
        }
    }

    /// A sentence for a person.
    pub(crate) fn detail(self) -> &'static str {
        match self {
            Self::Unauthenticated => "Sign in to see this page.",
            Self::Forbidden => {
                "This page is closed: the application has not allowed this request to see it."
            }
            Self::ReadOnly => "This role may read the page but not change the inbox.",
            Self::CsrfInvalid => {
                "The form came without its security token, or with one that does not match: \
                 reload the page and submit it again."
            }
            Self::NotFound => "There is no such page or delivery.",
            Self::BadForm => "The form could not be read.",
            Self::WrongState => {
                "The delivery is no longer in a state that allows this (someone else may have \
                 acted on it): reload the page."
            }
            Self::InboxUnavailable => "The inbox could not be reached; try again shortly.",
            Self::ApiNotConfigured => "No API client is configured for this page.",
            Self::ApiUnavailable => {
                "The API could not answer about this enrichment (the log says why); try again \
                 shortly."
            }
        }
    }

    /// The answer, in the form the request asked for (JSON when its `Accept` prefers it), the
    /// HTML one wrapped by `page`.
    pub(crate) fn respond(
        self,
        request: &HeaderMap,
        page: impl FnOnce(Self) -> String,
    ) -> Response {
        let mut response = if wants_json(request) {
            let body = serde_json::json!({
                "type": "about:blank",
                "status": self.status().as_u16(),
                "code": self.code(),
                "detail": self.detail(),
            });
            let mut response = (self.status(), body.to_string()).into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            response
        } else {
            (self.status(), Html(page(self))).into_response()
        };
        if self == Self::Unauthenticated {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"enrich-admin\""),
            );
        }
        response
    }
}

impl From<enrich_inbox::Error> for Refusal {
    fn from(error: enrich_inbox::Error) -> Self {
        tracing::warn!(%error, "enrich-admin: the inbox could not be read or written");
        Self::InboxUnavailable
    }
}

/// Whether the client asked for JSON rather than HTML.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("json") && !accept.contains("text/html"))
}
