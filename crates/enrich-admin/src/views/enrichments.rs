//! The enrichments view: per enrichment, who arrived, was processed, died; once the API was
//! asked, who is expected and who is missing; "check" and "reconcile now".

use maud::html;

use super::{csrf_field, layout};
use crate::api::Expected;
use crate::context::RequestContext;
use crate::enrichments::Enrichment;
use crate::format;

/// How many missing `externalID`s a row lists.
const MISSING_SHOWN: usize = 50;

/// One row: the enrichment's id, what the inbox holds, what the API said.
pub(crate) struct Row<'a> {
    pub(crate) id: &'a str,
    pub(crate) held: &'a Enrichment,
    pub(crate) expected: Option<Expected>,
}

/// The page; `can_ask` when an API client is configured; `notice` after an action.
pub(crate) fn page(
    context: &RequestContext,
    rows: &[Row<'_>],
    truncated: bool,
    can_ask: bool,
    notice: Option<String>,
) -> String {
    let main = html! {
        @if let Some(notice) = notice { p.notice #notice { (notice) } }
        @if truncated {
            p.notice { "The inbox holds more deliveries than the page reads per state; these figures are of the oldest ones." }
        }
        @if !can_ask {
            p { "Expected and missing people are shown once the API is asked; no API client is configured for this page." }
        }
        @if rows.is_empty() {
            p { "No enrichment in the inbox." }
        } @else {
            table #enrichments {
                tr { th { "enrichment" } th { "people received" } th { "processed" } th { "dead" } th { "waiting" }
                     th { "batch completed" } th { "expected" } th { "missing" } th {} }
                @for row in rows {
                    @let missing = row.expected.as_ref().map(|expected| row.held.missing(&expected.people));
                    tr data-enrichment=(row.id) {
                        td { code { (row.id) } }
                        td.received { (row.held.people()) }
                        td.processed { (row.held.processed) }
                        td.dead { (row.held.dead) }
                        td.waiting { (row.held.waiting) }
                        td { (if row.held.batch_completed { "yes" } else { "not yet" }) }
                        td.expected {
                            @match &row.expected {
                                Some(expected) => {
                                    (expected.people.len() as u64 + expected.without_id)
                                    br; small { "asked " (format::utc(expected.asked_at)) }
                                }
                                None => "not asked",
                            }
                        }
                        td.missing {
                            @match &missing {
                                Some(missing) => {
                                    span.missing-count { (missing.len()) }
                                    @if !missing.is_empty() {
                                        ul.missing-ids {
                                            @for id in missing.iter().take(MISSING_SHOWN) { li { (id) } }
                                        }
                                    }
                                }
                                None => "—",
                            }
                        }
                        td {
                            @if can_ask && context.access.can_operate() {
                                form.inline method="post" action=(context.link("/enrichments/check")) {
                                    (csrf_field(context))
                                    input type="hidden" name="enrichment" value=(row.id);
                                    button.check type="submit" { "Check with the API" }
                                }
                                " "
                                form.inline method="post" action=(context.link("/enrichments/reconcile")) {
                                    (csrf_field(context))
                                    input type="hidden" name="enrichment" value=(row.id);
                                    button.reconcile type="submit" { "Reconcile now" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(Some(context), &context.prefix, "Enrichments", main)
}
