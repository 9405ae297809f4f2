//! The login form of [`TokenAuth`](crate::TokenAuth).

use maud::html;

use crate::csrf::CSRF_FIELD;

/// The login page; `wrong` after a token that matched none.
pub(crate) fn page(prefix: &str, csrf_token: &str, wrong: bool) -> String {
    super::layout(
        None,
        prefix,
        "Sign in",
        html! {
            @if wrong { p.refusal data-code="unauthenticated" { "That token is not valid." } }
            @else { p.refusal data-code="unauthenticated" { "Sign in to see this page." } }
            form method="post" action={ (prefix) "/login" } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf_token);
                label for="token" { "Access token" }
                input #token type="password" name="token" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}
