//! The page in a real browser: headless Chromium driven through chromedriver (WebDriver, with
//! `fantoccini`), against an axum receiver that stores signed webhooks in a SQLite inbox and
//! mounts the page at `/admin`. One browser session runs every scenario, in order.
//!
//! Without chromedriver on the `PATH` (or at `CHROMEDRIVER`) the test says so and passes,
//! unless `ENRICH_REQUIRE_BROWSER=1` (CI sets it), which makes that a failure. Screenshots of
//! the overview and the dead letters go to `target/admin-screenshots/`.

#[path = "../../enrich-inbox/tests/support/mod.rs"]
#[macro_use]
mod support;
mod page;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use enrich_axum::{Refusal, WebhookConfig, WebhookDelivery, WebhookRefusal};
use enrich_inbox::{DeliveryId, Inbox, Job, State, Worker, WorkerConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use http::StatusCode;
use page::{OPERATOR, person};
use support::{SECRET, eventually};
use tower::ServiceExt;

/// Set to `1` to make a missing chromedriver a failure instead of a skip.
const REQUIRE_BROWSER: &str = "ENRICH_REQUIRE_BROWSER";

/// How many people the enrichment through the fake API has (its seed drops three of them).
const PEOPLE: usize = 7;

/// The markup a stored name holds.
const MARKUP: &str = "<img src=x onerror=alert(1)>";

/// chromedriver, stopped when dropped.
struct Driver(Child, SocketAddr);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver on a free port; `None` (after saying why) when there is none.
async fn chromedriver() -> Option<Driver> {
    let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) => {
            let message = format!(
                "the browser tests need chromedriver and Chromium (Debian: apt-get install \
                 chromium chromium-driver); `{program}` cannot run: {error}"
            );
            if std::env::var(REQUIRE_BROWSER).is_ok_and(|value| value == "1") {
                panic!("{REQUIRE_BROWSER}=1 but {message}");
            }
            eprintln!("SKIPPED: {message} (set {REQUIRE_BROWSER}=1 to make this a failure)");
            return None;
        }
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let driver = Driver(child, address);
    eventually("chromedriver to listen", || async {
        tokio::net::TcpStream::connect(address)
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    Some(driver)
}

/// A headless Chromium session.
async fn browser(driver: &Driver) -> Client {
    let mut options = serde_json::json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900"],
    });
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = "/usr/bin/chromium".into();
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://{}", driver.1))
        .await
        .expect("a Chromium session through chromedriver")
}

/// The receiver: `POST /webhook` stores verified deliveries in `inbox`; `/admin` is the page,
/// asking the API through `client`.
fn receiver(inbox: &Inbox, client: enrich_client::Client) -> Router {
    let store = inbox.clone();
    let webhook = move |delivery: WebhookDelivery| {
        let inbox = store.clone();
        async move {
            inbox
                .store(&delivery.0)
                .await
                .map(|_| StatusCode::OK)
                .map_err(|error| WebhookRefusal(Refusal::from(error)))
        }
    };
    Router::new()
        .route("/webhook", post(webhook))
        .with_state(WebhookConfig::with_secret(SECRET).expect("a valid secret"))
        .merge(page::mount(page::admin(inbox).reconcile_with(client)))
}

/// Delivers `body` to the receiver as the API would (signed), expecting `200`.
async fn deliver(app: &Router, body: &str) {
    let signed = enrich_webhook::testing::SignedRequest::builder(body)
        .secret(SECRET)
        .build();
    let request = enrich_webhook::testing::request("/webhook", signed);
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
}

/// The id of the only delivery of `external_id`.
async fn id_of(inbox: &Inbox, external_id: &str) -> DeliveryId {
    for state in State::ALL {
        for delivery in inbox.list(state, 1000).await.expect("list") {
            if delivery.external_id.as_deref() == Some(external_id) {
                return delivery.id;
            }
        }
    }
    panic!("no delivery of {external_id}");
}

/// A worker that fails `fail-…` people while `failing` is set, one attempt each.
fn worker(inbox: &Inbox, failing: Arc<AtomicBool>) -> enrich_inbox::WorkerHandle {
    Worker::new(inbox.clone(), move |job: Job| {
        let fail = failing.load(Ordering::SeqCst)
            && job
                .delivery()
                .external_id
                .as_deref()
                .is_some_and(|id| id.starts_with("fail-"));
        async move {
            if fail {
                Err(std::io::Error::other(
                    "the CRM refused the update (HTTP 422)",
                ))
            } else {
                Ok(())
            }
        }
    })
    .config(
        WorkerConfig::default()
            .max_attempts(1)
            .poll_interval(Duration::from_millis(20)),
    )
    .spawn()
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/admin-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

/// No alert is open (a script that ran would have opened one).
async fn assert_no_alert(browser: &Client, where_: &str) {
    assert!(
        browser.get_alert_text().await.is_err(),
        "an alert opened on {where_}: a script ran"
    );
}

/// The element `css` finds, waiting up to 10 s for it to appear (a click that posts a form
/// returns before the next page has loaded).
async fn element(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
}

/// Clicks the element `css` finds.
async fn click(browser: &Client, css: &str) {
    element(browser, css).await.click().await.expect("click");
}

/// Writes a PNG of the window to `path`.
async fn screenshot(browser: &Client, path: &std::path::Path) {
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(path, png).expect("write the screenshot");
}

/// The text of the element `css` finds.
async fn text_of(browser: &Client, css: &str) -> String {
    element(browser, css).await.text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_headless_chromium() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let db = support::TestDb::sqlite("browser");
    let inbox = Inbox::open(&db.url).await.expect("open the inbox");
    let sim = support::sim::start_sim().await;
    let app = receiver(&inbox, support::sim::client(&sim));
    for n in 1..=4 {
        deliver(&app, &person("e-browser", &format!("fail-{n}"), "Grace")).await;
    }
    deliver(&app, &person("e-browser", "xss-1", MARKUP)).await;
    deliver(&app, &person("e-browser", "ok-1", "Alan")).await;
    let failing = Arc::new(AtomicBool::new(true));
    let first = worker(&inbox, failing.clone());
    eventually("4 dead letters and 2 done", || async {
        let counts = inbox.counts().await.unwrap();
        (counts.dead == 4 && counts.done == 2).then_some(())
    })
    .await;
    first.shutdown(Duration::from_secs(10)).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_address = listener.local_addr().unwrap();
    let base = format!("http://{server_address}/admin");
    let server = tokio::spawn(axum::serve(listener, app.clone()).into_future());
    let browser = browser(&driver).await;
    let shots = screenshots();

    // 1. Without credentials: the login form, no data.
    browser.goto(&format!("{base}/dead")).await.unwrap();
    let source = browser.source().await.unwrap();
    assert!(source.contains("type=\"password\""), "{source}");
    assert!(
        !source.contains("fail-1") && !source.contains("Grace"),
        "{source}"
    );

    // 2. Sign in.
    browser
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(OPERATOR)
        .await
        .unwrap();
    click(&browser, "form button[type=submit]").await;
    assert!(text_of(&browser, "#count-dead").await == "4");
    screenshot(&browser, &shots.join("overview.png")).await;

    // 3. A form posted without its CSRF token is refused, and changes nothing.
    browser.goto(&format!("{base}/dead")).await.unwrap();
    screenshot(&browser, &shots.join("dead-letters.png")).await;
    let fail_1 = id_of(&inbox, "fail-1").await;
    browser
        .execute(
            "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())",
            vec![],
        )
        .await
        .unwrap();
    let retry_1 = format!("tr[data-id='{fail_1}'] button");
    click(&browser, &retry_1).await;
    let refusal = element(&browser, "[data-code]").await;
    assert_eq!(
        refusal.attr("data-code").await.unwrap().as_deref(),
        Some("csrf_invalid")
    );
    assert_eq!(inbox.get(fail_1).await.unwrap().unwrap().state, State::Dead);

    // 4. "Retry" on a dead letter puts it back in line.
    browser.goto(&format!("{base}/dead")).await.unwrap();
    click(&browser, &retry_1).await;
    assert_eq!(text_of(&browser, "#state").await, "pending");
    assert_eq!(
        inbox.get(fail_1).await.unwrap().unwrap().state,
        State::Pending
    );

    // 5. "Retry all" asks first, then requeues exactly the dead letters.
    browser.goto(&format!("{base}/dead")).await.unwrap();
    click(&browser, "#retry-all").await;
    assert_eq!(text_of(&browser, "#confirm-count").await, "3");
    let counts = inbox.counts().await.unwrap();
    assert_eq!(
        (counts.dead, counts.pending, counts.done),
        (3, 1, 2),
        "asking changes nothing"
    );
    click(&browser, "#confirm").await;
    assert!(
        text_of(&browser, "#requeued")
            .await
            .starts_with("3 dead letter(s)")
    );
    let counts = inbox.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending, counts.done), (0, 4, 2));

    // 6. A running worker processes what was requeued; the page shows it.
    failing.store(false, Ordering::SeqCst);
    let healthy = worker(&inbox, failing.clone());
    eventually("the requeued deliveries to be processed", || async {
        (inbox.counts().await.unwrap().done == 6).then_some(())
    })
    .await;
    browser
        .goto(&format!("{base}/deliveries/{fail_1}"))
        .await
        .unwrap();
    assert_eq!(text_of(&browser, "#state").await, "done");
    healthy.shutdown(Duration::from_secs(10)).await;

    // 7. Markup in a stored name renders as text and runs nothing, redacted or in full.
    let xss = id_of(&inbox, "xss-1").await;
    for path in [
        format!("/deliveries/{xss}"),
        format!("/deliveries/{xss}?body=full"),
    ] {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        assert_no_alert(&browser, &path).await;
        assert!(
            browser
                .find_all(Locator::Css("img"))
                .await
                .unwrap()
                .is_empty(),
            "{path}"
        );
    }
    assert!(
        text_of(&browser, "#body").await.contains(MARKUP),
        "shown as text"
    );

    // 8. An enrichment through the fake API, which drops three people: once the API is asked,
    //    the enrichments view shows them missing; after "reconcile now", none.
    let webhook = format!("http://{server_address}/webhook");
    let enrichment = support::sim::enrich(&sim, &webhook, PEOPLE, 0).await;
    let dropped = support::sim::dropped(&sim, &enrichment);
    assert_eq!(
        dropped.len(),
        3,
        "the fake's seed drops three of {PEOPLE}: {dropped:?}"
    );
    let row = format!("tr[data-enrichment='{enrichment}']");
    browser.goto(&format!("{base}/enrichments")).await.unwrap();
    let received = text_of(&browser, &format!("{row} td.received")).await;
    assert_eq!(received.parse::<usize>().unwrap(), PEOPLE - 3);
    assert_eq!(
        text_of(&browser, &format!("{row} td.missing")).await,
        "—",
        "not asked yet"
    );
    click(&browser, &format!("{row} button.check")).await;
    assert_eq!(
        text_of(&browser, &format!("{row} .missing-count")).await,
        "3"
    );
    let mut listed = std::collections::BTreeSet::new();
    for item in browser
        .find_all(Locator::Css(&format!("{row} .missing-ids li")))
        .await
        .unwrap()
    {
        listed.insert(item.text().await.unwrap());
    }
    assert_eq!(listed, dropped, "the missing people are the dropped ones");
    screenshot(&browser, &shots.join("enrichments.png")).await;
    click(&browser, &format!("{row} button.reconcile")).await;
    assert!(
        text_of(&browser, "#notice")
            .await
            .contains("3 missing people stored")
    );
    assert_eq!(
        text_of(&browser, &format!("{row} .missing-count")).await,
        "0"
    );
    assert_eq!(support::sim::reconciled(&inbox, &enrichment).await, dropped);

    browser.close().await.unwrap();
    server.abort();
    inbox.close().await;
}
