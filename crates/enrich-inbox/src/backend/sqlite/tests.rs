//! The SQLite engine under faults only a test inside the crate can set up: a disk that fills
//! (`PRAGMA max_page_count` on the inbox's own connections), a writer connection left inside a
//! transaction, and the `PRAGMA`s the connections really run with.

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use enrich_webhook::Refusal;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

use super::SqliteBackend;
use crate::backend::{Backend, ConnectSettings, NewRecord};
use crate::error::{Error, StoreError};
use crate::record::{State, Stored};

/// A fresh SQLite file, removed (with its WAL and shared-memory files) when dropped.
struct TestFile(PathBuf);

impl TestFile {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "enrich_inbox_unit_{}_{name}.db",
            std::process::id()
        ));
        let file = Self(path);
        file.remove();
        file
    }

    fn url(&self) -> String {
        format!("sqlite:{}", self.0.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        self.remove();
    }
}

fn settings(synchronous_full: bool, pragmas: Vec<(&'static str, String)>) -> ConnectSettings {
    ConnectSettings {
        max_connections: 4,
        busy_timeout: Duration::from_secs(10),
        sqlite_synchronous_full: synchronous_full,
        sqlite_test_pragmas: pragmas,
    }
}

/// Every key stored in the file of `url` (opened anew, as after a restart).
async fn stored_keys(url: &str) -> HashSet<String> {
    let backend = Backend::open(url, &settings(true, Vec::new()))
        .await
        .expect("reopen the inbox");
    let keys = backend
        .list(State::Pending, i64::MAX)
        .await
        .expect("list the stored deliveries")
        .into_iter()
        .map(|delivery| delivery.key)
        .collect();
    backend.close().await;
    keys
}

/// A connection of its own to the file (no page limit), as another process would have.
async fn outside_connection(url: &str) -> SqliteConnection {
    let options = SqliteConnectOptions::from_str(url)
        .expect("a SQLite URL")
        .busy_timeout(Duration::from_secs(10));
    SqliteConnection::connect_with(&options)
        .await
        .expect("connect from outside")
}

/// Stores `keys` concurrently; the keys acknowledged, and how many failed (each failure checked
/// to be a `503` with `Retry-After`).
async fn store_all(
    backend: &std::sync::Arc<Backend>,
    keys: impl Iterator<Item = String>,
) -> (Vec<String>, usize) {
    let mut stores = tokio::task::JoinSet::new();
    for key in keys {
        let backend = backend.clone();
        stores.spawn(async move {
            let stored = backend.store(NewRecord::for_test(&key, 1500)).await;
            (key, stored)
        });
    }
    let (mut acknowledged, mut failed) = (Vec::new(), 0);
    for (key, stored) in stores.join_all().await {
        match stored {
            Ok(Stored::New(_)) => acknowledged.push(key),
            Ok(Stored::Duplicate) => panic!("every key is distinct"),
            Err(error) => {
                assert!(matches!(error, Error::Database(_)), "{error:?}");
                let rejection = Refusal::from(StoreError {
                    error,
                    retry_after_secs: 7,
                });
                assert!(
                    matches!(
                        rejection,
                        Refusal::StorageUnavailable {
                            retry_after_secs: 7
                        }
                    ),
                    "{rejection:?}"
                );
                failed += 1;
            }
        }
    }
    (acknowledged, failed)
}

/// A full disk (the inbox's connections may not grow the file past a few pages more than it
/// holds): stores fail with a storage error (`503`) while it is full, succeed again by
/// themselves once space is freed, and every store acknowledged is in the file afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_stores_then_they_succeed_again_by_themselves_and_none_is_lost() {
    let file = TestFile::new("full_disk");
    let url = file.url();
    // The schema, then ballast the test frees later (as a full disk's other files would be).
    Backend::open(&url, &settings(true, Vec::new()))
        .await
        .expect("create the inbox")
        .close()
        .await;
    let mut outside = outside_connection(&url).await;
    sqlx::query("CREATE TABLE ballast (filler BLOB)")
        .execute(&mut outside)
        .await
        .expect("create the ballast");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
         INSERT INTO ballast SELECT zeroblob(3000) FROM n",
    )
    .execute(&mut outside)
    .await
    .expect("fill the ballast");
    let pages: i64 = sqlx::query("PRAGMA page_count")
        .fetch_one(&mut outside)
        .await
        .expect("page count")
        .get(0);

    let limit = vec![("max_page_count", (pages + 10).to_string())];
    let backend = std::sync::Arc::new(
        Backend::open(&url, &settings(true, limit))
            .await
            .expect("open the inbox on the nearly full file"),
    );
    // 10 pages hold a few dozen rows of 1.5 KB: the disk fills up part way.
    let (mut acknowledged, failed) =
        store_all(&backend, (0..400).map(|index| format!("before-{index}"))).await;
    // (One batch may have taken them all and failed whole: then none is acknowledged.)
    assert!(failed > 0, "the disk never filled");
    // Fill what a batch that failed left free, one row at a time, until even one row fails.
    for index in 0.. {
        assert!(index < 100, "a lone row always fitted");
        let (fitted, _) = store_all(&backend, std::iter::once(format!("lone-{index}"))).await;
        if fitted.is_empty() {
            break;
        }
        acknowledged.extend(fitted);
    }
    // Full: nothing more is acknowledged, every store is a storage error.
    let (more, failed) = store_all(&backend, (0..50).map(|index| format!("full-{index}"))).await;
    assert_eq!(
        (more.len(), failed),
        (0, 50),
        "stores succeeded on a full disk"
    );

    // Space comes back (another process deletes its data); the inbox is not restarted.
    sqlx::query("DELETE FROM ballast")
        .execute(&mut outside)
        .await
        .expect("free the ballast");
    let (after, failed) = store_all(&backend, (0..200).map(|index| format!("after-{index}"))).await;
    assert_eq!(
        (after.len(), failed),
        (200, 0),
        "stores did not recover once space came back"
    );
    acknowledged.extend(after);
    backend.close().await;
    let _ = outside.close().await;

    let stored = stored_keys(&url).await;
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|key| !stored.contains(*key))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

/// A writer connection left inside a transaction (a transaction begun whose guard was lost, as a
/// cancelled `begin` leaves one) is never written on: the next lone write is still committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_connection_left_inside_a_transaction_is_replaced_before_the_next_write() {
    let file = TestFile::new("left_in_transaction");
    let url = file.url();
    let backend = SqliteBackend::open(&url, &settings(true, Vec::new()))
        .await
        .expect("open the inbox");
    backend
        .writer
        .write(|connection| {
            Box::pin(async move {
                let transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
                // Lost without a commit or a rollback.
                std::mem::forget(transaction);
                Ok(())
            })
        })
        .await
        .expect("begin a transaction and lose it");
    let backend = Backend::Sqlite(backend);
    let stored = backend
        .store(NewRecord::for_test("after", 10))
        .await
        .expect("store");
    assert!(stored.is_new());
    backend.close().await;
    assert!(
        stored_keys(&url).await.contains("after"),
        "the write acknowledged after the lost transaction was never committed"
    );
}

/// The connections the inbox writes and reads on run with the configured `synchronous` and in
/// WAL mode (a durability setting that silently did not apply would pass every crash test that
/// only kills the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_runs_with_the_configured_synchronous_and_wal() {
    for (full, expected) in [(true, 2_i64), (false, 1)] {
        let file = TestFile::new(&format!("pragmas_{full}"));
        let settings = settings(full, Vec::new());
        let backend = SqliteBackend::open(&file.url(), &settings)
            .await
            .expect("open the inbox");
        let on_writer = backend
            .writer
            .write(|connection| {
                Box::pin(async move {
                    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                        .fetch_one(&mut *connection)
                        .await?;
                    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                        .fetch_one(&mut *connection)
                        .await?;
                    Ok((synchronous, journal))
                })
            })
            .await
            .expect("read the writer's pragmas");
        assert_eq!(
            on_writer,
            (expected, "wal".to_owned()),
            "the writer connection"
        );
        // Every connection of the read pool at once, so that each is a distinct one.
        let mut readers = Vec::new();
        for _ in 0..settings.max_connections {
            readers.push(backend.pool.acquire().await.expect("a pooled connection"));
        }
        for reader in &mut readers {
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **reader)
                .await
                .expect("synchronous");
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **reader)
                .await
                .expect("journal_mode");
            assert_eq!(
                (synchronous, journal),
                (expected, "wal".to_owned()),
                "a reader"
            );
        }
        drop(readers);
        backend.close().await;
    }
}

/// The WAL's frame count and how many of them a checkpoint has copied into the database, read
/// from the WAL index (`-shm` file; SQLite's documented layout, native byte order: `mxFrame` at
/// byte 16 of the index header, `nBackfill` at byte 96), without checkpointing or locking.
fn wal_progress(file: &TestFile) -> (u32, u32) {
    let shm = std::fs::read(format!("{}-shm", file.0.display())).expect("read the WAL index");
    let word = |at: usize| u32::from_ne_bytes(shm[at..at + 4].try_into().expect("four bytes"));
    (word(16), word(96))
}

/// After the writer's commits, the WAL is checkpointed by another connection, while the writer
/// itself stays idle (its own threshold is far above SQLite's default of 1,000 pages, so the
/// checkpoints never run inside its commits); and since every checkpoint copies the whole WAL,
/// the writer starts it over, so the file stays the size of a few commits, never the 1,000 pages
/// a checkpointing writer lets it grow to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_beside_the_writer_after_its_commits() {
    let file = TestFile::new("checkpoints");
    let backend = SqliteBackend::open(&file.url(), &settings(false, Vec::new()))
        .await
        .expect("open the inbox");
    let threshold: i64 = backend
        .writer
        .write(|connection| {
            Box::pin(async move {
                Ok(sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                    .fetch_one(connection)
                    .await?)
            })
        })
        .await
        .expect("the writer's threshold");
    assert_eq!(
        threshold,
        i64::from(super::checkpoint::WRITER_AUTOCHECKPOINT_PAGES),
        "the writer checkpoints inside its commits at SQLite's default threshold"
    );
    let backend = std::sync::Arc::new(Backend::Sqlite(backend));
    // 30 rounds of 100 stores of 1.5 KB: about 3,000 WAL pages in all.
    for round in 0..30 {
        let (acknowledged, failed) = store_all(
            &backend,
            (0..100).map(|index| format!("round-{round}-{index}")),
        )
        .await;
        assert_eq!((acknowledged.len(), failed), (100, 0));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (frames, copied) = wal_progress(&file);
            if frames > 0 && copied == frames {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: {copied} of {frames} WAL frames checkpointed after the writer's commits"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let wal_bytes = std::fs::metadata(format!("{}-wal", file.0.display()))
        .expect("the WAL file")
        .len();
    let frame_bytes = 24 + 4096;
    assert!(
        wal_bytes < 500 * frame_bytes,
        "the WAL grew to {} pages",
        wal_bytes / frame_bytes
    );
    backend.close().await;
}
