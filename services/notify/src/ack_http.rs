//! The notification page, served over HTTP by notify: `GET /ack/<id>?token=<hex>` shows the
//! notification with three buttons: Acknowledge (`POST` to the same address), and Endorse and
//! Contest (with a reason) its determination (`POST /ack/<id>/review`, a form with `verdict`
//! and `comment`), in the recipient's name. (A `GET` alone changes nothing: mail scanners and
//! link previews open links.)
//!
//! The token is the HMAC-SHA256 of `ack:<id>` with `ack_http.secret` ([`crate::links`]), so only
//! someone the link was sent to can acknowledge, and every instance sharing the secret can check
//! it. The
//! acknowledgement itself is a message on `tandem.notify.ack.<id>`, the same path as every
//! other, handled by whichever instance owns the notification; a review is a request on
//! `tandem.review.<agency>`, checked like every other.

use std::sync::Arc;

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Html,
    routing::{get, post},
};
use serde::Deserialize;
use tandem_runtime::envelope::MSG_ID;

use prost::Message as _;
use tandem_proto::{
    subjects::{notify_ack_subject, review_subject},
    v1::{Notification, ReviewReply, ReviewRequest, ReviewVerdict},
    words,
};

use crate::{
    config::NotifyAgency, links::Links, review::MAX_COMMENT_CHARS, rules::is_notification_id,
    store::Store,
};

#[derive(Clone)]
struct AppState {
    links: Links,
    client: async_nats::Client,
    store: Store,
    agency: NotifyAgency,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The review form: `endorse` or `contest`, and the comment (a contest's reason).
#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// The ack links' routes.
pub(crate) fn router(
    links: Links,
    client: async_nats::Client,
    store: Store,
    agency: NotifyAgency,
) -> Router {
    Router::new()
        .route("/ack/{id}", get(confirm_page).post(acknowledge))
        .route("/ack/{id}/review", post(review))
        .with_state(Arc::new(AppState {
            links,
            client,
            store,
            agency,
        }))
}

fn page(status: StatusCode, body: &str) -> (StatusCode, Html<String>) {
    (
        status,
        Html(format!("<!doctype html><title>tandem</title>{body}")),
    )
}

fn refused() -> (StatusCode, Html<String>) {
    page(
        StatusCode::FORBIDDEN,
        "<p>This acknowledgement link is not valid.</p>",
    )
}

/// The notification `id` names, when the token is its token and it is this agency's.
async fn notification(
    state: &AppState,
    id: &str,
    token: &str,
) -> Result<Notification, (StatusCode, Html<String>)> {
    if !is_notification_id(id) || !state.links.verify(id, token) {
        return Err(refused());
    }
    match state.store.record(id).await {
        Ok(Some((record, _))) => Ok(record.notification),
        Ok(None) => Err(refused()),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "notification not read");
            Err(page(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p>The notification could not be read; please try again.</p>",
            ))
        }
    }
}

async fn confirm_page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> (StatusCode, Html<String>) {
    let notification = match notification(&state, &id, &query.token).await {
        Ok(notification) => notification,
        Err(answer) => return answer,
    };
    let token = &query.token;
    let summary = escape(&notification.summary);
    page(
        StatusCode::OK,
        &format!(
            "<pre>{summary}</pre><p>Acknowledge notification <code>{id}</code>?</p>\
             <form method=\"post\" action=\"/ack/{id}?token={token}\"><button>Acknowledge</button></form>\
             <p>Or review determination <code>{}</code> for {}:</p>\
             <form method=\"post\" action=\"/ack/{id}/review?token={token}\">\
             <input type=\"hidden\" name=\"verdict\" value=\"endorse\"><button>Endorse</button></form>\
             <form method=\"post\" action=\"/ack/{id}/review?token={token}\">\
             <input type=\"hidden\" name=\"verdict\" value=\"contest\">\
             <label>Reason <textarea name=\"comment\" required maxlength=\"{MAX_COMMENT_CHARS}\"></textarea></label>\
             <button>Contest</button></form>",
            escape(&notification.determination_id),
            state.agency.label(),
        ),
    )
}

async fn acknowledge(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> (StatusCode, Html<String>) {
    let notification = match notification(&state, &id, &query.token).await {
        Ok(notification) => notification,
        Err(answer) => return answer,
    };
    // The link was sent to the recipient alone: the acknowledgement is theirs.
    let stored = publish_ack(&state.client, &id, "link", &notification.recipient_id);
    match stored.await {
        Ok(()) => page(
            StatusCode::OK,
            &format!("<p>Notification <code>{id}</code> acknowledged. Thank you.</p>"),
        ),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "ack from link not stored");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p>Could not record the acknowledgement; please try again.</p>",
            )
        }
    }
}

/// Endorses or contests the notification's determination in the recipient's name, through the
/// same request as every other review, so the same checks apply.
async fn review(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
    Form(form): Form<ReviewForm>,
) -> (StatusCode, Html<String>) {
    let notification = match notification(&state, &id, &query.token).await {
        Ok(notification) => notification,
        Err(answer) => return answer,
    };
    let verdict = match form.verdict.as_str() {
        "endorse" => ReviewVerdict::Endorse,
        "contest" => ReviewVerdict::Contest,
        _ => ReviewVerdict::Unspecified,
    };
    let request = ReviewRequest {
        situation_id: notification.situation_id.clone(),
        determination_id: notification.determination_id.clone(),
        by: notification.recipient_id.clone(),
        verdict: verdict as i32,
        comment: form.comment,
    };
    let reply = ask_review(&state.client, state.agency, &request).await;
    match reply {
        Some(reply) if reply.recorded => {
            let status = reply
                .review
                .map(|r| words::status(r.status()))
                .unwrap_or_default();
            page(
                StatusCode::OK,
                &format!(
                    "<p>Your review of determination <code>{}</code> is recorded; it is now {status}. Thank you.</p>",
                    escape(&notification.determination_id)
                ),
            )
        }
        Some(reply) => page(
            StatusCode::CONFLICT,
            &format!("<p>Not recorded: {}</p>", escape(&reply.refused)),
        ),
        None => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "<p>Could not record the review now; please try again.</p>",
        ),
    }
}

/// Acknowledges notification `id` in `by`'s name through `via` (`link`, `inbox`): a message on
/// `tandem.notify.ack.<id>`, the same path as every other acknowledgement, deduplicated per
/// notification and channel.
pub(crate) async fn publish_ack(
    client: &async_nats::Client,
    id: &str,
    via: &str,
    by: &str,
) -> anyhow::Result<()> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(MSG_ID, format!("ack:{id}:{via}").as_str());
    async_nats::jetstream::new(client.clone())
        .publish_with_headers(
            notify_ack_subject(id),
            headers,
            format!("{via} {by}").into(),
        )
        .await?
        .await?;
    Ok(())
}

/// Asks `agency`'s review service (the one every review goes through) to record `request`;
/// `None` when it did not answer in time.
pub(crate) async fn ask_review(
    client: &async_nats::Client,
    agency: NotifyAgency,
    request: &ReviewRequest,
) -> Option<ReviewReply> {
    let asked = client.request(
        review_subject(agency.token()),
        request.encode_to_vec().into(),
    );
    match tokio::time::timeout(REVIEW_WAIT, asked).await {
        Ok(Ok(answer)) => ReviewReply::decode(answer.payload).ok(),
        _ => None,
    }
}

/// How long the page waits for a review to be recorded.
const REVIEW_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// `text` safe inside HTML, as text or an attribute's value in double quotes.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
