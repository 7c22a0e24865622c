//! The notification page, served over HTTP by notify: `GET /ack/<id>?token=<hex>` shows the
//! notification with three buttons: Acknowledge (`POST` to the same address), and Endorse and
//! Contest (with a reason) its determination (`POST /ack/<id>/review`, a form with `verdict`
//! and `comment`), in the recipient's name. (A `GET` alone changes nothing: mail scanners and
//! link previews open links.) Every page is in the recipient's directory language with times in
//! their time zone, unless `?lang=` or the browser's `Accept-Language` say otherwise (as the
//! inbox decides, [`crate::inbox_http`]), in the pages' common layout with its security
//! headers, and shows the notification as the inbox does. Its forms and links are relative to
//! the page, so it works behind a reverse proxy that serves it under a path prefix.
//!
//! The token is the HMAC-SHA256 of `ack:<id>` with `ack_http.secret` ([`crate::links`]), so only
//! someone the link was sent to can acknowledge, and every instance sharing the secret can check
//! it. The acknowledgement itself is a message on `tandem.notify.ack.<id>`, the same path as
//! every other, handled by whichever instance owns the notification; a review is a request on
//! `tandem.review.<agency>`, checked like every other.

use std::sync::Arc;

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, Uri},
    response::Response,
    routing::{get, post},
};
use serde::Deserialize;
use tandem_i18n::{Lang, words::word};
use tandem_runtime::envelope::MSG_ID;
use tandem_web::{Here, Markup, html};

use prost::Message as _;
use tandem_proto::{
    subjects::{notify_ack_subject, review_subject},
    v1::{Notification, ReviewReply, ReviewRequest, ReviewVerdict},
};

use crate::{
    config::NotifyAgency,
    directory::DirectoryEntry,
    inbox_http::{Inbox, language, notification_card, page},
    review::MAX_COMMENT_CHARS,
    rules::is_notification_id,
};

/// The link's query: its token, and the language switch.
#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
    lang: Option<String>,
}

/// The review form: `endorse` or `contest`, and the comment (a contest's reason).
#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    comment: String,
}

/// The ack links' routes; they read what the inbox reads (the same notifications, directory
/// and determinations).
pub(crate) fn router(inbox: Inbox) -> Router {
    Router::new()
        .route("/ack/{id}", get(confirm_page).post(acknowledge))
        .route("/ack/{id}/review", post(review))
        .with_state(Arc::new(inbox))
}

/// A notification the link names, with its recipient's directory entry when they are still in
/// it (for their language and time zone).
struct Linked {
    notification: Notification,
    entry: Option<DirectoryEntry>,
    lang: Lang,
}

impl Linked {
    /// The recipient's time zone, UTC when they are no longer in the directory.
    fn tz(&self) -> &str {
        self.entry.as_ref().map_or("UTC", |e| e.tz.as_str())
    }
}

/// A page of the ack link in `lang`: its heading, then `body`.
fn ack_page(status: StatusCode, lang: Lang, here: Here, heading: &str, body: Markup) -> Response {
    let main = html! { h1 { (heading) } (body) };
    page(status, lang, here, heading, main)
}

/// Where the language switch of the page answering `uri` leads, relative to it: the same
/// address, except after a review, whose address only takes a `POST`: there, the notification's
/// page (`../<id>` from `<id>/review`).
fn here(uri: &Uri) -> Here {
    let here = Here::new(uri);
    match uri
        .path()
        .strip_suffix("/review")
        .and_then(|p| p.rsplit_once('/'))
    {
        Some((_, id)) => here.at(format!("../{id}")),
        None => here,
    }
}

/// A result page: one status message in `lang`.
fn result(status: StatusCode, lang: Lang, uri: &Uri, message: &str) -> Response {
    let body = html! { p role="status" { (message) } };
    ack_page(status, lang, here(uri), &lang.text("ack-title"), body)
}

/// The one answer to a link that is not valid, whatever was wrong; its language switch leads
/// to the same address without the token, echoing nothing of it.
fn refused(lang: Lang, uri: &Uri) -> Response {
    let bare = uri.path().parse().unwrap_or_else(|_| Uri::from_static("/"));
    let body = html! { p { (lang.text("ack-refused")) } };
    ack_page(
        StatusCode::FORBIDDEN,
        lang,
        here(&bare),
        &lang.text("ack-refused-title"),
        body,
    )
}

/// The notification `id` names, when the token is its token and it is this agency's; else the
/// page to answer.
async fn notification(
    inbox: &Inbox,
    id: &str,
    query: &TokenQuery,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Linked, Response> {
    let unknown = language(query.lang.as_deref(), None, headers);
    if !is_notification_id(id) || !inbox.links.verify(id, &query.token) {
        return Err(refused(unknown, uri));
    }
    let notification = match inbox.store.record(id).await {
        Ok(Some((record, _))) => record.notification,
        Ok(None) => return Err(refused(unknown, uri)),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "notification not read");
            return Err(result(
                StatusCode::SERVICE_UNAVAILABLE,
                unknown,
                uri,
                &unknown.text("ack-unreadable"),
            ));
        }
    };
    // Without the directory the page is still served, in the browser's language and UTC.
    let entry = match inbox.directory.entries().await {
        Ok(entries) => entries
            .iter()
            .find(|e| e.id == notification.recipient_id && e.agency == inbox.agency)
            .cloned(),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "ack page: directory not read");
            None
        }
    };
    let lang = language(query.lang.as_deref(), entry.as_ref(), headers);
    Ok(Linked {
        notification,
        entry,
        lang,
    })
}

/// `path` with the link's token and the page's language, for the forms' `action`; `path` is
/// relative to the page (`<id>` from `/ack/<id>`), so that the forms work under any path
/// prefix a reverse proxy serves the page at.
fn action(path: &str, token: &str, lang: Lang) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("lang", lang.code())
        .finish();
    format!("{path}?{query}")
}

async fn confirm_page(
    State(inbox): State<Arc<Inbox>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let linked = match notification(&inbox, &id, &query, &uri, &headers).await {
        Ok(linked) => linked,
        Err(answer) => return answer,
    };
    let (n, lang) = (&linked.notification, linked.lang);
    let current = inbox
        .determinations
        .record(&n.situation_id)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.determination);
    let card = notification_card(n, current.as_ref(), lang, linked.tz(), 0);
    // The id is a checked notification id (letters, digits, '.', '-', '_'): a path segment as
    // it is.
    let acknowledge = action(&id, &query.token, lang);
    let review = action(&format!("{id}/review"), &query.token, lang);
    let body = html! {
        p { (lang.text("ack-intro")) }
        p.note { (lang.text_with("inbox-times", &[("tz", linked.tz().into())])) }
        section aria-labelledby="n0" {
            (card)
            h3 { (lang.text("inbox-actions")) }
            form method="post" action=(acknowledge) {
                p { button { (lang.text("inbox-acknowledge")) } }
            }
            p { (lang.text_with("ack-review", &[
                ("determination", n.determination_id.as_str().into()),
                ("agency", word(lang, inbox.agency.proto()).into()),
            ])) }
            form method="post" action=(review) {
                input type="hidden" name="verdict" value="endorse";
                p { button { (lang.text("inbox-endorse")) } }
            }
            form method="post" action=(review) {
                input type="hidden" name="verdict" value="contest";
                p { label for="reason" { (lang.text("inbox-contest-reason")) } }
                p { textarea #reason name="comment" required maxlength=(MAX_COMMENT_CHARS) rows="3" cols="30" {} }
                p { button { (lang.text("inbox-contest")) } }
            }
        }
    };
    ack_page(
        StatusCode::OK,
        lang,
        here(&uri),
        &lang.text("ack-title"),
        body,
    )
}

async fn acknowledge(
    State(inbox): State<Arc<Inbox>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let linked = match notification(&inbox, &id, &query, &uri, &headers).await {
        Ok(linked) => linked,
        Err(answer) => return answer,
    };
    let lang = linked.lang;
    // The link was sent to the recipient alone: the acknowledgement is theirs.
    let stored = publish_ack(
        &inbox.client,
        &id,
        "link",
        &linked.notification.recipient_id,
    );
    match stored.await {
        Ok(()) => result(
            StatusCode::OK,
            lang,
            &uri,
            &lang.text_with("ack-acknowledged", &[("id", id.as_str().into())]),
        ),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "ack from link not stored");
            result(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                &uri,
                &lang.text("ack-ack-failed"),
            )
        }
    }
}

/// Endorses or contests the notification's determination in the recipient's name, through the
/// same request as every other review, so the same checks apply.
async fn review(
    State(inbox): State<Arc<Inbox>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<ReviewForm>,
) -> Response {
    let linked = match notification(&inbox, &id, &query, &uri, &headers).await {
        Ok(linked) => linked,
        Err(answer) => return answer,
    };
    let (n, lang) = (&linked.notification, linked.lang);
    let verdict = match form.verdict.as_str() {
        "endorse" => ReviewVerdict::Endorse,
        "contest" => ReviewVerdict::Contest,
        _ => ReviewVerdict::Unspecified,
    };
    let request = ReviewRequest {
        situation_id: n.situation_id.clone(),
        determination_id: n.determination_id.clone(),
        by: n.recipient_id.clone(),
        verdict: verdict as i32,
        comment: form.comment,
    };
    match ask_review(&inbox.client, inbox.agency, &request).await {
        Some(reply) if reply.recorded => {
            let status = reply
                .review
                .map(|r| word(lang, r.status()))
                .unwrap_or_default();
            let text = lang.text_with(
                "ack-reviewed",
                &[
                    ("determination", n.determination_id.as_str().into()),
                    ("status", status.into()),
                ],
            );
            result(StatusCode::OK, lang, &uri, &text)
        }
        Some(reply) => {
            // The review service's reason is in English: marked so, under the translated news.
            let body = html! {
                p role="status" { (lang.text("inbox-review-refused")) }
                p lang="en" { (reply.refused) }
            };
            ack_page(
                StatusCode::CONFLICT,
                lang,
                here(&uri),
                &lang.text("ack-title"),
                body,
            )
        }
        None => result(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            &uri,
            &lang.text("ack-review-failed"),
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
