//! A retention pass, in bounded batches: what [`Inbox::purge`](crate::Inbox::purge) runs now and
//! every [`Worker`](crate::Worker) every [`Retention::interval`].

use crate::backend::{Backend, RetentionStep};
use crate::error::Error;
use crate::record::{PurgeReport, duration_millis};
use crate::retention::Retention;

/// Runs one retention pass on `backend`: keys first (so a row about to be deleted is not
/// rewritten first), then bodies, then dead letters, each in bounded batches until a batch
/// comes back short; then, if anything changed, the scrub (SQLite: WAL checkpointed and
/// truncated).
pub(crate) async fn apply(backend: &Backend, retention: Retention) -> Result<PurgeReport, Error> {
    let limit = retention.rows_per_batch();
    let mut report = PurgeReport::default();
    let steps = [
        (RetentionStep::ForgetKeys, retention.keys_age()),
        (RetentionStep::DropBodies, retention.bodies_age()),
        (RetentionStep::DropDeadLetters, retention.dead_letters_age()),
    ];
    for (step, age) in steps {
        let Some(age) = age else { continue };
        let age_ms = duration_millis(age);
        let mut cursor = i64::MIN;
        loop {
            let cursors = backend
                .retention_batch(step, age_ms, i64::from(limit), cursor)
                .await?;
            cursor = cursors.iter().copied().max().unwrap_or(cursor).max(cursor);
            let changed = u64::try_from(cursors.len()).unwrap_or(u64::MAX);
            if changed > 0 {
                report.batches += 1;
                report.largest_batch = report.largest_batch.max(changed);
            }
            match step {
                RetentionStep::ForgetKeys => report.keys_forgotten += changed,
                RetentionStep::DropBodies => report.bodies_dropped += changed,
                RetentionStep::DropDeadLetters => report.dead_letters_dropped += changed,
            }
            if changed < u64::from(limit) {
                break;
            }
        }
    }
    if report.batches > 0 {
        report.scrubbed = backend.scrub().await?;
    }
    Ok(report)
}
