//! `enrich reconcile`: store in an inbox every person of an enrichment whose webhook never
//! arrived (`enrich_inbox::reconcile`).

use serde_json::json;

use crate::cli::ReconcileArgs;
use crate::error::Error;
use crate::output::{json, table};

/// Runs `reconcile`; returns what to print on stdout.
pub async fn run(args: ReconcileArgs, as_json: bool) -> Result<String, Error> {
    let client = crate::enrichment::client(&args.api, |builder| builder)?;
    let inbox = crate::inbox::open(&args.inbox).await?;
    let outcome = enrich_inbox::reconcile(&inbox, &client, &args.id).await;
    inbox.close().await;
    let report = outcome.map_err(Error::Reconcile)?;
    if as_json {
        return json(&json!({
            "people": report.people(),
            "alreadyStored": report.already_stored,
            "added": report.added,
            "unmatched": report.unmatched,
        }));
    }
    Ok(table(
        &["people", "count"],
        &[
            vec![
                "already stored".to_owned(),
                report.already_stored.to_string(),
            ],
            vec!["added (reconciled)".to_owned(), report.added.to_string()],
            vec![
                "unmatched (no externalID)".to_owned(),
                report.unmatched.to_string(),
            ],
            vec!["total".to_owned(), report.people().to_string()],
        ],
    ))
}
