//! Erasing one person: every delivery of an external ID, of an email address found in the
//! stored bodies, or of a whole enrichment loses its body, signature and error text, whatever
//! its state.

use std::fmt;

use crate::backend::{Found, IdColumn};
use crate::error::Error;
use crate::inbox::Inbox;
use crate::record::{Counts, DeliveryId};

/// Whose deliveries [`Inbox::erase`] erases.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subject {
    /// Every delivery whose event carries this `externalID` (your own id of the person).
    ExternalId(String),
    /// Every delivery whose stored body holds this email address as a JSON string value, in
    /// any field (professional or personal email, and any other), compared case-insensitively
    /// after trimming. A body that is not JSON is searched as text. Sealed bodies (encryption
    /// at rest) are opened to be searched: one sealed under a key the keyring lacks fails the
    /// search with [`Error::MissingKey`](crate::Error::MissingKey).
    Email(String),
    /// Every delivery of this enrichment (`enrichmentID`): all its people and its batch event.
    Enrichment(String),
}

/// Its `Debug` form names the kind of subject, not the value (an email address is personal
/// data; logs must not carry it).
impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::ExternalId(_) => "ExternalId",
            Self::Email(_) => "Email",
            Self::Enrichment(_) => "Enrichment",
        };
        write!(f, "Subject::{kind}(..)")
    }
}

/// What [`Inbox::erase`] erased (or, from [`Inbox::erasure_preview`], would erase).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Erasure {
    /// The deliveries found, by id.
    pub deliveries: Vec<DeliveryId>,
    /// How many of them were in each state when found.
    pub by_state: Counts,
    /// How many of them held a body (dropped with its signature).
    pub bodies: u64,
    /// How many of them held an error text (dropped).
    pub error_texts: u64,
    /// Whether this was a preview: nothing was changed.
    pub dry_run: bool,
    /// Whether the erased values were then scrubbed from the database's files as far as the
    /// engine allows (SQLite: `secure_delete` zeroed them in their pages and the WAL was
    /// checkpointed and truncated; Postgres: the table was vacuumed). `false` on a preview or
    /// when nothing was found.
    pub scrubbed: bool,
}

/// The `last_error` of an erased delivery: why it is `purged`. It holds nothing of the person.
pub const ERASED: &str = "erased (Inbox::erase): body, signature and error text removed";

/// Rows read per batch while searching, and erased per statement.
const BATCH: i64 = 500;

impl Inbox {
    /// Erases every delivery of `subject`, in every state: its body, signature header and error
    /// text are removed, and it becomes [`State::Purged`] with [`ERASED`] as its `last_error`.
    /// A pending or failed delivery is therefore never processed (not with an empty body,
    /// nor at all); one being processed keeps running in its worker with the body that worker
    /// already read, and its outcome is then not recorded (as after a lost lease: the worker
    /// logs a warning and goes on).
    ///
    /// What stays is what deduplication needs: the row's idempotency key, event type, ids and
    /// times, so a redelivery of an erased delivery is a duplicate and is not stored again. The
    /// default key is (event type, enrichment ID, external ID): the external ID is your own
    /// pseudonymous id of the person, not their name or contact details, and it goes with the
    /// row when the key retention ([`Retention::keys`](crate::Retention::keys)) forgets it. A
    /// custom [`idempotency_key`](crate::InboxConfig::idempotency_key) must not put personal
    /// data in the key.
    ///
    /// On SQLite the erased values are zeroed in the file (`secure_delete`) and the WAL is
    /// checkpointed and truncated; on Postgres the table is vacuumed afterwards (see the
    /// README, "Personal data", for what that does and does not guarantee). The search runs on
    /// read connections and the erasure in statements of at most 500 rows, so stores go on
    /// meanwhile. A delivery stored after the search is not erased: erase again once the
    /// sender has stopped sending.
    pub async fn erase(&self, subject: &Subject) -> Result<Erasure, Error> {
        let found = self.find(subject).await?;
        let mut erasure = summarize(&found, false);
        for chunk in erasure
            .deliveries
            .chunks(usize::try_from(BATCH).unwrap_or(500))
        {
            self.backend().erase_ids(chunk, ERASED).await?;
        }
        if !erasure.deliveries.is_empty() {
            erasure.scrubbed = self.backend().scrub().await?;
        }
        tracing::info!(
            deliveries = erasure.deliveries.len(),
            bodies = erasure.bodies,
            "enrich-inbox: a subject's deliveries were erased"
        );
        Ok(erasure)
    }

    /// What [`Inbox::erase`] would erase for `subject`, changing nothing.
    pub async fn erasure_preview(&self, subject: &Subject) -> Result<Erasure, Error> {
        Ok(summarize(&self.find(subject).await?, true))
    }

    /// Every delivery of `subject`, by id.
    async fn find(&self, subject: &Subject) -> Result<Vec<Found>, Error> {
        let backend = self.backend();
        let mut found = Vec::new();
        let mut after = 0_i64;
        match subject {
            Subject::ExternalId(value) | Subject::Enrichment(value) => {
                let column = match subject {
                    Subject::ExternalId(_) => IdColumn::ExternalId,
                    _ => IdColumn::EnrichmentId,
                };
                loop {
                    let batch = backend
                        .find_by_id_column(column, value, after, BATCH)
                        .await?;
                    let Some(last) = batch.last() else { break };
                    after = last.id.0;
                    let full = batch.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
                    found.extend(batch);
                    if !full {
                        break;
                    }
                }
            }
            Subject::Email(address) => {
                let address = address.trim().to_lowercase();
                if address.is_empty() {
                    return Err(Error::InvalidOption {
                        option: "Subject::Email",
                        expected: "a non-empty email address",
                    });
                }
                loop {
                    let batch = backend.scan_bodies(after, BATCH).await?;
                    let Some((last, _, _)) = batch.last() else {
                        break;
                    };
                    after = last.id.0;
                    let full = batch.len() == usize::try_from(BATCH).unwrap_or(usize::MAX);
                    for (row, body, key) in batch {
                        // A sealed body is opened to be searched: one that does not open fails
                        // the erasure (naming the key), rather than being passed over.
                        let body = self.sealer().open_body(&key, body.into())?;
                        if holds_email(&body, &address) {
                            found.push(row);
                        }
                    }
                    if !full {
                        break;
                    }
                }
            }
        }
        Ok(found)
    }
}

fn summarize(found: &[Found], dry_run: bool) -> Erasure {
    let mut erasure = Erasure {
        dry_run,
        ..Erasure::default()
    };
    for row in found {
        erasure.deliveries.push(row.id);
        erasure.by_state.add(row.state, 1);
        erasure.bodies += u64::from(row.has_body);
        erasure.error_texts += u64::from(row.has_error);
    }
    erasure
}

/// Whether `body` holds `address` (trimmed, lowercase): as a string value anywhere in it when
/// it is JSON (escapes decoded, so `ada\u0040example.com` matches), else as text.
fn holds_email(body: &[u8], address: &str) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => holds_string(&value, address),
        Err(_) => String::from_utf8_lossy(body)
            .to_lowercase()
            .contains(address),
    }
}

fn holds_string(value: &serde_json::Value, address: &str) -> bool {
    match value {
        serde_json::Value::String(text) => text.trim().to_lowercase() == address,
        serde_json::Value::Array(items) => items.iter().any(|item| holds_string(item, address)),
        serde_json::Value::Object(fields) => {
            fields.values().any(|field| holds_string(field, address))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_matches_a_json_string_value_whole_case_insensitively_and_escaped() {
        let body = br#"{"data":{"person":{"emails":[{"email":"Ada.Lovelace@Example.COM "}],"note":"bada@example.com"}}}"#;
        assert!(holds_email(body, "ada.lovelace@example.com"));
        assert!(
            !holds_email(body, "lovelace@example.com"),
            "whole values only"
        );
        assert!(!holds_email(body, "ada@example.com"));
        let escaped = br#"{"email":"ada\u0040example.com"}"#;
        assert!(holds_email(escaped, "ada@example.com"));
        assert!(holds_email(b"not json: ADA@example.com", "ada@example.com"));
        assert!(!holds_email(br#"{"count":1,"ok":true}"#, "1"));
    }

    #[test]
    fn a_subject_debug_form_hides_its_value() {
        let shown = format!("{:?}", Subject::Email("ada@example.com".to_owned()));
        assert_eq!(shown, "Subject::Email(..)");
    }
}
