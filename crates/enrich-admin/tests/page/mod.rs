//! What the page's tests share: the page mounted under `/admin` in an axum app behind tokens,
//! deliveries in every state of a real inbox, and an in-process client that keeps cookies
//! like a browser.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use enrich_admin::{Admin, TokenAuth};
use enrich_inbox::{Backoff, DeliveryId, Inbox, Job, State, Stored, Worker, WorkerConfig};
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::support::{delivery, eventually};

/// The operator's token (may see personal data).
pub const OPERATOR: &str = "operator-token-0123456789";
/// The read-only token.
pub const READER: &str = "reader-token-0123456789";
/// Where the tests mount the page.
pub const MOUNT: &str = "/admin";

/// The page of `inbox`, behind [`OPERATOR`] (who may see personal data) and [`READER`].
pub fn admin(inbox: &Inbox) -> Admin {
    let auth = TokenAuth::operator(OPERATOR)
        .read_only(READER)
        .show_personal_data(true);
    Admin::new(inbox.clone()).authorize(auth)
}

/// `admin` at [`MOUNT`] in an axum app.
pub fn mount(admin: Admin) -> Router {
    Router::new().nest_service(MOUNT, admin.router().expect("randomness"))
}

/// The page of `inbox` at [`MOUNT`] in an axum app, behind [`OPERATOR`] and [`READER`].
pub fn app(inbox: &Inbox) -> Router {
    mount(admin(inbox))
}

/// A person event of enrichment `enrichment`, with personal values to look for.
pub fn person(enrichment: &str, external_id: &str, first_name: &str) -> String {
    serde_json::json!({
        "eventType": "person.enrichment.completed",
        "data": {
            "enrichmentID": enrichment,
            "person": {
                "externalID": external_id,
                "firstName": first_name,
                "lastName": "Lovelace",
                "emails": [{"email": "ada.lovelace@example.com"}],
                "mobilePhones": [{"mobilePhone": "+44 20 7946 0018"}],
            }
        }
    })
    .to_string()
}

/// Stores `body` as a verified webhook delivery; its id.
pub async fn store(inbox: &Inbox, body: &str) -> DeliveryId {
    match inbox.store(&delivery(body)).await.expect("store") {
        Stored::New(id) => id,
        Stored::Duplicate => panic!("a new body was a duplicate"),
    }
}

/// A worker config that gives up after one attempt, quickly.
fn one_attempt() -> WorkerConfig {
    WorkerConfig::default()
        .max_attempts(1)
        .poll_interval(Duration::from_millis(20))
        .backoff(Backoff::exponential(
            Duration::from_millis(5),
            Duration::from_millis(10),
        ))
}

/// Runs every pending delivery once with a handler that fails (`fail`) or succeeds, until
/// `expect` deliveries are in `state`, then stops the worker.
pub async fn process_all(inbox: &Inbox, fail: bool, state: State, expect: u64) {
    let worker = Worker::new(inbox.clone(), move |_job: Job| async move {
        if fail {
            Err(std::io::Error::other("crm refused <b>the</b> update"))
        } else {
            Ok(())
        }
    })
    .config(one_attempt())
    .spawn();
    eventually(&format!("{expect} deliveries to be {state}"), || async {
        let counts = inbox.counts().await.expect("counts");
        let now = match state {
            State::Dead => counts.dead,
            State::Done => counts.done,
            _ => counts.pending,
        };
        (now >= expect).then_some(())
    })
    .await;
    worker.shutdown(Duration::from_secs(10)).await;
}

/// An answer of the page.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    /// The `csrf` field's value in the page's forms.
    pub fn csrf(&self) -> String {
        attribute_values(&self.body, r#"name="csrf" value=""#)
            .into_iter()
            .next()
            .expect("a form with a CSRF token")
    }

    /// Every URL the page links or posts to.
    pub fn urls(&self) -> Vec<String> {
        let mut urls = attribute_values(&self.body, r#"href=""#);
        urls.extend(attribute_values(&self.body, r#"action=""#));
        urls
    }
}

/// The values following each `prefix` up to the next `"`.
fn attribute_values(html: &str, prefix: &str) -> Vec<String> {
    html.split(prefix)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// An in-process client that keeps the cookies the page sets, like a browser.
pub struct Client {
    app: Router,
    cookies: BTreeMap<String, String>,
    bearer: Option<String>,
    pub extra: Vec<(&'static str, String)>,
}

impl Client {
    /// A client without credentials.
    pub fn new(app: Router) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            bearer: None,
            extra: Vec::new(),
        }
    }

    /// A client that sends `Authorization: Bearer token`.
    pub fn bearer(app: Router, token: &str) -> Self {
        let mut client = Self::new(app);
        client.bearer = Some(token.to_owned());
        client
    }

    /// A client signed in through the login form with `token`.
    pub async fn signed_in(app: Router, token: &str) -> Self {
        let mut client = Self::new(app);
        let form = client.get("/login").await;
        let reply = client
            .post("/login", &[("csrf", &form.csrf()), ("token", token)])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        client
    }

    /// Sets a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// `GET MOUNT + path`.
    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// `POST MOUNT + path` with a urlencoded form.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(Method::POST, path, Some(body)).await
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{MOUNT}{path}"));
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(COOKIE, cookie);
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in &self.extra {
            request = request.header(*name, value);
        }
        let request = match form {
            Some(form) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form)),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().expect("ASCII cookie");
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).expect("UTF-8 page"),
        }
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
