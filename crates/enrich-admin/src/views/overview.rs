//! The overview: counts by state, the oldest claimable age, throughput, recent failures.

use enrich_inbox::{Counts, Gauges, StoredDelivery};
use maud::html;

use super::layout;
use crate::context::RequestContext;
use crate::format;
use crate::throughput::{Observed, WINDOW};

/// What the overview shows.
pub(crate) struct Overview {
    pub(crate) counts: Counts,
    pub(crate) gauges: Gauges,
    pub(crate) throughput: Option<Observed>,
    /// Pending deliveries whose last attempt failed (waiting on their backoff), oldest first.
    pub(crate) failing: Vec<StoredDelivery>,
}

/// The overview page.
pub(crate) fn page(context: &RequestContext, overview: &Overview) -> String {
    let Overview {
        counts,
        gauges,
        throughput,
        failing,
    } = overview;
    let main = html! {
        section {
            h2 { "Deliveries by state" }
            table.counts {
                tr { th { "due" } th { "waiting on backoff" } th { "processing" } th { "done" }
                     th { "dead" } th { "purged" } th { "total" } }
                tr {
                    td #count-due { (gauges.due) } td #count-backoff { (gauges.backoff) }
                    td #count-processing { (counts.processing) } td #count-done { (counts.done) }
                    td #count-dead { a href=(context.link("/dead")) { (counts.dead) } }
                    td #count-purged { (counts.purged) } td #count-total { (counts.total()) }
                }
            }
            p { "Oldest claimable delivery has waited " strong #oldest-claimable { (format::duration(gauges.oldest_claimable_age)) } "." }
            p #throughput {
                @match throughput {
                    Some(seen) => {
                        (seen.processed) " processed in the last " (format::duration(seen.over))
                        " (" (format!("{:.1}", seen.per_minute())) " a minute), as this page observed between its visits."
                    }
                    None => {
                        "Throughput: not enough readings yet. The page compares the processed count between its visits over the last "
                        (WINDOW.as_secs() / 60) " minutes; reload to see it."
                    }
                }
            }
        }
        section {
            h2 { "Recent failures" }
            @if failing.is_empty() {
                p { "No delivery is waiting on a retry." }
            } @else {
                table {
                    tr { th { "id" } th { "received" } th { "event type" } th { "attempts" } th { "next attempt" } th { "last error" } }
                    @for delivery in failing {
                        tr {
                            td { a href=(context.link(&format!("/deliveries/{}", delivery.id))) { (delivery.id) } }
                            td { (format::utc(delivery.received_at)) }
                            td { (delivery.event_type) }
                            td { (delivery.attempts) }
                            td { (format::utc(delivery.due_at)) }
                            td.error { (super::dead::error_text(context, delivery.last_error.as_deref())) }
                        }
                    }
                }
            }
            p { a href=(context.link("/dead")) { (counts.dead) " dead letter(s)" } }
        }
    };
    layout(Some(context), &context.prefix, "Overview", main)
}
