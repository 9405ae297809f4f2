//! The forms the page accepts: read (bounded), and refused unless their CSRF token matches the
//! browser's cookie; [`OperatorForm`] also refuses roles that may not change the inbox.

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::response::Response;

use crate::context::RequestContext;
use crate::csrf::CSRF_FIELD;
use crate::guard::{CsrfCookie, refuse};
use crate::refusal::Refusal;
use crate::shared::Shared;

/// The largest form the page reads.
const FORM_LIMIT: usize = 16 * 1024;

/// A posted form whose CSRF token was verified.
pub(crate) struct VerifiedForm {
    pub(crate) context: RequestContext,
    fields: Vec<(String, String)>,
}

impl VerifiedForm {
    /// The value of the field `name`, if posted.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl FromRequest<Arc<Shared>> for VerifiedForm {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Arc<Shared>) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let (Some(context), Some(cookie)) = (
            request.extensions().get::<RequestContext>().cloned(),
            request.extensions().get::<CsrfCookie>().cloned(),
        ) else {
            return Err(Refusal::Forbidden
                .respond(&headers, |refusal| crate::views::refusal(None, "", refusal)));
        };
        let bytes = axum::body::to_bytes(request.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| refuse(&context, &headers, Refusal::BadForm))?;
        let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let token = fields
            .iter()
            .find(|(key, _)| key == CSRF_FIELD)
            .map_or("", |(_, value)| value.as_str());
        if cookie.fresh || !shared.csrf.verify(&cookie.value, token) {
            return Err(refuse(&context, &headers, Refusal::CsrfInvalid));
        }
        Ok(Self { context, fields })
    }
}

/// A verified form from a role that may change the inbox (the read-only role gets `403`
/// before its form is even read).
pub(crate) struct OperatorForm(pub(crate) VerifiedForm);

impl FromRequest<Arc<Shared>> for OperatorForm {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Arc<Shared>) -> Result<Self, Response> {
        if let Some(context) = request.extensions().get::<RequestContext>()
            && !context.access.can_operate()
        {
            return Err(refuse(context, request.headers(), Refusal::ReadOnly));
        }
        VerifiedForm::from_request(request, shared).await.map(Self)
    }
}
