//! The acknowledgement link, served over HTTP by notify: `GET /ack/<id>?token=<hex>` shows a
//! page with one button, whose `POST` to the same address acknowledges. (A `GET` alone must
//! not: mail scanners and link previews open links.)
//!
//! The token is the HMAC-SHA256 of `ack:<id>` with `ack_http.secret`, so only someone the link
//! was sent to can acknowledge, and every instance sharing the secret can check it. The
//! acknowledgement itself is a message on `tandem.notify.ack.<id>`, the same path as every
//! other, handled by whichever instance owns the notification.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Html,
    routing::get,
};
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;
use tandem_runtime::{Shutdown, envelope::MSG_ID};

use tandem_proto::subjects::notify_ack_subject;

use crate::rules::is_notification_id;

/// Makes and checks ack links.
#[derive(Clone)]
pub struct AckLinks {
    public_url: String,
    key: Vec<u8>,
}

impl AckLinks {
    /// Links under `public_url` signed with `secret`.
    pub fn new(public_url: &str, secret: &[u8]) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            key: secret.to_vec(),
        }
    }

    fn mac(&self, id: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"ack:");
        mac.update(id.as_bytes());
        mac
    }

    /// The token of notification `id`.
    pub fn token(&self, id: &str) -> String {
        hex::encode(self.mac(id).finalize().into_bytes())
    }

    /// The link acknowledging notification `id`.
    pub fn link(&self, id: &str) -> String {
        format!("{}/ack/{id}?token={}", self.public_url, self.token(id))
    }

    /// Whether `token` is the token of `id` (compared in constant time).
    pub fn verify(&self, id: &str, token: &str) -> bool {
        match hex::decode(token) {
            Ok(bytes) => self.mac(id).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

#[derive(Clone)]
struct AppState {
    links: AckLinks,
    js: async_nats::jetstream::Context,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Serves the links on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    links: AckLinks,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/ack/{id}", get(confirm_page).post(acknowledge))
        .with_state(Arc::new(AppState { links, js }));
    Ok(tandem_runtime::http::serve(listener, app, shutdown).await?)
}

fn refused() -> (StatusCode, Html<String>) {
    (
        StatusCode::FORBIDDEN,
        Html(
            "<!doctype html><title>tandem</title><p>This acknowledgement link is not valid.</p>"
                .into(),
        ),
    )
}

async fn confirm_page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> (StatusCode, Html<String>) {
    if !is_notification_id(&id) || !state.links.verify(&id, &query.token) {
        return refused();
    }
    (
        StatusCode::OK,
        Html(format!(
            "<!doctype html><title>tandem</title><p>Acknowledge notification <code>{id}</code>?</p>\
             <form method=\"post\" action=\"/ack/{id}?token={}\"><button>Acknowledge</button></form>",
            query.token
        )),
    )
}

async fn acknowledge(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> (StatusCode, Html<String>) {
    if !is_notification_id(&id) || !state.links.verify(&id, &query.token) {
        return refused();
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID, format!("ack:{id}:link").as_str());
    let stored = async {
        state
            .js
            .publish_with_headers(notify_ack_subject(&id), headers, "link".into())
            .await?
            .await?;
        anyhow::Ok(())
    };
    match stored.await {
        Ok(()) => (
            StatusCode::OK,
            Html(format!(
                "<!doctype html><title>tandem</title><p>Notification <code>{id}</code> acknowledged. Thank you.</p>"
            )),
        ),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "ack from link not stored");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("<!doctype html><title>tandem</title><p>Could not record the acknowledgement; please try again.</p>".into()),
            )
        }
    }
}
