//! `enrich inbox …`: operate a receiver's inbox (counts, dead letters, retry, replay, purge,
//! erase).

use std::path::Path;
use std::time::{Duration, SystemTime};

use enrich_inbox::{DeliveryId, Erasure, Inbox, Retention, State, StoredDelivery, Subject};
use serde_json::json;

use crate::cli::{InboxCommand, InboxUrl};
use crate::error::Error;
use crate::output::{json, table};
use crate::text::{cell, clean};

/// Opens the inbox at `url`, refusing a SQLite file that does not exist (opening would create
/// an empty inbox, which is never what an operator means). The error never repeats the URL,
/// which may hold a password.
pub async fn open(url: &InboxUrl) -> Result<Inbox, Error> {
    if let Some(path) = sqlite_path(&url.url)
        && !Path::new(path).exists()
    {
        return Err(Error::Usage(format!(
            "no inbox at {}: the file does not exist",
            clean(path)
        )));
    }
    Inbox::open(&url.url).await.map_err(|source| {
        // A refused connection reaches the pool as a timeout, which does not say why.
        let hint = if url.url.starts_with("postgres") {
            " (is its Postgres server running and reachable?)"
        } else {
            ""
        };
        Error::InboxOpen { hint, source }
    })
}

/// The file of a `sqlite:` URL (`None` for other URLs and in-memory databases).
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Runs an `inbox` subcommand; returns what to print on stdout (dead letters' error texts, which
/// may repeat personal data, in tables only with `show_personal`).
pub async fn run(
    command: InboxCommand,
    as_json: bool,
    show_personal: bool,
) -> Result<String, Error> {
    match command {
        InboxCommand::Stats(url) => {
            let inbox = open(&url).await?;
            let counts = inbox.counts().await?;
            inbox.close().await;
            let rows = [
                (State::Pending, counts.pending),
                (State::Processing, counts.processing),
                (State::Done, counts.done),
                (State::Dead, counts.dead),
                (State::Purged, counts.purged),
            ];
            if as_json {
                let mut object = serde_json::Map::new();
                for (state, count) in rows {
                    object.insert(state.as_str().to_owned(), count.into());
                }
                object.insert("total".to_owned(), counts.total().into());
                return json(&object);
            }
            let mut lines: Vec<Vec<String>> = rows
                .iter()
                .map(|(state, count)| vec![state.as_str().to_owned(), count.to_string()])
                .collect();
            lines.push(vec!["total".to_owned(), counts.total().to_string()]);
            Ok(table(&["state", "deliveries"], &lines))
        }
        InboxCommand::Dead { limit, inbox: url } => {
            let inbox = open(&url).await?;
            let letters = inbox.dead_letters(limit).await?;
            inbox.close().await;
            render_dead(&letters, as_json, show_personal)
        }
        InboxCommand::Retry {
            id,
            all,
            inbox: url,
        } => {
            let inbox = open(&url).await?;
            let requeued = match id {
                Some(id) if !all => {
                    let id = DeliveryId(id);
                    if !inbox.retry_dead_letter(id).await? {
                        return Err(not_in_state(&inbox, id, "a dead letter").await);
                    }
                    1
                }
                _ => inbox.retry_all_dead_letters().await?,
            };
            inbox.close().await;
            if as_json {
                json(&json!({ "requeued": requeued }))
            } else {
                Ok(format!("{requeued} dead letter(s) back in line\n"))
            }
        }
        InboxCommand::Replay { id, inbox: url } => {
            let inbox = open(&url).await?;
            let id = DeliveryId(id);
            if !inbox.replay(id).await? {
                return Err(not_in_state(&inbox, id, "a done delivery").await);
            }
            inbox.close().await;
            if as_json {
                json(&json!({ "replayed": id.0 }))
            } else {
                Ok(format!("delivery {id} will be processed again\n"))
            }
        }
        InboxCommand::Purge {
            older_than,
            dead_letters,
            keep_keys,
            batch_size,
            inbox: url,
        } => {
            let inbox = open(&url).await?;
            let retention = Retention::default()
                .bodies(older_than)
                .dead_letters(dead_letters)
                .keys(keep_keys)
                .batch_size(batch_size);
            let report = inbox.purge(retention).await?;
            inbox.close().await;
            if as_json {
                json(&json!({
                    "bodiesDropped": report.bodies_dropped,
                    "deadLettersDropped": report.dead_letters_dropped,
                    "keysForgotten": report.keys_forgotten,
                    "batches": report.batches,
                    "scrubbed": report.scrubbed,
                }))
            } else {
                let rows = [
                    ("bodies dropped", report.bodies_dropped),
                    ("dead letters dropped", report.dead_letters_dropped),
                    ("keys forgotten", report.keys_forgotten),
                    ("batches", report.batches),
                ];
                Ok(table(
                    &["purged", "deliveries"],
                    &rows
                        .iter()
                        .map(|(what, count)| vec![(*what).to_owned(), count.to_string()])
                        .collect::<Vec<_>>(),
                ))
            }
        }
        InboxCommand::Erase {
            external_id,
            email,
            enrichment,
            dry_run,
            inbox: url,
        } => {
            let subject = match (external_id, email, enrichment) {
                (Some(id), _, _) => Subject::ExternalId(id),
                (_, Some(address), _) => Subject::Email(address),
                (_, _, Some(id)) => Subject::Enrichment(id),
                (None, None, None) => {
                    return Err(Error::Usage(
                        "give --external-id, --email or --enrichment".to_owned(),
                    ));
                }
            };
            let inbox = open(&url).await?;
            let erasure = if dry_run {
                inbox.erasure_preview(&subject).await
            } else {
                inbox.erase(&subject).await
            };
            inbox.close().await;
            render_erasure(&erasure?, as_json)
        }
    }
}

/// What an erasure found: ids and counts only, never the subject (it is personal data).
fn render_erasure(erasure: &Erasure, as_json: bool) -> Result<String, Error> {
    let ids: Vec<i64> = erasure.deliveries.iter().map(|id| id.0).collect();
    let by_state = erasure.by_state;
    let states = [
        (State::Pending, by_state.pending),
        (State::Processing, by_state.processing),
        (State::Done, by_state.done),
        (State::Dead, by_state.dead),
        (State::Purged, by_state.purged),
    ];
    if as_json {
        let mut counts = serde_json::Map::new();
        for (state, count) in states {
            counts.insert(state.as_str().to_owned(), count.into());
        }
        return json(&json!({
            "dryRun": erasure.dry_run,
            "deliveries": ids,
            "byState": counts,
            "bodies": erasure.bodies,
            "errorTexts": erasure.error_texts,
            "scrubbed": erasure.scrubbed,
        }));
    }
    let mut rows: Vec<Vec<String>> = states
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(state, count)| vec![state.as_str().to_owned(), count.to_string()])
        .collect();
    rows.push(vec!["bodies".to_owned(), erasure.bodies.to_string()]);
    rows.push(vec![
        "error texts".to_owned(),
        erasure.error_texts.to_string(),
    ]);
    let heading = if erasure.dry_run {
        "would erase"
    } else {
        "erased"
    };
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Ok(format!(
        "{}deliveries: {}\n",
        table(&[heading, "deliveries"], &rows),
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(", ")
        }
    ))
}

/// Why `id` could not be requeued: unknown, or in another state than `wanted`.
async fn not_in_state(inbox: &Inbox, id: DeliveryId, wanted: &str) -> Error {
    let message = match inbox.get(id).await {
        Ok(None) => Error::State(format!("the inbox holds no delivery {id}")),
        Ok(Some(delivery)) => {
            Error::State(format!("delivery {id} is {}, not {wanted}", delivery.state))
        }
        Err(error) => Error::Inbox(error),
    };
    inbox.close().await;
    message
}

fn render_dead(
    letters: &[StoredDelivery],
    as_json: bool,
    show_personal: bool,
) -> Result<String, Error> {
    if as_json {
        let items: Vec<_> = letters
            .iter()
            .map(|letter| {
                json!({
                    "id": letter.id.0,
                    "eventType": letter.event_type,
                    "enrichmentID": letter.enrichment_id,
                    "externalID": letter.external_id,
                    "source": source_name(letter.source),
                    "attempts": letter.attempts,
                    "receivedAtMs": unix_millis(letter.received_at),
                    "finishedAtMs": letter.finished_at.map(unix_millis),
                    "lastError": letter.last_error,
                })
            })
            .collect();
        return json(&items);
    }
    let now = SystemTime::now();
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|letter| {
            vec![
                letter.id.to_string(),
                clean(&letter.event_type),
                cell(letter.enrichment_id.as_deref()),
                cell(letter.external_id.as_deref()),
                letter.attempts.to_string(),
                age(now, letter.received_at),
                if show_personal {
                    cell(letter.last_error.as_deref())
                } else {
                    letter.last_error.as_ref().map_or_else(
                        || cell(None),
                        |error| format!("({} chars, --show-personal)", error.chars().count()),
                    )
                },
            ]
        })
        .collect();
    Ok(table(
        &[
            "id",
            "event",
            "enrichmentID",
            "externalID",
            "attempts",
            "received",
            "last error",
        ],
        &rows,
    ))
}

fn source_name(source: enrich_inbox::Source) -> &'static str {
    match source {
        enrich_inbox::Source::Reconciled => "reconciled",
        _ => "webhook",
    }
}

fn unix_millis(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis())
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago`.
fn age(now: SystemTime, then: SystemTime) -> String {
    let seconds = now.duration_since(then).unwrap_or(Duration::ZERO).as_secs();
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86_400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_and_ages() {
        assert_eq!(sqlite_path("sqlite:inbox.db"), Some("inbox.db"));
        assert_eq!(
            sqlite_path("sqlite:///tmp/i.db?mode=rwc"),
            Some("/tmp/i.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
        let now = SystemTime::now();
        assert_eq!(age(now, now - Duration::from_secs(59)), "59s ago");
        assert_eq!(age(now, now - Duration::from_secs(7200)), "2h ago");
        assert_eq!(age(now, now + Duration::from_secs(5)), "0s ago");
    }
}
