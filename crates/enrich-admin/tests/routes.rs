//! Every route of the page and every refusal, in process (tower `oneshot`), on a real inbox:
//! SQLite files and Postgres databases. Each protection has a test that fails without it.

#[path = "../../enrich-inbox/tests/support/mod.rs"]
#[macro_use]
mod support;
mod page;

use enrich_admin::{Access, Admin, CONTENT_SECURITY_POLICY_VALUE};
use enrich_inbox::{Inbox, State};
use http::StatusCode;
use page::{Client, MOUNT, OPERATOR, READER, app, person, process_all, store};

async fn open(db: &support::TestDb) -> Inbox {
    Inbox::open(&db.url).await.expect("open the inbox")
}

/// Personal values of the stored bodies, none of which may appear where they must not.
const PERSONAL: [&str; 4] = ["Lovelace", "ada.lovelace@example.com", "7946", "Augusta"];

fn assert_no_personal(text: &str, place: &str) {
    for value in PERSONAL {
        assert!(!text.contains(value), "{value:?} in {place}: {text}");
    }
}

fn assert_secure_headers(reply: &page::Reply, what: &str) {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} on {what}"))
            .to_owned()
    };
    let csp = header("content-security-policy");
    assert_eq!(csp, CONTENT_SECURITY_POLICY_VALUE, "{what}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
}

/// Every page a reader can GET, given a delivery id.
fn pages(id: impl std::fmt::Display) -> Vec<String> {
    vec![
        "/".into(),
        "/dead".into(),
        "/dead/retry-all".into(),
        "/deliveries?state=done".into(),
        "/deliveries?state=dead".into(),
        format!("/deliveries/{id}"),
        format!("/deliveries/{id}?body=full"),
    ]
}

#[tokio::test]
async fn a_page_without_an_authorisation_hook_answers_403_and_no_data() {
    let db = support::TestDb::sqlite("closed");
    let inbox = open(&db).await;
    let id = store(&inbox, &person("e-1", "crm-closed", "Augusta")).await;
    let closed = Admin::new(inbox.clone()).router().expect("randomness");
    let app = axum::Router::new().nest_service(MOUNT, closed);
    for path in pages(id) {
        for mut client in [
            Client::new(app.clone()),
            Client::bearer(app.clone(), OPERATOR),
        ] {
            let reply = client.get(&path).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
            assert_no_personal(&reply.body, &path);
            assert!(!reply.body.contains("crm-closed"), "{path}");
            assert_secure_headers(&reply, &path);
        }
    }
    let reply = Client::bearer(app, OPERATOR)
        .post(&format!("/deliveries/{id}/retry"), &[])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_hook_decides_per_request() {
    let db = support::TestDb::sqlite("hook");
    let inbox = open(&db).await;
    let hook = |request: &http::request::Parts| match request.headers.get("x-user") {
        Some(user) if user == "ops" => Access::Operator,
        Some(_) => Access::Forbidden,
        None => Access::Unauthenticated,
    };
    let admin = Admin::new(inbox)
        .authorize(hook)
        .router()
        .expect("randomness");
    let app = axum::Router::new().nest_service(MOUNT, admin);
    let mut anonymous = Client::new(app.clone());
    let reply = anonymous.get("/").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // This hook has no login form: none is shown, and `/login` does not exist.
    assert!(!reply.body.contains("type=\"password\""));
    assert_eq!(anonymous.get("/login").await.status, StatusCode::NOT_FOUND);
    let mut stranger = Client::new(app.clone());
    stranger.extra.push(("x-user", "eve".into()));
    assert_eq!(stranger.get("/").await.status, StatusCode::FORBIDDEN);
    let mut ops = Client::new(app);
    ops.extra.push(("x-user", "ops".into()));
    assert_eq!(ops.get("/").await.status, StatusCode::OK);
}

on_both_engines! {
    async fn without_credentials_every_page_is_401_with_the_login_form_and_no_data(db) {
        let inbox = open(db).await;
        let id = store(&inbox, &person("e-1", "crm-anon", "Augusta")).await;
        let app = app(&inbox);
        for path in pages(id) {
            let reply = Client::new(app.clone()).get(&path).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(reply.headers["www-authenticate"], "Bearer realm=\"enrich-admin\"");
            assert!(reply.body.contains("type=\"password\""), "{path}: the login form");
            assert!(!reply.body.contains("crm-anon"), "{path}");
            assert_no_personal(&reply.body, &path);
            assert_secure_headers(&reply, &path);
        }
        // Scripts asking for JSON get a problem document.
        let mut script = Client::new(app.clone());
        script.extra.push(("accept", "application/json".into()));
        let reply = script.get("/dead").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        let problem: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
        assert_eq!(problem["code"], "unauthenticated");
        // Posting changes nothing either.
        process_all(&inbox, true, State::Dead, 1).await;
        let reply = Client::new(app).post(&format!("/deliveries/{id}/retry"), &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(inbox.counts().await.unwrap().dead, 1);
    }

    async fn a_wrong_token_or_session_is_refused_and_the_right_ones_are_let_in(db) {
        let inbox = open(db).await;
        let app = app(&inbox);
        assert_eq!(Client::bearer(app.clone(), "wrong").get("/").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            Client::bearer(app.clone(), &format!("{OPERATOR}x")).get("/").await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(Client::bearer(app.clone(), OPERATOR).get("/").await.status, StatusCode::OK);
        assert_eq!(Client::bearer(app.clone(), READER).get("/").await.status, StatusCode::OK);

        let mut forged = Client::new(app.clone());
        forged.set_cookie(enrich_admin::SESSION_COOKIE, &"0".repeat(64));
        assert_eq!(forged.get("/").await.status, StatusCode::UNAUTHORIZED);
        // A session cookie holding the token itself is not a session.
        let mut raw = Client::new(app.clone());
        raw.set_cookie(enrich_admin::SESSION_COOKIE, OPERATOR);
        assert_eq!(raw.get("/").await.status, StatusCode::UNAUTHORIZED);

        let mut browser = Client::new(app.clone());
        let form = browser.get("/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let wrong = browser.post("/login", &[("csrf", &form.csrf()), ("token", "nope")]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("not valid"));
        let right = browser.post("/login", &[("csrf", &form.csrf()), ("token", OPERATOR)]).await;
        assert_eq!(right.status, StatusCode::SEE_OTHER);
        assert_eq!(right.location(), format!("{MOUNT}/"));
        let set = right.headers["set-cookie"].to_str().unwrap();
        assert!(set.starts_with(enrich_admin::SESSION_COOKIE), "{set}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
            assert!(set.contains(part), "{part} in {set}");
        }
        assert!(!set.contains("Secure"), "plain http: {set}");
        assert!(!set.contains(OPERATOR), "the token itself is never the cookie");
        assert_eq!(browser.get("/").await.status, StatusCode::OK);
        // Signing out ends the session.
        let page = browser.get("/").await;
        let out = browser.post("/logout", &[("csrf", &page.csrf())]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(browser.get("/").await.status, StatusCode::UNAUTHORIZED);
        // Behind an https proxy the cookies are Secure.
        let mut https = Client::new(app);
        https.extra.push(("x-forwarded-proto", "https".into()));
        let form = https.get("/login").await;
        assert!(form.headers["set-cookie"].to_str().unwrap().contains("; Secure"));
        let right = https.post("/login", &[("csrf", &form.csrf()), ("token", OPERATOR)]).await;
        assert!(right.headers["set-cookie"].to_str().unwrap().contains("; Secure"));
    }

    async fn the_read_only_role_reads_but_every_post_is_403(db) {
        let inbox = open(db).await;
        let dead = store(&inbox, &person("e-1", "crm-ro-1", "Augusta")).await;
        process_all(&inbox, true, State::Dead, 1).await;
        let done = store(&inbox, &person("e-1", "crm-ro-2", "Augusta")).await;
        process_all(&inbox, false, State::Done, 1).await;
        let app = app(&inbox);
        let mut reader = Client::signed_in(app.clone(), READER).await;
        let page = reader.get("/dead").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("crm-ro-1"));
        assert!(!page.body.contains(">Retry<"), "no retry button for the read-only role");
        assert!(!page.body.contains("crm refused"), "no error text for the read-only role");
        let csrf = page.csrf();
        for (path, fields) in [
            (format!("/deliveries/{dead}/retry"), vec![("csrf", csrf.as_str())]),
            (format!("/deliveries/{done}/replay"), vec![("csrf", csrf.as_str())]),
            ("/dead/retry-all".to_owned(), vec![("csrf", csrf.as_str()), ("expected", "1")]),
        ] {
            let reply = reader.post(&path, &fields).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
            assert!(reply.body.contains("data-code=\"read_only\""), "{path}");
        }
        assert_eq!(reader.get("/dead/retry-all").await.status, StatusCode::FORBIDDEN);
        assert_eq!(reader.get(&format!("/deliveries/{dead}?body=full")).await.status, StatusCode::FORBIDDEN);
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.dead, counts.done, counts.pending), (1, 1, 0));
        // The same through a bearer token.
        let reply = Client::bearer(app, READER)
            .post(&format!("/deliveries/{dead}/retry"), &[("csrf", &csrf)])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(inbox.counts().await.unwrap().dead, 1);
    }

    async fn a_post_without_its_csrf_token_or_with_a_wrong_one_is_403_and_changes_nothing(db) {
        let inbox = open(db).await;
        let id = store(&inbox, &person("e-1", "crm-csrf", "Augusta")).await;
        process_all(&inbox, true, State::Dead, 1).await;
        let app = app(&inbox);
        let mut operator = Client::signed_in(app.clone(), OPERATOR).await;
        let token = operator.get("/dead").await.csrf();
        let path = format!("/deliveries/{id}/retry");
        let other_browser = Client::signed_in(app.clone(), OPERATOR).await.get("/dead").await.csrf();
        for fields in [
            vec![],
            vec![("csrf", "")],
            vec![("csrf", "0000")],
            vec![("csrf", other_browser.as_str())],
        ] {
            let reply = operator.post(&path, &fields).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{fields:?}");
            assert!(reply.body.contains("data-code=\"csrf_invalid\""), "{fields:?}");
            assert_eq!(inbox.counts().await.unwrap().dead, 1);
        }
        // A bearer script without the page's cookie cannot post a form either.
        let reply = Client::bearer(app.clone(), OPERATOR).post(&path, &[("csrf", &token)]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        // Nor can the login form be posted without its token.
        let reply = Client::new(app).post("/login", &[("token", OPERATOR)]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.headers.get("set-cookie").is_none_or(|set| !set.to_str().unwrap().starts_with("enrich_admin_session")));
        // With its token, the retry happens.
        let reply = operator.post(&path, &[("csrf", &token)]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), format!("{MOUNT}/deliveries/{id}?done=retried"));
        assert_eq!(inbox.get(id).await.unwrap().unwrap().state, State::Pending);
        let page = operator.get(&format!("/deliveries/{id}?done=retried")).await;
        assert!(page.body.contains("Put back in line."));
    }

    async fn retry_all_asks_for_the_count_and_requeues_exactly_the_dead_letters(db) {
        let inbox = open(db).await;
        for n in 0..3 {
            store(&inbox, &person("e-1", &format!("crm-all-{n}"), "Augusta")).await;
        }
        process_all(&inbox, true, State::Dead, 3).await;
        store(&inbox, &person("e-1", "crm-all-done", "Augusta")).await;
        process_all(&inbox, false, State::Done, 1).await;
        let mut operator = Client::signed_in(app(&inbox), OPERATOR).await;
        let confirm = operator.get("/dead/retry-all").await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.body.contains("<strong id=\"confirm-count\">3</strong>"), "{}", confirm.body);
        let csrf = confirm.csrf();
        // A stale count is refused, with the new count to confirm.
        let stale = operator.post("/dead/retry-all", &[("csrf", &csrf), ("expected", "2")]).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert!(stale.body.contains("<strong id=\"confirm-count\">3</strong>"));
        assert_eq!(inbox.counts().await.unwrap().dead, 3);
        let garbage = operator.post("/dead/retry-all", &[("csrf", &csrf), ("expected", "x")]).await;
        assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
        let reply = operator.post("/dead/retry-all", &[("csrf", &csrf), ("expected", "3")]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), format!("{MOUNT}/dead?requeued=3"));
        let counts = inbox.counts().await.unwrap();
        assert_eq!((counts.dead, counts.pending, counts.done), (0, 3, 1));
        let page = operator.get("/dead?requeued=3").await;
        assert!(page.body.contains("3 dead letter(s) put back in line."));
    }

    async fn replay_requeues_a_processed_delivery_and_wrong_states_are_409(db) {
        let inbox = open(db).await;
        let id = store(&inbox, &person("e-1", "crm-replay", "Augusta")).await;
        process_all(&inbox, false, State::Done, 1).await;
        let mut operator = Client::signed_in(app(&inbox), OPERATOR).await;
        let page = operator.get(&format!("/deliveries/{id}")).await;
        assert!(page.body.contains(">Replay<") && !page.body.contains(">Retry<"));
        let csrf = page.csrf();
        let retry = operator.post(&format!("/deliveries/{id}/retry"), &[("csrf", &csrf)]).await;
        assert_eq!(retry.status, StatusCode::CONFLICT, "a done delivery is not a dead letter");
        let reply = operator.post(&format!("/deliveries/{id}/replay"), &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(inbox.get(id).await.unwrap().unwrap().state, State::Pending);
        let again = operator.post(&format!("/deliveries/{id}/replay"), &[("csrf", &csrf)]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let listed = operator.get("/deliveries?state=pending").await;
        assert!(listed.body.contains("crm-replay"));
    }

    async fn unknown_pages_and_deliveries_are_404(db) {
        let inbox = open(db).await;
        let mut operator = Client::signed_in(app(&inbox), OPERATOR).await;
        let csrf = operator.get("/").await.csrf();
        for path in ["/nope", "/deliveries/999", "/deliveries/abc", "/deliveries/-1", "/deliveries?state=lost"] {
            let reply = operator.get(path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert_secure_headers(&reply, path);
        }
        let reply = operator.post("/deliveries/999/retry", &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        let reply = operator.post("/deliveries/abc/retry", &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }

    async fn markup_in_a_stored_body_is_escaped_everywhere(db) {
        let inbox = open(db).await;
        let markup = "<img src=x onerror=alert(1)>";
        let id = store(&inbox, &person("<b>e-1</b>", "<script>alert(2)</script>", markup)).await;
        process_all(&inbox, true, State::Dead, 1).await;
        let mut operator = Client::signed_in(app(&inbox), OPERATOR).await;
        for path in pages(id) {
            let reply = operator.get(&path).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            for raw in ["<img", "<script>alert", "<b>e-1", "<b>the</b>"] {
                assert!(!reply.body.contains(raw), "{raw} unescaped in {path}");
            }
        }
        let full = operator.get(&format!("/deliveries/{id}?body=full")).await;
        assert!(full.body.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", full.body);
        let dead = operator.get("/dead").await;
        assert!(dead.body.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
        assert!(dead.body.contains("crm refused &lt;b&gt;the&lt;/b&gt; update"));
    }

    async fn bodies_are_redacted_unless_the_role_may_see_personal_data(db) {
        let inbox = open(db).await;
        let id = store(&inbox, &person("e-red", "crm-red", "Augusta")).await;
        let app_ = app(&inbox);
        let mut reader = Client::signed_in(app_.clone(), READER).await;
        let redacted = reader.get(&format!("/deliveries/{id}")).await;
        assert!(redacted.body.contains("crm-red") && redacted.body.contains("e-red"));
        assert_no_personal(&redacted.body, "the redacted body");
        assert!(!redacted.body.contains("Show the full body"));
        // An operator without the personal-data permission sees it redacted too.
        let plain = enrich_admin::TokenAuth::operator(OPERATOR);
        let admin = Admin::new(inbox.clone()).authorize(plain).router().unwrap();
        let mut operator = Client::bearer(axum::Router::new().nest_service(MOUNT, admin), OPERATOR);
        assert_no_personal(&operator.get(&format!("/deliveries/{id}")).await.body, "operator");
        assert_eq!(operator.get(&format!("/deliveries/{id}?body=full")).await.status, StatusCode::FORBIDDEN);
        let mut allowed = Client::signed_in(app_, OPERATOR).await;
        let page = allowed.get(&format!("/deliveries/{id}")).await;
        assert_no_personal(&page.body, "the default view");
        assert!(page.body.contains("Show the full body"));
        let full = allowed.get(&format!("/deliveries/{id}?body=full")).await;
        assert!(full.body.contains("ada.lovelace@example.com") && full.body.contains("Augusta"));
    }

    async fn no_url_of_any_page_holds_personal_data(db) {
        let inbox = open(db).await;
        let dead = store(&inbox, &person("e-1", "crm-url-1", "Augusta")).await;
        process_all(&inbox, true, State::Dead, 1).await;
        let done = store(&inbox, &person("e-1", "crm-url-2", "Augusta")).await;
        process_all(&inbox, false, State::Done, 1).await;
        let mut operator = Client::signed_in(app(&inbox), OPERATOR).await;
        let mut urls = Vec::new();
        for path in pages(dead).into_iter().chain(pages(done)) {
            let reply = operator.get(&path).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            urls.extend(reply.urls());
        }
        let csrf = operator.get("/").await.csrf();
        let reply = operator.post(&format!("/deliveries/{dead}/retry"), &[("csrf", &csrf)]).await;
        urls.push(reply.location().to_owned());
        assert!(urls.len() > 20, "{urls:?}");
        for url in &urls {
            assert!(url.starts_with(MOUNT), "{url}");
            assert_no_personal(url, "a URL");
            assert!(!url.contains("crm-url") && !url.contains('@'), "{url}");
        }
    }

    async fn the_overview_shows_counts_failures_and_observed_throughput(db) {
        let inbox = open(db).await;
        store(&inbox, &person("e-1", "crm-ov-1", "Augusta")).await;
        process_all(&inbox, true, State::Dead, 1).await;
        store(&inbox, &person("e-1", "crm-ov-2", "Augusta")).await;
        let mut operator = Client::bearer(app(&inbox), OPERATOR);
        let first = operator.get("/").await;
        assert_eq!(first.status, StatusCode::OK);
        assert!(first.body.contains("<td id=\"count-due\">1</td>"), "{}", first.body);
        assert!(first.body.contains("not enough readings yet"));
        process_all(&inbox, false, State::Done, 1).await;
        let second = operator.get("/").await;
        assert!(second.body.contains("<td id=\"count-done\">1</td>"));
        assert!(second.body.contains("1 processed in the last"), "{}", second.body);
        assert_secure_headers(&second, "the overview");
        assert_eq!(operator.get("/style.css").await.headers["content-type"], "text/css; charset=utf-8");
    }

    async fn the_enrichments_view_counts_people_and_refuses_to_ask_without_a_client(db) {
        let inbox = open(db).await;
        store(&inbox, &person("e-view", "crm-v-1", "Augusta")).await;
        store(&inbox, &person("e-view", "crm-v-2", "Augusta")).await;
        process_all(&inbox, false, State::Done, 2).await;
        store(&inbox, &person("e-view", "crm-v-3", "Augusta")).await;
        let app = app(&inbox);
        let mut operator = Client::signed_in(app.clone(), OPERATOR).await;
        let page = operator.get("/enrichments").await;
        assert_eq!(page.status, StatusCode::OK);
        let row = page.body.split("data-enrichment=\"e-view\"").nth(1).expect("a row");
        assert!(row.contains("<td class=\"received\">3</td>"), "{row}");
        assert!(row.contains("<td class=\"processed\">2</td>"), "{row}");
        assert!(row.contains("<td class=\"waiting\">1</td>"), "{row}");
        assert!(page.body.contains("no API client is configured"));
        let csrf = page.csrf();
        let reply = operator.post("/enrichments/check", &[("csrf", &csrf), ("enrichment", "e-view")]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(reply.body.contains("api_not_configured"));
        let reply = operator.post("/enrichments/check", &[("csrf", &csrf)]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let mut reader = Client::signed_in(app, READER).await;
        let csrf = reader.get("/enrichments").await.csrf();
        let reply = reader.post("/enrichments/reconcile", &[("csrf", &csrf), ("enrichment", "e-view")]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_reconcile_now_ask_the_api_and_store_the_missing_people() {
    let db = support::TestDb::sqlite("reconcile_now");
    let inbox = open(&db).await;
    let sim = support::sim::start_sim().await;
    // Nothing listens at the webhook URL: no delivery arrives, every person is missing.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let enrichment = support::sim::enrich(&sim, &format!("http://{closed}/webhook"), 4, 1).await;
    store(&inbox, &person(&enrichment, "crm-0", "Augusta")).await;
    let admin = page::admin(&inbox).reconcile_with(support::sim::client(&sim));
    let mut operator = Client::signed_in(page::mount(admin), OPERATOR).await;
    let page = operator.get("/enrichments").await;
    let csrf = page.csrf();
    let row = |body: &str| {
        body.split(&format!("data-enrichment=\"{enrichment}\""))
            .nth(1)
            .expect("the enrichment's row")
            .split("</tr>")
            .next()
            .unwrap()
            .to_owned()
    };
    assert!(row(&page.body).contains("not asked"));
    let checked = operator
        .post(
            "/enrichments/check",
            &[("csrf", &csrf), ("enrichment", &enrichment)],
        )
        .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER);
    let page = operator.get("/enrichments?done=checked").await;
    let shown = row(&page.body);
    assert!(
        shown.contains("<span class=\"missing-count\">3</span>"),
        "{shown}"
    );
    for missing in ["crm-1", "crm-2", "crm-3"] {
        assert!(shown.contains(&format!("<li>{missing}</li>")), "{shown}");
    }
    assert!(!shown.contains("<li>crm-0</li>"));
    assert_eq!(
        inbox.counts().await.unwrap().total(),
        1,
        "checking stores nothing"
    );
    let reconciled = operator
        .post(
            "/enrichments/reconcile",
            &[("csrf", &csrf), ("enrichment", &enrichment)],
        )
        .await;
    assert_eq!(reconciled.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reconciled.location(),
        format!("{MOUNT}/enrichments?done=reconciled&added=3")
    );
    let page = operator
        .get(reconciled.location().trim_start_matches(MOUNT))
        .await;
    assert!(page.body.contains("3 missing people stored"));
    assert!(row(&page.body).contains("<span class=\"missing-count\">0</span>"));
    assert_eq!(inbox.counts().await.unwrap().total(), 4);
    // An enrichment the API does not know is a 502, not a crash.
    let reply = operator
        .post(
            "/enrichments/check",
            &[("csrf", &csrf), ("enrichment", "no-such-enrichment")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
}
