//! `enrich inbox …`: operate a receiver's inbox (counts, dead letters, retry, replay, purge,
//! erase, release).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use enrich_inbox::{
    DeliveryId, Erasure, Gauges, Inbox, Release, Retention, State, StoredDelivery, Subject,
};
use enrich_webhook::WebhookConfig;
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
/// may repeat personal data, in tables only with `--show-personal`).
pub async fn run(command: InboxCommand, as_json: bool) -> Result<String, Error> {
    match command {
        InboxCommand::Stats(url) => {
            let inbox = open(&url).await?;
            let gauges = inbox.gauges().await?;
            inbox.close().await;
            if as_json {
                return json(&stats_json(&gauges));
            }
            Ok(stats_table(&gauges))
        }
        InboxCommand::Watch {
            interval,
            count,
            inbox: url,
        } => {
            let inbox = open(&url).await?;
            let watched = watch(&inbox, interval, count, as_json).await;
            inbox.close().await;
            watched.map(|()| String::new())
        }
        InboxCommand::Dead {
            limit,
            personal,
            inbox: url,
        } => {
            let inbox = open(&url).await?;
            let letters = inbox.dead_letters(limit).await?;
            inbox.close().await;
            render_dead(&letters, as_json, personal.show_personal)
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
        InboxCommand::Serve {
            listen,
            token,
            read_only_token,
            show_personal,
            inbox: url,
        } => {
            let tokens = crate::serve::Tokens::new(token, read_only_token, show_personal)?;
            let inbox = open(&url).await?;
            let served = crate::serve::run(&inbox, listen, tokens).await;
            inbox.close().await;
            served.map(|()| String::new())
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
                Ok(counts_table("purged", &rows))
            }
        }
        InboxCommand::Release {
            secret,
            dry_run,
            inbox: url,
        } => {
            let config = WebhookConfig::from_secret_list(&secret)
                .map_err(|error| Error::Usage(format!("--secret: {error}")))?;
            let keys = config
                .signing_keys()
                .ok_or_else(|| Error::Usage("--secret: no signing secret".to_owned()))?;
            let inbox = open(&url).await?;
            let release = if dry_run {
                inbox.release_dry_run(keys, config.get_tolerance()).await
            } else {
                inbox.release(keys, config.get_tolerance()).await
            };
            inbox.close().await;
            render_release(&release?, dry_run, as_json)
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
        InboxCommand::Rekey {
            batch_size,
            inbox: url,
        } => {
            let inbox = open(&url).await?;
            let report = inbox
                .rekey(
                    usize::try_from(batch_size).unwrap_or(usize::MAX),
                    |progress| {
                        // Progress is for the operator watching; a closed stderr changes nothing.
                        let _ = writeln!(
                            std::io::stderr(),
                            "re-sealed {} rows under `{}` (through delivery {})",
                            progress.resealed,
                            progress.key_id,
                            progress.last_id
                        );
                    },
                )
                .await;
            inbox.close().await;
            let report = report?;
            if as_json {
                json(&json!({
                    "keyId": report.key_id,
                    "resealed": report.resealed,
                    "changedMeanwhile": report.changed_meanwhile,
                    "batches": report.batches,
                    "passes": report.passes,
                }))
            } else {
                let rows = [
                    ("re-sealed", report.resealed),
                    (
                        "changed meanwhile (left for the next run)",
                        report.changed_meanwhile,
                    ),
                    ("batches", report.batches),
                ];
                Ok(format!(
                    "under key `{}`\n{}",
                    report.key_id,
                    counts_table("rekey", &rows)
                ))
            }
        }
    }
}

/// What a release did (or would do).
fn render_release(release: &Release, dry_run: bool, as_json: bool) -> Result<String, Error> {
    if as_json {
        return json(&json!({
            "dryRun": dry_run,
            "released": release.released,
            "dead": release.dead,
            "batches": release.batches,
        }));
    }
    let heading = if dry_run { "would release" } else { "released" };
    let rows = [
        ("verified, to be processed", release.released),
        ("not verified, dead letters", release.dead),
        ("batches", release.batches),
    ];
    Ok(counts_table(heading, &rows))
}

/// A table of `(what, how many deliveries)` rows under the heading `what`.
fn counts_table(what: &str, rows: &[(&str, u64)]) -> String {
    table(
        &[what, "deliveries"],
        &rows
            .iter()
            .map(|(what, count)| vec![(*what).to_owned(), count.to_string()])
            .collect::<Vec<_>>(),
    )
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
        (State::Quarantined, by_state.quarantined),
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

/// The figures of [`Gauges`] as JSON: every state, `pending` (due and on backoff), `total`, and
/// the oldest claimable age in seconds (millisecond precision).
fn stats_json(gauges: &Gauges) -> serde_json::Value {
    json!({
        "due": gauges.due,
        "backoff": gauges.backoff,
        "pending": gauges.due + gauges.backoff,
        "processing": gauges.processing,
        "dead": gauges.dead,
        "done": gauges.done,
        "quarantined": gauges.quarantined,
        "total": total(gauges),
        "oldestClaimableAgeSeconds": gauges.oldest_claimable_age.as_millis() as f64 / 1000.0,
    })
}

fn total(gauges: &Gauges) -> u64 {
    gauges.due + gauges.backoff + gauges.processing + gauges.dead + gauges.done + gauges.quarantined
}

/// The figures of [`Gauges`] as a table: a row per state, the total, the oldest claimable age.
fn stats_table(gauges: &Gauges) -> String {
    let rows: Vec<Vec<String>> = [
        ("due", gauges.due),
        ("backoff", gauges.backoff),
        ("processing", gauges.processing),
        ("dead", gauges.dead),
        ("done", gauges.done),
        ("quarantined", gauges.quarantined),
        ("total", total(gauges)),
    ]
    .iter()
    .map(|(state, count)| vec![(*state).to_owned(), count.to_string()])
    .collect();
    format!(
        "{}\noldest claimable: {}\n",
        table(&["state", "deliveries"], &rows),
        waited(gauges.oldest_claimable_age)
    )
}

/// `none` for nothing claimable, else the age with millisecond precision (`12.345s`).
fn waited(age: Duration) -> String {
    if age.is_zero() {
        "none waiting".to_owned()
    } else {
        format!("{:.3}s", age.as_secs_f64())
    }
}

/// The screen's clear and home: a redraw in place on a terminal.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// One reading of `inbox watch`: a compact JSON object and a newline with `as_json`; else the
/// stats table, after a clear of the screen when stdout is a terminal (`tty`), after a blank
/// line otherwise (so that a log of the readings stays readable).
fn watch_frame(gauges: &Gauges, as_json: bool, tty: bool, interval: Duration) -> String {
    if as_json {
        return format!("{}\n", stats_json(gauges));
    }
    let table = stats_table(gauges);
    if tty {
        format!(
            "{CLEAR_SCREEN}{table}\nevery {}, Ctrl-C to stop\n",
            waited(interval)
        )
    } else {
        format!("\n{table}")
    }
}

/// Reads the gauges every `interval` (`count` times, or until interrupted) and prints each
/// reading as it comes. A failed reading is reported on stderr and tried again at the next tick
/// (a database restarting does not end the watch).
async fn watch(
    inbox: &Inbox,
    interval: Duration,
    count: Option<u64>,
    as_json: bool,
) -> Result<(), Error> {
    let tty = std::io::stdout().is_terminal();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut read = 0;
    while count.is_none_or(|count| read < count) {
        ticks.tick().await;
        read += 1;
        match inbox.gauges().await {
            Ok(gauges) => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(watch_frame(&gauges, as_json, tty, interval).as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(Error::io("cannot write the output"))?;
            }
            Err(error) => eprintln!("enrich: could not read the inbox: {error}"),
        }
    }
    Ok(())
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

    fn figures() -> Gauges {
        let mut gauges = Gauges::default();
        gauges.due = 4;
        gauges.backoff = 1;
        gauges.processing = 2;
        gauges.dead = 3;
        gauges.done = 10;
        gauges.quarantined = 6;
        gauges.oldest_claimable_age = Duration::from_millis(12_345);
        gauges
    }

    const TABLE: &str = "state        deliveries\n\
                         due          4\n\
                         backoff      1\n\
                         processing   2\n\
                         dead         3\n\
                         done         10\n\
                         quarantined  6\n\
                         total        26\n\
                         \n\
                         oldest claimable: 12.345s\n";

    #[test]
    fn stats_show_the_gauges_figures() {
        assert_eq!(stats_table(&figures()), TABLE);
        assert_eq!(
            stats_json(&figures()),
            json!({
                "due": 4, "backoff": 1, "pending": 5, "processing": 2, "dead": 3, "done": 10,
                "quarantined": 6, "total": 26, "oldestClaimableAgeSeconds": 12.345,
            })
        );
        assert!(stats_table(&Gauges::default()).ends_with("oldest claimable: none waiting\n"));
    }

    #[test]
    fn a_watch_redraws_on_a_terminal_and_appends_otherwise() {
        let every = Duration::from_secs(2);
        assert_eq!(
            watch_frame(&figures(), false, true, every),
            format!("\x1b[H\x1b[2J{TABLE}\nevery 2.000s, Ctrl-C to stop\n")
        );
        assert_eq!(
            watch_frame(&figures(), false, false, every),
            format!("\n{TABLE}")
        );
        let line = watch_frame(&figures(), true, true, every);
        assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
        let read: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(read, stats_json(&figures()));
    }
}
