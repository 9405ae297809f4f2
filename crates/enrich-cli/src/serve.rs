//! `enrich inbox serve`: the inbox's admin page (enrich-admin) on a listener of its own, behind
//! access tokens, until Ctrl-C.

use std::net::SocketAddr;

use enrich_admin::{Admin, TokenAuth};
use enrich_inbox::Inbox;

use crate::error::Error;

/// The shortest token the command accepts.
const MIN_TOKEN_LEN: usize = 16;

/// The page's tokens, checked before anything is opened or bound.
pub struct Tokens {
    operator: String,
    read_only: Option<String>,
    show_personal: bool,
}

impl Tokens {
    /// Refuses a missing, short or repeated token: the page never starts open.
    pub fn new(
        operator: Option<String>,
        read_only: Option<String>,
        show_personal: bool,
    ) -> Result<Self, Error> {
        let Some(operator) = operator.filter(|token| !token.is_empty()) else {
            return Err(Error::Usage(
                "refusing to serve the admin page without an access token: pass --token or set \
                 ENRICH_ADMIN_TOKEN"
                    .to_owned(),
            ));
        };
        let short = |token: &str| token.chars().count() < MIN_TOKEN_LEN;
        if short(&operator) || read_only.as_deref().is_some_and(short) {
            return Err(Error::Usage(format!(
                "an admin token must be at least {MIN_TOKEN_LEN} characters (a long random \
                 string: `openssl rand -hex 32`)"
            )));
        }
        if read_only.as_deref() == Some(operator.as_str()) {
            return Err(Error::Usage(
                "the read-only token must differ from the operator token".to_owned(),
            ));
        }
        Ok(Self {
            operator,
            read_only,
            show_personal,
        })
    }

    fn auth(&self) -> TokenAuth {
        let auth = TokenAuth::operator(&self.operator);
        let auth = match &self.read_only {
            Some(token) => auth.read_only(token),
            None => auth,
        };
        auth.show_personal_data(self.show_personal)
    }
}

/// Serves the page of `inbox` on `listen` until Ctrl-C.
pub async fn run(inbox: &Inbox, listen: SocketAddr, tokens: Tokens) -> Result<(), Error> {
    let page = Admin::new(inbox.clone())
        .authorize(tokens.auth())
        .router()
        .map_err(|error| Error::Usage(error.to_string()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(Error::io(format!("cannot listen on {listen}")))?;
    let address = listener
        .local_addr()
        .map_err(Error::io("cannot read the listening address"))?;
    eprintln!("admin page on http://{address}/ (sign in with the token; stop with Ctrl-C)");
    if !address.ip().is_loopback() {
        eprintln!("warning: listening beyond loopback over plain http: put https in front of it");
    }
    axum::serve(listener, page)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(Error::io("the admin page's server failed"))
}
