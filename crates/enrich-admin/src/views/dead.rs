//! The dead letters, with retry one, and retry all behind a count confirmation.

use enrich_inbox::StoredDelivery;
use maud::{Markup, html};

use super::{action_button, csrf_field, layout, or_dash};
use crate::context::RequestContext;
use crate::format;

/// The dead-letters page; `requeued` after a retry all.
pub(crate) fn page(
    context: &RequestContext,
    letters: &[StoredDelivery],
    total: u64,
    requeued: Option<u64>,
) -> String {
    let main = html! {
        @if let Some(requeued) = requeued {
            p.notice #requeued { (requeued) " dead letter(s) put back in line." }
        }
        p { (total) " dead letter(s)" @if total > letters.len() as u64 { ", the oldest " (letters.len()) " shown" } "." }
        @if total > 0 && context.access.can_operate() {
            p { a.button #retry-all href=(context.link("/dead/retry-all")) { "Retry all…" } }
        }
        @if !letters.is_empty() {
            table #dead-letters {
                tr { th { "id" } th { "failed at" } th { "event type" } th { "enrichment" } th { "external ID" }
                     th { "attempts" } th { "last error" } th {} }
                @for letter in letters {
                    tr data-id=(letter.id) {
                        td { a href=(context.link(&format!("/deliveries/{}", letter.id))) { (letter.id) } }
                        td { (format::utc(letter.finished_at.unwrap_or(letter.received_at))) }
                        td { (letter.event_type) }
                        td { (or_dash(letter.enrichment_id.as_deref())) }
                        td { (or_dash(letter.external_id.as_deref())) }
                        td { (letter.attempts) }
                        td.error { (error_text(context, letter.last_error.as_deref())) }
                        td {
                            @if context.access.can_operate() {
                                (action_button(context, &format!("/deliveries/{}/retry", letter.id), "Retry"))
                            }
                        }
                    }
                }
            }
        }
    };
    layout(Some(context), &context.prefix, "Dead letters", main)
}

/// The confirmation step of retry all: the count now, posted back so that the page refuses
/// when it changed in between.
pub(crate) fn confirm_retry_all(context: &RequestContext, dead: u64, changed: bool) -> String {
    let main = html! {
        @if changed {
            p.notice #count-changed { "The number of dead letters changed since you asked; confirm again." }
        }
        @if dead == 0 {
            p { "There are no dead letters." }
        } @else {
            p { "Put " strong #confirm-count { (dead) } " dead letter(s) back in line, with their attempts reset?" }
            form method="post" action=(context.link("/dead/retry-all")) {
                (csrf_field(context))
                input type="hidden" name="expected" value=(dead);
                button #confirm type="submit" { "Retry " (dead) " dead letter(s)" }
            }
        }
        p { a href=(context.link("/dead")) { "Back to the dead letters" } }
    };
    layout(
        Some(context),
        &context.prefix,
        "Retry all dead letters",
        main,
    )
}

/// A handler's error text, which may repeat personal data: shown to operators, not to the
/// read-only role.
pub(crate) fn error_text(context: &RequestContext, error: Option<&str>) -> Markup {
    html! {
        @match error {
            None => "—",
            Some(_) if !context.access.can_operate() => em { "(hidden from the read-only role)" },
            Some(error) => (error),
        }
    }
}
