//! Storing under faults: callers cancelled mid-commit, a database connection cut and restored,
//! a Postgres store group failing mid-way or refused for one delivery, processes opening one
//! fresh file at once, an in-memory database, out-of-range options.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enrich_inbox::{Error, Inbox, InboxConfig, Job, StoreError, Stored, Worker, WorkerConfig};
use enrich_webhook::{Delivery, Refusal};
use sqlx::Connection;
use support::{delivery, eventually, person_body, stored_people};

/// What one caller of [`stores_some_cancelled`] saw.
#[derive(Default)]
struct Outcomes {
    /// People whose store returned `Ok` (new or duplicate).
    acknowledged: Vec<String>,
    /// Stores whose caller gave up (its future dropped at a random point).
    cancelled: usize,
    /// Errors returned to callers that did not give up.
    errors: Vec<String>,
}

/// Polls `future` until it is ready or has been woken `wakes` times, then drops it.
async fn poll_at_most<F: std::future::Future>(future: F, wakes: usize) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut left = wakes;
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
        std::task::Poll::Pending if left == 0 => std::task::Poll::Ready(None),
        std::task::Poll::Pending => {
            left -= 1;
            std::task::Poll::Pending
        }
    })
    .await
}

/// `tasks` concurrent callers storing `per_task` distinct people each; half the stores
/// are dropped at a random point (a sender disconnecting, a timeout layer firing).
async fn stores_some_cancelled(
    inbox: &Inbox,
    tag: &str,
    tasks: usize,
    per_task: usize,
) -> Outcomes {
    let mut callers = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let inbox = inbox.clone();
        let tag = tag.to_owned();
        callers.spawn(async move {
            let mut outcomes = Outcomes::default();
            for index in 0..per_task {
                let person = format!("{tag}-{task}-{index}");
                let delivery = delivery(&person_body("batch", &person));
                let store = inbox.store(&delivery);
                let stored = match fastrand::u8(0..4) {
                    // Dropped after a random number of wake-ups: at any point of its commit.
                    0 => poll_at_most(store, fastrand::usize(0..8)).await,
                    // Dropped after a random 0–3 ms.
                    1 => tokio::time::timeout(Duration::from_micros(fastrand::u64(0..3000)), store)
                        .await
                        .ok(),
                    _ => Some(store.await),
                };
                let Some(stored) = stored else {
                    outcomes.cancelled += 1;
                    continue;
                };
                match stored {
                    Ok(_) => outcomes.acknowledged.push(person),
                    Err(error) => outcomes.errors.push(error.to_string()),
                }
            }
            outcomes
        });
    }
    let mut all = Outcomes::default();
    for outcomes in callers.join_all().await {
        all.acknowledged.extend(outcomes.acknowledged);
        all.cancelled += outcomes.cancelled;
        all.errors.extend(outcomes.errors);
    }
    all
}

on_both_engines! {
    async fn stores_cancelled_at_random_points_lose_no_acknowledged_delivery_and_wedge_nothing(db) {
        let inbox = Inbox::open(&db.url).await.expect("open the inbox");
        let outcomes = stores_some_cancelled(&inbox, "burst", 64, 40).await;
        assert!(outcomes.cancelled > 0, "no store was cancelled");
        assert!(!outcomes.acknowledged.is_empty(), "no store was acknowledged");
        // No caller that waited got an error (`Interrupted` or any other).
        assert!(outcomes.errors.is_empty(), "{} errors: {:?}", outcomes.errors.len(), &outcomes.errors[..outcomes.errors.len().min(5)]);
        // Not wedged: the same inbox goes on storing.
        let after = delivery(&person_body("batch", "after-the-burst"));
        assert!(inbox.store(&after).await.expect("a store after the burst").is_new());
        inbox.close().await;

        let stored = stored_people(&db.url).await;
        let lost: Vec<_> = outcomes.acknowledged.iter().filter(|person| !stored.contains(*person)).collect();
        assert!(lost.is_empty(), "{} of {} acknowledged deliveries lost, e.g. {:?}", lost.len(), outcomes.acknowledged.len(), &lost[..lost.len().min(5)]);
        assert!(stored.contains("after-the-burst"));
    }

    async fn a_busy_timeout_beyond_the_longest_is_refused_with_a_clear_error(db) {
        let too_long = InboxConfig::default().busy_timeout(Duration::from_secs(30 * 86_400));
        let error = Inbox::open_with(&db.url, too_long).await.expect_err("refused");
        assert!(
            matches!(error, Error::InvalidOption { option: "busy_timeout", .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("busy_timeout"), "{error}");
        let longest = InboxConfig::default().busy_timeout(InboxConfig::MAX_BUSY_TIMEOUT);
        let inbox = Inbox::open_with(&db.url, longest).await.expect("the longest busy timeout");
        assert!(inbox.store(&delivery(&person_body("batch", "p"))).await.expect("store").is_new());
        inbox.close().await;
    }
}

/// `sqlite::memory:` is one database shared by every connection of the inbox: stores land,
/// reads see them, the worker processes them; another inbox on `sqlite::memory:` is another
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_sqlite_inbox_stores_reads_and_processes() {
    let inbox = Inbox::open("sqlite::memory:")
        .await
        .expect("open in memory");
    let mut stores = tokio::task::JoinSet::new();
    for index in 0..50 {
        let inbox = inbox.clone();
        let delivery = delivery(&person_body("batch", &format!("person-{index}")));
        stores.spawn(async move { inbox.store(&delivery).await.expect("store in memory") });
    }
    assert!(stores.join_all().await.iter().all(Stored::is_new));
    assert_eq!(inbox.counts().await.expect("counts").pending, 50);
    let other = Inbox::open("sqlite::memory:")
        .await
        .expect("another in memory");
    assert_eq!(other.counts().await.expect("counts").total(), 0);
    other.close().await;

    let worker = Worker::new(inbox.clone(), |_job: Job| async {
        Ok::<(), std::io::Error>(())
    })
    .config(WorkerConfig::default().poll_interval(Duration::from_millis(20)))
    .spawn();
    eventually("every in-memory delivery to be processed", || async {
        (inbox.counts().await.expect("counts").done == 50).then_some(())
    })
    .await;
    worker.shutdown(Duration::from_secs(10)).await;
    inbox.close().await;
}

/// Set (to the file's URL and a start time) in the processes
/// [`a_fresh_file_opened_by_many_processes_at_once_opens_in_every_one`] starts.
const OPEN_CHILD: &str = "ENRICH_TEST_OPEN_CHILD";

/// Several processes, each opening the inbox several times at once, on one fresh file: every
/// open succeeds (the switch to WAL is retried while another process holds the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_file_opened_by_many_processes_at_once_opens_in_every_one() {
    if let Ok(child) = std::env::var(OPEN_CHILD) {
        return open_as_child(&child).await;
    }
    const ROUNDS: usize = 6;
    const PROCESSES: usize = 6;
    let exe = std::env::current_exe().expect("this test binary");
    for round in 0..ROUNDS {
        let db = support::TestDb::sqlite(&format!("opened_at_once_{round}"));
        let start_at = std::time::SystemTime::now() + Duration::from_millis(300);
        let start_ms = start_at
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "a_fresh_file_opened_by_many_processes_at_once_opens_in_every_one",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(OPEN_CHILD, format!("{start_ms} {}", db.url))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start a child process")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("wait for a child");
            assert!(
                output.status.success(),
                "round {round}: a process failed to open the fresh file:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// In a child process: waits for the start time, opens the inbox at the URL four times at once,
/// stores through each.
async fn open_as_child(child: &str) {
    let (start_ms, url) = child.split_once(' ').expect("start time and URL");
    let start = std::time::UNIX_EPOCH + Duration::from_millis(start_ms.parse().expect("ms"));
    if let Ok(wait) = start.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
    let opens = (0..4).map(|_| {
        let url = url.to_owned();
        async move { Inbox::open(&url).await }
    });
    for (index, opened) in futures_join_all(opens).await.into_iter().enumerate() {
        let inbox = opened.unwrap_or_else(|error| panic!("open {index} failed: {error}"));
        let person = format!("{}-{index}", std::process::id());
        inbox
            .store(&delivery(&person_body("batch", &person)))
            .await
            .unwrap_or_else(|error| panic!("store {index} failed: {error}"));
        inbox.close().await;
    }
}

/// Runs the futures concurrently; their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("an open task"));
    }
    outputs
}

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').expect("a database name");
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{addr}/{path}")
}

/// The host and port of `url`.
fn upstream(url: &str) -> std::net::SocketAddr {
    let (_, rest) = url.split_once("://").expect("a URL");
    let (authority, _) = rest.split_once('/').expect("a database name");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host)
        .expect("resolve the Postgres host")
        .next()
        .expect("an address")
}

/// When a store started and ended, and what it answered.
struct Answer {
    person: String,
    started: Instant,
    ended: Instant,
    stored: Result<Stored, Refusal>,
}

/// Postgres goes away for three seconds in the middle of a stream of stores at concurrency 32
/// with the worker running (a proxy in the test cuts every connection): every store made while
/// it is away answers `503` `storage_unavailable` with `Retry-After`, never `Ok`; the pool
/// recovers by itself within seconds of its return; every delivery stored `Ok` is processed,
/// and none more than twice (once more only when the outcome of a run was lost in the cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_and_coming_back_mid_stream() {
    let Some(db) = support::TestDb::postgres("postgres_going_away_and_coming_back").await else {
        return;
    };
    let proxy = support::proxy::Proxy::start(upstream(&db.url)).await;
    let options = InboxConfig::default()
        .busy_timeout(Duration::from_secs(1))
        .retry_after(Duration::from_secs(5));
    let inbox = Inbox::open_with(&through(&db.url, proxy.addr), options)
        .await
        .expect("open through the proxy");
    let runs: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counted = runs.clone();
    let worker = Worker::new(inbox.clone(), move |job: Job| {
        let counted = counted.clone();
        async move {
            let person = job.delivery().external_id.clone().unwrap_or_default();
            *counted.lock().expect("runs").entry(person).or_default() += 1;
            Ok::<(), std::io::Error>(())
        }
    })
    .config(
        WorkerConfig::default()
            .concurrency(8)
            .lease(Duration::from_secs(3))
            .poll_interval(Duration::from_millis(50)),
    )
    .spawn();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..32 {
        let (inbox, stop) = (inbox.clone(), stop.clone());
        senders.spawn(async move {
            let mut answers = Vec::new();
            for index in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let person = format!("stream-{sender}-{index}");
                let delivery = delivery(&person_body("batch", &person));
                let started = Instant::now();
                let stored = inbox.store(&delivery).await.map_err(Refusal::from);
                answers.push(Answer {
                    person,
                    started,
                    ended: Instant::now(),
                    stored,
                });
                if answers.last().is_some_and(|answer| answer.stored.is_err()) {
                    // As a sender told to retry later would: not a busy loop.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            answers
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cut_at = Instant::now();
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restored_at = Instant::now();
    proxy.restore();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let answers: Vec<Answer> = senders.join_all().await.into_iter().flatten().collect();

    let during: Vec<_> = answers
        .iter()
        .filter(|answer| answer.started >= cut_at && answer.ended <= restored_at)
        .collect();
    assert!(
        during.len() >= 32,
        "only {} stores were made during the cut",
        during.len()
    );
    for answer in &during {
        assert!(
            matches!(
                answer.stored,
                Err(Refusal::StorageUnavailable {
                    retry_after_secs: 5
                })
            ),
            "a store during the cut answered {:?}",
            answer.stored
        );
    }
    let recovered = answers
        .iter()
        .filter(|answer| answer.started >= restored_at && answer.stored.is_ok())
        .map(|answer| answer.ended)
        .min()
        .expect("no store succeeded after Postgres came back");
    assert!(
        recovered - restored_at < Duration::from_secs(3),
        "the first store after Postgres came back succeeded only after {:?}",
        recovered - restored_at
    );
    let late_failures = answers
        .iter()
        .filter(|answer| {
            answer.started >= restored_at + Duration::from_secs(3) && answer.stored.is_err()
        })
        .count();
    assert_eq!(
        late_failures, 0,
        "stores still failed 3 s after Postgres came back"
    );

    let acknowledged: Vec<&str> = answers
        .iter()
        .filter(|answer| answer.stored.is_ok())
        .map(|answer| answer.person.as_str())
        .collect();
    eventually("every acknowledged delivery to be processed", || async {
        let runs = runs.lock().expect("runs");
        acknowledged
            .iter()
            .all(|person| runs.contains_key(*person))
            .then_some(())
    })
    .await;
    eventually("the inbox to drain", || async {
        let counts = inbox.counts().await.ok()?;
        (counts.pending == 0 && counts.processing == 0).then_some(())
    })
    .await;
    worker.shutdown(Duration::from_secs(10)).await;
    let most = runs
        .lock()
        .expect("runs")
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    assert!(most <= 2, "a delivery was processed {most} times");
    inbox.close().await;
}

/// Runs `futures` concurrently on this task; their outputs in order. Its first poll polls each
/// future once, in order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_ready = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => all_ready = false,
                }
            }
        }
        if all_ready {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// An inbox on the Postgres test database `db` whose pool of 2 connections runs one store
/// group at a time (half the pool).
async fn one_group_at_a_time(db: &support::TestDb) -> Inbox {
    Inbox::open_with(&db.url, InboxConfig::default().max_connections(2))
        .await
        .expect("open the inbox")
}

/// Stores the deliveries of `people` as one group, deterministically, through `inbox` (of
/// [`one_group_at_a_time`]); their answers in order. Another connection holds a `SHARE` lock on
/// the table, which an insert waits for: a first store starts and waits; every store of `people`
/// is then queued (a store joins the queue when first polled) behind it; the lock is released,
/// the first store commits (it must be new), and the group's task takes everything queued as
/// the next group.
async fn stores_in_one_group(
    db: &support::TestDb,
    inbox: &Inbox,
    people: &[(String, Delivery)],
) -> Vec<Result<Stored, StoreError>> {
    let mut lock = sqlx::PgConnection::connect(&db.url)
        .await
        .expect("a connection to hold the lock");
    sqlx::query("BEGIN")
        .execute(&mut lock)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE enrich_inbox_deliveries IN SHARE MODE")
        .execute(&mut lock)
        .await
        .expect("lock the table");
    let first = {
        let inbox = inbox.clone();
        let delivery = delivery(&person_body("batch", "held-by-the-lock"));
        tokio::spawn(async move { inbox.store(&delivery).await })
    };
    eventually("the first store to wait for the lock", || async {
        let waiting = db
            .text(
                "SELECT CAST(COUNT(*) AS TEXT) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await;
        (waiting.as_deref() != Some("0")).then_some(())
    })
    .await;
    let mut group = std::pin::pin!(join_all(
        people
            .iter()
            .map(|(_, delivery)| inbox.store(delivery))
            .collect()
    ));
    // One poll queues every store of the group behind the first.
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(group.as_mut().poll(cx))).await;
    assert!(
        polled.is_pending(),
        "the group was answered while the table was locked"
    );
    sqlx::query("COMMIT")
        .execute(&mut lock)
        .await
        .expect("release the lock");
    let group = group.await;
    let first = first.await.expect("the first store's task");
    assert!(first.expect("the first store").is_new());
    group
}

/// `count` deliveries of distinct people `<tag>-<index>`, the one at `odd_one` being
/// `odd_person` instead.
fn people(tag: &str, count: usize, odd_one: usize, odd_person: &str) -> Vec<(String, Delivery)> {
    (0..count)
        .map(|index| {
            let person = if index == odd_one {
                odd_person.to_owned()
            } else {
                format!("{tag}-{index}")
            };
            let delivery = delivery(&person_body("batch", &person));
            (person, delivery)
        })
        .collect()
}

/// A Postgres store group whose statement fails mid-way (a trigger raises "disk full" at its
/// eleventh row, after ten rows were inserted) answers every caller in it an error, `503`
/// `storage_unavailable`, and none `Ok`; none of its rows is stored; the next group stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_group_failing_mid_way_answers_every_caller_an_error() {
    let Some(db) = support::TestDb::postgres("a_postgres_store_group_failing_mid_way").await else {
        return;
    };
    let inbox = one_group_at_a_time(&db).await;
    db.execute(
        "CREATE FUNCTION fail_mid_way() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.external_id = 'mid-way' THEN \
             RAISE EXCEPTION 'no space left on device' USING ERRCODE = 'disk_full'; \
           END IF; \
           RETURN NEW; \
         END $$",
    )
    .await;
    db.execute(
        "CREATE TRIGGER fail_mid_way BEFORE INSERT ON enrich_inbox_deliveries \
         FOR EACH ROW EXECUTE FUNCTION fail_mid_way()",
    )
    .await;
    let people = people("group", 20, 10, "mid-way");
    let answers = stores_in_one_group(&db, &inbox, &people).await;
    assert_eq!(answers.len(), people.len());
    for ((person, _), answer) in people.iter().zip(answers) {
        let error = answer.expect_err(&format!("{person} of the failed group was answered Ok"));
        assert!(
            matches!(Refusal::from(error), Refusal::StorageUnavailable { .. }),
            "{person}"
        );
    }
    let stored = stored_people(&db.url).await;
    assert_eq!(stored, HashSet::from(["held-by-the-lock".to_owned()]));

    // Not wedged: the group's deliveries but the one at fault store, in one group again.
    let healthy: Vec<Delivery> = people
        .iter()
        .filter(|(person, _)| person != "mid-way")
        .map(|(_, delivery)| delivery.clone())
        .collect();
    let again = join_all(
        healthy
            .iter()
            .map(|delivery| inbox.store(delivery))
            .collect(),
    )
    .await;
    assert!(
        again
            .iter()
            .all(|stored| stored.as_ref().is_ok_and(Stored::is_new))
    );
    inbox.close().await;
    assert_eq!(stored_people(&db.url).await.len(), 1 + healthy.len());
}

/// A Postgres store group refused for one delivery's values (a NUL character in its external id,
/// which Postgres text cannot hold) stores the others: only that delivery's caller gets an error,
/// as when each store was its own statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_postgres_refuses_fails_alone_not_its_group() {
    let Some(db) = support::TestDb::postgres("a_delivery_postgres_refuses_fails_alone").await
    else {
        return;
    };
    let inbox = one_group_at_a_time(&db).await;
    // `\u0000` in the JSON body: a NUL in the decoded external id.
    let people = people("refused", 20, 7, "nul\\u0000");
    let answers = stores_in_one_group(&db, &inbox, &people).await;
    for (index, ((person, _), answer)) in people.iter().zip(answers).enumerate() {
        if index == 7 {
            assert!(answer.is_err(), "a NUL in a text column was stored");
        } else {
            assert!(answer.expect(person).is_new(), "{person}");
        }
    }
    inbox.close().await;
    assert_eq!(stored_people(&db.url).await.len(), 1 + people.len() - 1);
}
