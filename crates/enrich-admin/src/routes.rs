//! The page's routes and their handlers.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use enrich_inbox::{DeliveryId, State as DeliveryState};
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue, SET_COOKIE};
use serde::Deserialize;

use crate::context::RequestContext;
use crate::cookies;
use crate::guard::{guard, html, refuse};
use crate::posted::{OperatorForm, VerifiedForm};
use crate::refusal::Refusal;
use crate::shared::Shared;
use crate::token::SESSION_COOKIE;
use crate::views;

/// A page, or the refusal that replaces it.
type Answer = Result<Response, Response>;

/// Every route, behind the guard.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/style.css", get(stylesheet))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dead", get(dead_letters))
        .route("/dead/retry-all", get(confirm_retry_all).post(retry_all))
        .route("/deliveries", get(deliveries))
        .route("/deliveries/{id}", get(delivery))
        .route("/deliveries/{id}/retry", post(retry))
        .route("/deliveries/{id}/replay", post(replay))
        .route("/enrichments", get(enrichments))
        .route("/enrichments/check", post(check_enrichment))
        .route("/enrichments/reconcile", post(reconcile_enrichment))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

async fn stylesheet() -> Response {
    let mut response = include_str!("style.css").into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

async fn not_found(Extension(context): Extension<RequestContext>, headers: HeaderMap) -> Response {
    refuse(&context, &headers, Refusal::NotFound)
}

async fn login_form(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
) -> Response {
    if !shared.authorize.has_login_form() {
        return refuse(&context, &headers, Refusal::NotFound);
    }
    if context.access.can_read() {
        return Redirect::to(&context.link("/")).into_response();
    }
    html(views::login::page(
        &context.prefix,
        &context.csrf_token,
        false,
    ))
}

async fn login(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: VerifiedForm,
) -> Response {
    let context = &form.context;
    if !shared.authorize.has_login_form() {
        return refuse(context, &headers, Refusal::NotFound);
    }
    let Some(session) = shared.authorize.login(form.field("token").unwrap_or("")) else {
        let wrong = views::login::page(&context.prefix, &context.csrf_token, true);
        return Refusal::Unauthenticated.respond(&headers, |_| wrong);
    };
    let cookie = cookies::set(
        SESSION_COOKIE,
        &session,
        &context.prefix,
        context.https,
        Some(12 * 3600),
    );
    with_cookie(Redirect::to(&context.link("/")).into_response(), &cookie)
}

async fn logout(form: VerifiedForm) -> Response {
    let context = &form.context;
    let cookie = cookies::set(SESSION_COOKIE, "", &context.prefix, context.https, Some(0));
    with_cookie(
        Redirect::to(&context.link("/login")).into_response(),
        &cookie,
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

async fn overview(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
) -> Answer {
    let fail = |error| refuse(&context, &headers, Refusal::from(error));
    let counts = shared.inbox.counts().await.map_err(fail)?;
    let gauges = shared.inbox.gauges().await.map_err(fail)?;
    let pending = shared
        .inbox
        .list(DeliveryState::Pending, shared.list_limit)
        .await
        .map_err(fail)?;
    let failing = pending
        .into_iter()
        .filter(|delivery| delivery.last_error.is_some())
        .take(20)
        .collect();
    let throughput = shared
        .throughput
        .lock()
        .map(|mut readings| readings.observe(Instant::now(), counts.done + counts.purged))
        .unwrap_or(None);
    let overview = views::overview::Overview {
        counts,
        gauges,
        throughput,
        failing,
    };
    Ok(html(views::overview::page(&context, &overview)))
}

#[derive(Deserialize)]
struct DeadQuery {
    requeued: Option<u64>,
}

async fn dead_letters(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    Query(query): Query<DeadQuery>,
    headers: HeaderMap,
) -> Answer {
    let fail = |error| refuse(&context, &headers, Refusal::from(error));
    let letters = shared
        .inbox
        .dead_letters(shared.list_limit)
        .await
        .map_err(fail)?;
    let total = shared.inbox.counts().await.map_err(fail)?.dead;
    Ok(html(views::dead::page(
        &context,
        &letters,
        total,
        query.requeued,
    )))
}

async fn confirm_retry_all(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
) -> Answer {
    if !context.access.can_operate() {
        return Err(refuse(&context, &headers, Refusal::ReadOnly));
    }
    let dead = shared
        .inbox
        .counts()
        .await
        .map_err(|error| refuse(&context, &headers, Refusal::from(error)))?
        .dead;
    Ok(html(views::dead::confirm_retry_all(&context, dead, false)))
}

/// Retries every dead letter, only if their number is still the one the person confirmed;
/// else asks again with the new number (`409`).
async fn retry_all(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    OperatorForm(form): OperatorForm,
) -> Answer {
    let context = &form.context;
    let fail = |error| refuse(context, &headers, Refusal::from(error));
    let Some(expected) = form
        .field("expected")
        .and_then(|text| text.parse::<u64>().ok())
    else {
        return Err(refuse(context, &headers, Refusal::BadForm));
    };
    let dead = shared.inbox.counts().await.map_err(fail)?.dead;
    if dead != expected {
        let page = views::dead::confirm_retry_all(context, dead, true);
        return Ok((http::StatusCode::CONFLICT, axum::response::Html(page)).into_response());
    }
    let requeued = shared.inbox.retry_all_dead_letters().await.map_err(fail)?;
    Ok(Redirect::to(&context.link(&format!("/dead?requeued={requeued}"))).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
}

async fn deliveries(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Answer {
    let state = match query.state.as_deref() {
        None => DeliveryState::Done,
        Some(name) => DeliveryState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| refuse(&context, &headers, Refusal::NotFound))?,
    };
    let deliveries = shared
        .inbox
        .list(state, shared.list_limit)
        .await
        .map_err(|error| refuse(&context, &headers, Refusal::from(error)))?;
    Ok(html(views::delivery::list(&context, state, &deliveries)))
}

#[derive(Deserialize)]
struct DeliveryQuery {
    body: Option<String>,
    done: Option<String>,
}

async fn delivery(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    Query(query): Query<DeliveryQuery>,
    headers: HeaderMap,
) -> Answer {
    let id = parse_id(&id).ok_or_else(|| refuse(&context, &headers, Refusal::NotFound))?;
    let delivery = shared
        .inbox
        .get(id)
        .await
        .map_err(|error| refuse(&context, &headers, Refusal::from(error)))?
        .ok_or_else(|| refuse(&context, &headers, Refusal::NotFound))?;
    let full = query.body.as_deref() == Some("full");
    if full && !context.access.can_see_personal_data() {
        return Err(refuse(&context, &headers, Refusal::Forbidden));
    }
    // Only known words are shown back, never the query's text.
    let done = match query.done.as_deref() {
        Some("retried") => Some("Put back in line."),
        Some("replayed") => Some("Queued to be processed again."),
        _ => None,
    };
    Ok(html(views::delivery::page(&context, &delivery, full, done)))
}

async fn retry(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OperatorForm(form): OperatorForm,
) -> Answer {
    act(&shared, &form.context, &headers, &id, Action::Retry).await
}

async fn replay(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OperatorForm(form): OperatorForm,
) -> Answer {
    act(&shared, &form.context, &headers, &id, Action::Replay).await
}

enum Action {
    Retry,
    Replay,
}

/// Retries a dead letter or replays a processed delivery, then shows it (`409` when it is not
/// in the state the action needs).
async fn act(
    shared: &Shared,
    context: &RequestContext,
    headers: &HeaderMap,
    id: &str,
    action: Action,
) -> Answer {
    let id = parse_id(id).ok_or_else(|| refuse(context, headers, Refusal::NotFound))?;
    let outcome = match action {
        Action::Retry => shared.inbox.retry_dead_letter(id).await,
        Action::Replay => shared.inbox.replay(id).await,
    };
    let done = outcome.map_err(|error| refuse(context, headers, Refusal::from(error)))?;
    if !done {
        return Err(refuse(context, headers, Refusal::WrongState));
    }
    let word = match action {
        Action::Retry => "retried",
        Action::Replay => "replayed",
    };
    Ok(Redirect::to(&context.link(&format!("/deliveries/{id}?done={word}"))).into_response())
}

fn parse_id(text: &str) -> Option<DeliveryId> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(DeliveryId)
}

#[derive(Deserialize)]
struct EnrichmentsQuery {
    done: Option<String>,
    added: Option<u64>,
}

async fn enrichments(
    State(shared): State<Arc<Shared>>,
    Extension(context): Extension<RequestContext>,
    Query(query): Query<EnrichmentsQuery>,
    headers: HeaderMap,
) -> Answer {
    let (held, truncated) = crate::enrichments::read(&shared.inbox, shared.list_limit * 20)
        .await
        .map_err(|error| refuse(&context, &headers, Refusal::from(error)))?;
    let rows: Vec<views::enrichments::Row<'_>> = held
        .iter()
        .map(|(id, held)| views::enrichments::Row {
            id,
            held,
            expected: shared.expected_of(id),
        })
        .collect();
    // Only known words are shown back, never the query's text.
    let notice = match (query.done.as_deref(), query.added) {
        (Some("checked"), _) => Some("The API was asked.".to_owned()),
        (Some("reconciled"), Some(added)) => Some(format!(
            "Reconciled: {added} missing people stored, to be processed."
        )),
        _ => None,
    };
    Ok(html(views::enrichments::page(
        &context,
        &rows,
        truncated,
        shared.can_ask(),
        notice,
    )))
}

async fn check_enrichment(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    OperatorForm(form): OperatorForm,
) -> Answer {
    ask_api(&shared, &form, &headers, false).await
}

async fn reconcile_enrichment(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    OperatorForm(form): OperatorForm,
) -> Answer {
    ask_api(&shared, &form, &headers, true).await
}

/// Asks the API about the posted enrichment (storing its missing people with `store`), then
/// shows the enrichments.
async fn ask_api(shared: &Shared, form: &VerifiedForm, headers: &HeaderMap, store: bool) -> Answer {
    let context = &form.context;
    let Some(id) = form.field("enrichment").filter(|id| !id.is_empty()) else {
        return Err(refuse(context, headers, Refusal::BadForm));
    };
    match shared.ask(id, store).await {
        crate::api::Asked::Expected { added, .. } => {
            let target = match added {
                Some(added) => format!("/enrichments?done=reconciled&added={added}"),
                None => "/enrichments?done=checked".to_owned(),
            };
            Ok(Redirect::to(&context.link(&target)).into_response())
        }
        crate::api::Asked::NotConfigured => {
            Err(refuse(context, headers, Refusal::ApiNotConfigured))
        }
        crate::api::Asked::Failed(error) => {
            tracing::warn!(%error, "enrich-admin: the API could not answer about an enrichment");
            Err(refuse(context, headers, Refusal::ApiUnavailable))
        }
    }
}
