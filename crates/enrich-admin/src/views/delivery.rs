//! One delivery: its metadata, its history as far as the inbox stores it, its body (redacted
//! unless the role may see it and asked to), and the actions its state allows.

use enrich_inbox::{Source, State, StoredDelivery};
use maud::html;

use super::{action_button, layout, or_dash};
use crate::body;
use crate::context::RequestContext;
use crate::format;

/// The delivery page; `full` when the full body was asked for (and is allowed); `done` names
/// the action just taken.
pub(crate) fn page(
    context: &RequestContext,
    delivery: &StoredDelivery,
    full: bool,
    done: Option<&str>,
) -> String {
    let path = format!("/deliveries/{}", delivery.id);
    let source = match delivery.source {
        Source::Webhook => "webhook",
        Source::Reconciled => "reconciled (fetched from the API)",
        _ => "other",
    };
    let main = html! {
        @if let Some(done) = done { p.notice #done { (done) } }
        table.meta {
            tr { th { "state" } td #state { (delivery.state) } }
            tr { th { "event type" } td { (delivery.event_type) } }
            tr { th { "enrichment" } td { (or_dash(delivery.enrichment_id.as_deref())) } }
            tr { th { "external ID" } td { (or_dash(delivery.external_id.as_deref())) } }
            tr { th { "source" } td { (source) } }
            tr { th { "signature verified" } td { (if delivery.verified { "yes" } else { "no" }) } }
            tr { th { "idempotency key" } td { code { (delivery.key) } } }
        }
        h2 { "History" }
        ol #history {
            li { (format::utc(delivery.received_at)) ": stored" }
            @if let Some(signed_at) = &delivery.signed_at { li { "signed by the sender at " (format::utc(signed_at.to_system_time())) } }
            @if delivery.attempts > 0 { li { (delivery.attempts) " attempt(s) so far" } }
            @if let Some(_) = delivery.last_error { li { "last attempt failed: " (super::dead::error_text(context, delivery.last_error.as_deref())) } }
            @match delivery.state {
                State::Pending => li { "due " (format::utc(delivery.due_at)) },
                State::Processing => li { "claimed; lease until " (format::utc(delivery.due_at)) },
                _ => @if let Some(finished) = delivery.finished_at {
                    li { (format::utc(finished)) ": " (delivery.state) }
                },
            }
        }
        @if context.access.can_operate() {
            p.actions {
                @if delivery.state == State::Dead { (action_button(context, &format!("{path}/retry"), "Retry")) }
                @if delivery.state == State::Done { (action_button(context, &format!("{path}/replay"), "Replay")) }
            }
        }
        h2 { "Body" }
        @if full {
            p { "Full body. " a href=(context.link(&path)) { "Show redacted" } }
        } @else {
            p {
                "Redacted: names, emails, phone numbers, LinkedIn URLs and job histories are left out."
                @if context.access.can_see_personal_data() {
                    " " a #show-full href=(context.link(&format!("{path}?body=full"))) { "Show the full body" }
                }
            }
        }
        pre #body { (body::shown(delivery.raw_body.as_deref(), full)) }
    };
    layout(
        Some(context),
        &context.prefix,
        &format!("Delivery {}", delivery.id),
        main,
    )
}

/// A list of deliveries in one state (the processed ones, to replay).
pub(crate) fn list(
    context: &RequestContext,
    state: State,
    deliveries: &[StoredDelivery],
) -> String {
    let main = html! {
        p { "The oldest " (deliveries.len()) " " (state) " deliveries." }
        table #deliveries {
            tr { th { "id" } th { "received" } th { "event type" } th { "enrichment" } th { "external ID" } th { "attempts" } }
            @for delivery in deliveries {
                tr data-id=(delivery.id) {
                    td { a href=(context.link(&format!("/deliveries/{}", delivery.id))) { (delivery.id) } }
                    td { (format::utc(delivery.received_at)) }
                    td { (delivery.event_type) }
                    td { (or_dash(delivery.enrichment_id.as_deref())) }
                    td { (or_dash(delivery.external_id.as_deref())) }
                    td { (delivery.attempts) }
                }
            }
        }
    };
    layout(
        Some(context),
        &context.prefix,
        &format!("Deliveries: {state}"),
        main,
    )
}
