//! The page's HTML, rendered on the server with `maud` (which escapes every value it is given:
//! no stored string reaches the page as markup).

pub(crate) mod dead;
pub(crate) mod delivery;
pub(crate) mod enrichments;
pub(crate) mod login;
pub(crate) mod overview;

use maud::{DOCTYPE, Markup, html};

use crate::context::RequestContext;
use crate::csrf::CSRF_FIELD;
use crate::refusal::Refusal;

/// A whole page: the head, the navigation (with sign-out when signed in) and `main`.
pub(crate) fn layout(
    context: Option<&RequestContext>,
    prefix: &str,
    title: &str,
    main: Markup,
) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · enrich inbox" }
                link rel="stylesheet" href={ (prefix) "/style.css" };
            }
            body {
                header {
                    nav {
                        a.brand href={ (prefix) "/" } { "enrich inbox" }
                        @if let Some(context) = context {
                            a href=(context.link("/")) { "Overview" }
                            a href=(context.link("/dead")) { "Dead letters" }
                            a href=(context.link("/deliveries?state=done")) { "Processed" }
                            a href=(context.link("/enrichments")) { "Enrichments" }
                            span.role { (role_name(context)) }
                            form.inline method="post" action=(context.link("/logout")) {
                                (csrf_field(context))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { h1 { (title) } (main) }
            }
        }
    }
    .into_string()
}

/// The hidden field that carries the form's CSRF token.
pub(crate) fn csrf_field(context: &RequestContext) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(context.csrf_token); }
}

/// A form with one button that posts to `action` (a page path).
pub(crate) fn action_button(context: &RequestContext, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(context.link(action)) {
            (csrf_field(context))
            button type="submit" { (label) }
        }
    }
}

/// The page of a refusal.
pub(crate) fn refusal(context: Option<&RequestContext>, prefix: &str, refusal: Refusal) -> String {
    layout(
        context,
        prefix,
        refusal.status().canonical_reason().unwrap_or("Error"),
        html! { p.refusal data-code=(refusal.code()) { (refusal.detail()) } },
    )
}

fn role_name(context: &RequestContext) -> &'static str {
    use crate::access::Access;
    match context.access {
        Access::OperatorWithPersonalData => "operator (personal data)",
        Access::Operator => "operator",
        _ => "read-only",
    }
}

/// An optional text, or a dash.
pub(crate) fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("—")
}
