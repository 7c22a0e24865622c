//! The coordinator's inbox (docs/design.md, "Notifications"), served by each agency's notifier
//! on its `ack_http` listener: `GET /inbox?t=<token>` lists the notifications waiting for one
//! coordinator, oldest first with their deadlines in the coordinator's time zone, each with the
//! situation as it stands (who leads each function and why, the figures, the status and
//! reviews, the history), in the coordinator's language (`?lang=` switches). Opening it changes
//! nothing; `POST /inbox` acts — Acknowledge, Endorse, Contest (with a reason) — through the
//! same subjects as every other acknowledgement and review, then redirects (303) back to the
//! inbox with the result. The forms, the language links and that redirect are relative to the
//! page, so the inbox works behind a reverse proxy that serves it under a path prefix.
//!
//! Who the coordinator is comes from a signed, expiring link bound to them
//! ([`crate::links`]), or — where an agency puts the inbox behind its single sign-on — from
//! `inbox.identity_header`, believed only on connections from `inbox.trusted_proxy`. Anything
//! else gets the same 403 page, whatever was wrong, so it tells nothing. A notifier serves only
//! its own agency's coordinators, and a coordinator acts only on their own notifications.
//! Every form carries a CSRF token bound to the coordinator.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Form, Router,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use ipnet::IpNet;
use serde::Deserialize;
use tandem_i18n::{
    Lang, local_time,
    words::{rationale_source, rationale_text, word},
};
use tandem_proto::v1::{
    Agency, LeadershipDetermination, Notification, ReviewRequest, ReviewVerdict, Role,
};
use tandem_web::{Here, Markup, Page, html, scrollable};

use crate::{
    ack_http::{ask_review, publish_ack},
    config::{InboxConfig, NotifyAgency},
    directory::{ChannelSpec, DirectoryEntry, LiveDirectory},
    links::{Links, Recipient},
    review::{Determinations, MAX_COMMENT_CHARS},
    rules,
    store::{RecordState, Store},
};

/// At most this many notifications on one page, the oldest.
pub const MAX_SHOWN: usize = 50;

/// What the inbox needs.
#[derive(Clone)]
pub(crate) struct Inbox {
    pub(crate) links: Links,
    pub(crate) client: async_nats::Client,
    pub(crate) store: Store,
    pub(crate) agency: NotifyAgency,
    pub(crate) directory: LiveDirectory,
    pub(crate) determinations: Determinations,
    pub(crate) proxy: TrustedProxy,
}

/// The single sign-on proxy an agency may put in front of its inbox.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxy {
    addresses: Vec<IpNet>,
    header: Option<HeaderName>,
}

impl TrustedProxy {
    /// The proxy of `config`; an address, range or header name that does not parse is an
    /// error (a start-up refusal), never silently ignored.
    pub fn new(config: &InboxConfig) -> anyhow::Result<Self> {
        let addresses = config
            .trusted_proxy
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "inbox.trusted_proxy: {text:?} is neither an IP address nor a CIDR range"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let header = match config.identity_header.trim() {
            "" => None,
            name => Some(HeaderName::try_from(name).map_err(|_| {
                anyhow::anyhow!("inbox.identity_header: {name:?} is not a header name")
            })?),
        };
        Ok(Self { addresses, header })
    }

    /// The identity a request names, if it came from a trusted proxy.
    fn identity<'a>(&self, peer: SocketAddr, headers: &'a HeaderMap) -> Option<&'a str> {
        let header = self.header.as_ref()?;
        if !self.addresses.iter().any(|net| net.contains(&peer.ip())) {
            return None;
        }
        headers.get(header)?.to_str().ok().map(str::trim)
    }
}

/// The inbox's routes.
pub(crate) fn router(inbox: Inbox) -> Router {
    Router::new()
        .route("/inbox", get(show).post(act))
        .with_state(Arc::new(inbox))
}

/// The page's query: the link's token, the language switch, and the result of the last action.
#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    t: String,
    lang: Option<String>,
    done: Option<String>,
}

/// An action's form.
#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    t: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    notification: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    comment: String,
}

fn now() -> i64 {
    i64::try_from(crate::store::now_ms() / 1000).unwrap_or(i64::MAX)
}

/// The language of a page for `entry` (when known), switched with `?lang=`, else negotiated
/// from the browser's `Accept-Language`.
pub(crate) fn language(
    requested: Option<&str>,
    entry: Option<&DirectoryEntry>,
    headers: &HeaderMap,
) -> Lang {
    let requested = requested
        .filter(|r| Lang::from_tag(r).is_some())
        .or(entry.map(|e| e.lang.as_str()));
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(requested, accept)
}

/// Why a request gets no inbox.
enum Refusal {
    /// No valid link, no trusted proxy's identity, or not one of this agency's coordinators.
    Forbidden,
    /// The directory or the notifications could not be read.
    Unavailable,
}

/// The coordinator a request is from: named by a valid link of this agency, or by a trusted
/// proxy; and their directory entry.
async fn coordinator(
    inbox: &Inbox,
    token: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(Recipient, DirectoryEntry), Refusal> {
    let entries = inbox.directory.entries().await.map_err(|error| {
        tracing::warn!(error = format!("{error:#}"), "inbox: directory not read");
        Refusal::Unavailable
    })?;
    let entry = if token.is_empty() {
        let identity = inbox
            .proxy
            .identity(peer, headers)
            .filter(|i| !i.is_empty())
            .ok_or(Refusal::Forbidden)?;
        entries.iter().find(|e| {
            e.id == identity
                || e.channels.iter().any(|c| {
                    matches!(c, ChannelSpec::Email { address } if address.eq_ignore_ascii_case(identity))
                })
        })
    } else {
        let recipient = inbox
            .links
            .inbox_recipient(token, now())
            .filter(|r| r.agency == inbox.agency)
            .ok_or(Refusal::Forbidden)?;
        entries.iter().find(|e| e.id == recipient.id)
    };
    let entry = entry
        .filter(|e| e.agency == inbox.agency)
        .ok_or(Refusal::Forbidden)?;
    Ok((
        Recipient {
            agency: entry.agency,
            id: entry.id.clone(),
        },
        entry.clone(),
    ))
}

async fn show(
    State(inbox): State<Arc<Inbox>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<PageQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let here = Here::new(&uri);
    let (recipient, entry) = match coordinator(&inbox, &query.t, peer, &headers).await {
        Ok(found) => found,
        Err(refusal) => return refused(refusal, language(query.lang.as_deref(), None, &headers)),
    };
    let lang = language(query.lang.as_deref(), Some(&entry), &headers);
    let waiting = match inbox.store.records().await {
        Ok(records) => records
            .into_iter()
            .filter(|r| r.state == RecordState::Pending && r.notification.recipient_id == entry.id)
            .map(|r| r.notification)
            .collect::<Vec<_>>(),
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "inbox: notifications not read"
            );
            return refused(Refusal::Unavailable, lang);
        }
    };
    let form = FormFields {
        token: &query.t,
        csrf: inbox.links.csrf(&recipient),
        lang,
    };
    let reviews = matches!(
        entry.role.0,
        Role::CountryCoordinator | Role::RegionalCoordinator | Role::Hq
    );
    let mut shown = Vec::new();
    for notification in waiting.iter().take(MAX_SHOWN) {
        let current = inbox
            .determinations
            .record(&notification.situation_id)
            .await
            .ok()
            .flatten()
            .and_then(|r| r.determination);
        shown.push((notification, current));
    }
    let done = query.done.as_deref().and_then(done_message);
    let main = html! {
        h1 { (lang.text_with("inbox-heading", &[("name", entry.name.as_str().into())])) }
        p { (lang.text("inbox-intro")) }
        p.note { (lang.text_with("inbox-times", &[("tz", entry.tz.as_str().into())])) }
        @if let Some(id) = done {
            p.status role="status" {
                (lang.text_with(id, &[("max", MAX_COMMENT_CHARS.to_string().into())]))
            }
        }
        @if waiting.is_empty() {
            p { (lang.text("inbox-empty")) }
        }
        @for (index, (notification, current)) in shown.iter().enumerate() {
            (notification_section(notification, current.as_ref(), &entry, &form, index, reviews))
        }
        @if waiting.len() > MAX_SHOWN {
            p {
                (lang.text_with(
                    "inbox-more",
                    &[("count", (waiting.len() - MAX_SHOWN).to_string().into())],
                ))
            }
        }
    };
    page(StatusCode::OK, lang, here, &lang.text("inbox-title"), main)
}

/// The message of an action's result, from the fixed set (nothing of the query is shown).
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "acknowledged" => "inbox-done-acknowledged",
        "reviewed" => "inbox-done-reviewed",
        "failed" => "inbox-failed",
        "refused" => "inbox-review-refused",
        "needs-reason" => "inbox-needs-reason",
        "too-long" => "inbox-reason-too-long",
        "personal-data" => "inbox-personal-data",
        _ => return None,
    })
}

/// The hidden fields every form of a page carries.
struct FormFields<'a> {
    token: &'a str,
    csrf: String,
    lang: Lang,
}

impl FormFields<'_> {
    fn hidden(&self, notification: &str) -> Markup {
        html! {
            input type="hidden" name="t" value=(self.token);
            input type="hidden" name="csrf" value=(self.csrf);
            input type="hidden" name="lang" value=(self.lang.code());
            input type="hidden" name="notification" value=(notification);
        }
    }
}

/// What a notification is, its deadline and the situation as it stands, in `lang` with times
/// in `tz`; its heading has the id `n<index>`. The inbox and the acknowledgement page
/// ([`crate::ack_http`]) both show a notification this way.
pub(crate) fn notification_card(
    n: &Notification,
    current: Option<&LeadershipDetermination>,
    lang: Lang,
    tz: &str,
    index: usize,
) -> Markup {
    let deadline = n
        .acknowledge_by
        .as_ref()
        .map(|t| local_time(t.seconds, tz))
        .unwrap_or_default();
    // In the page's language, which `?lang=` may have switched from the recipient's.
    let summary = rules::summary(n, lang);
    html! {
        h2 id={ "n" (index) } {
            (lang.text_with("inbox-notification", &[
                ("kind", word(lang, n.kind()).into()),
                ("situation", n.situation_id.as_str().into()),
                ("country", n.country.as_str().into()),
            ]))
        }
        @if n.escalation_tier > 0 {
            p { (lang.text_with("inbox-escalation", &[("tier", n.escalation_tier.into())])) }
        }
        p { strong { (lang.text_with("inbox-deadline", &[("deadline", deadline.into())])) } }
        @for line in summary.lines() {
            p { (line) }
        }
        h3 { (lang.text("inbox-situation")) }
        @match current {
            None => p { (lang.text("inbox-no-determination")) },
            Some(d) => (situation(n, d, lang, tz)),
        }
        @if !n.trace_url.is_empty() {
            p { a href=(n.trace_url) { (lang.text("inbox-trace")) } }
        }
    }
}

/// One waiting notification: its card ([`notification_card`]) and the actions, whose forms
/// post to `inbox`, relative to the page, so that they work under any path prefix.
fn notification_section(
    n: &Notification,
    current: Option<&LeadershipDetermination>,
    entry: &DirectoryEntry,
    form: &FormFields<'_>,
    index: usize,
    reviews: bool,
) -> Markup {
    let lang = form.lang;
    let hidden = form.hidden(&n.notification_id);
    html! {
        section aria-labelledby={ "n" (index) } {
            (notification_card(n, current, lang, &entry.tz, index))
            h3 { (lang.text("inbox-actions")) }
            div {
                form method="post" action="inbox" {
                    (hidden)
                    p {
                        button name="action" value="acknowledge" { (lang.text("inbox-acknowledge")) }
                    }
                }
                @if reviews && current.is_some() {
                    form method="post" action="inbox" {
                        (hidden)
                        p { button name="action" value="endorse" { (lang.text("inbox-endorse")) } }
                    }
                    form method="post" action="inbox" {
                        (hidden)
                        p { label for={ "reason" (index) } { (lang.text("inbox-contest-reason")) } }
                        p {
                            textarea id={ "reason" (index) } name="comment" required
                                maxlength=(MAX_COMMENT_CHARS) rows="3" cols="30" {}
                        }
                        p { button name="action" value="contest" { (lang.text("inbox-contest")) } }
                    }
                }
            }
        }
    }
}

/// The situation as it stands: classification, leads, status, functions, why, figures,
/// reviews and history.
fn situation(n: &Notification, d: &LeadershipDetermination, lang: Lang, tz: &str) -> Markup {
    let at = |t: Option<&tandem_proto::Timestamp>| {
        t.map(|t| local_time(t.seconds, tz)).unwrap_or_default()
    };
    let functions = html! {
        table {
            thead { tr {
                th scope="col" { (lang.text("inbox-function")) }
                th scope="col" { (lang.text("inbox-leads")) }
            } }
            tbody {
                @for f in &d.functions {
                    tr {
                        td { (word(lang, f.function())) }
                        td { (rules::agencies(&f.agencies, lang)) }
                    }
                }
            }
        }
    };
    let figures = html! {
        table {
            thead { tr {
                th scope="col" { (lang.text("inbox-group")) }
                th.n scope="col" { (lang.text("inbox-people")) }
                th scope="col" { (lang.text("inbox-source")) }
                th scope="col" { (lang.text("inbox-as-of")) }
            } }
            tbody {
                @for f in &d.figures {
                    tr {
                        td { (word(lang, f.group())) }
                        td.n { (tandem_web::number(lang, f.count)) }
                        td { (word(lang, f.source_agency())) }
                        td { (f.as_of) }
                    }
                }
            }
        }
    };
    html! {
        @if d.determination_id != n.determination_id {
            p {
                (lang.text_with(
                    "inbox-superseded",
                    &[("determination", d.determination_id.as_str().into())],
                ))
            }
        }
        dl {
            dt { (lang.text("inbox-classification")) }
            dd { (word(lang, d.classification())) }
            dt { (lang.text("inbox-arrangement")) }
            dd { (word(lang, d.arrangement())) }
            dt { (lang.text("inbox-leads")) }
            dd { (rules::agencies(&d.lead_agencies, lang)) }
            dt { (lang.text("inbox-status")) }
            dd { (word(lang, d.status())) }
        }
        @if !d.functions.is_empty() {
            h4 { (lang.text("inbox-functions")) }
            (scrollable(&lang.text("inbox-functions"), functions))
        }
        @if !d.rationale.is_empty() {
            h4 { (lang.text("inbox-why")) }
            ul {
                @for r in &d.rationale {
                    li {
                        (rationale_text(lang, r)) " "
                        small { "(" (rationale_source(lang, r)) ")" }
                    }
                }
            }
        }
        @if !d.figures.is_empty() {
            h4 { (lang.text("inbox-figures")) }
            (scrollable(&lang.text("inbox-figures"), figures))
        }
        h4 { (lang.text("inbox-reviews")) }
        @if d.reviews.is_empty() {
            p { (lang.text("inbox-no-reviews")) }
        } @else {
            ul {
                @for r in &d.reviews {
                    @let agency = match r.agency() {
                        Agency::Unspecified => lang.text("summary-an-agency"),
                        agency => word(lang, agency),
                    };
                    li {
                        (lang.text_with("inbox-review", &[
                            ("agency", agency.into()),
                            ("by", r.by.as_str().into()),
                            ("verdict", word(lang, r.verdict()).into()),
                            ("at", at(r.at.as_ref()).into()),
                        ]))
                        @if !r.comment.is_empty() {
                            ": " q { (r.comment) }
                        }
                    }
                }
            }
        }
        h4 { (lang.text("inbox-history")) }
        ul {
            li {
                (lang.text_with("inbox-history-determined", &[
                    ("at", at(d.determined_at.as_ref()).into()),
                    ("determination", d.determination_id.as_str().into()),
                ]))
            }
            @if d.changed && d.previous_classification != d.classification {
                li {
                    (lang.text_with(
                        "inbox-history-previous",
                        &[("classification", word(lang, d.previous_classification()).into())],
                    ))
                }
            }
            li {
                (lang.text_with(
                    "inbox-history-notified",
                    &[("at", at(n.created_at.as_ref()).into())],
                ))
            }
        }
    }
}

/// Acts on one of the coordinator's notifications, then sends them back to the inbox with the
/// result (303, so a reload does not post again).
async fn act(
    State(inbox): State<Arc<Inbox>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    let requested = Some(form.lang.as_str()).filter(|l| !l.is_empty());
    let (recipient, entry) = match coordinator(&inbox, &form.t, peer, &headers).await {
        Ok(found) => found,
        Err(refusal) => return refused(refusal, language(requested, None, &headers)),
    };
    let lang = language(requested, Some(&entry), &headers);
    if !inbox.links.verify_csrf(&recipient, &form.csrf) {
        return refused(Refusal::Forbidden, lang);
    }
    // Only the coordinator's own notifications (the store holds only this agency's).
    let notification = match inbox.store.record(&form.notification).await {
        Ok(Some((record, _))) if record.notification.recipient_id == entry.id => {
            record.notification
        }
        Ok(_) => return refused(Refusal::Forbidden, lang),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "inbox: notification not read");
            return refused(Refusal::Unavailable, lang);
        }
    };
    let done = match form.action.as_str() {
        "acknowledge" => {
            match publish_ack(
                &inbox.client,
                &notification.notification_id,
                "inbox",
                &entry.id,
            )
            .await
            {
                Ok(()) => "acknowledged",
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "inbox: ack not stored");
                    "failed"
                }
            }
        }
        "endorse" | "contest" => review(&inbox, &notification, &entry, &form).await,
        _ => return refused(Refusal::Forbidden, lang),
    };
    let mut back = url_query(&[("lang", lang.code()), ("done", done)]);
    if !form.t.is_empty() {
        back = format!("{}&{back}", url_query(&[("t", &form.t)]));
    }
    // Relative to `/inbox`, so the inbox works under any path prefix of `public_url`.
    // `Redirect::to` answers 303 See Other.
    Redirect::to(&format!("inbox?{back}")).into_response()
}

/// Endorses or contests the notification's determination in the coordinator's name, through
/// the agency's review service; the result's name for the page.
async fn review(
    inbox: &Inbox,
    notification: &Notification,
    entry: &DirectoryEntry,
    form: &ActionForm,
) -> &'static str {
    let contest = form.action == "contest";
    let comment = form.comment.trim();
    // The review service checks the same; checked here first to say why in the reader's
    // language.
    if contest && comment.is_empty() {
        return "needs-reason";
    }
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return "too-long";
    }
    if tandem_intake::validate::personal_data(comment).is_some() {
        return "personal-data";
    }
    let request = ReviewRequest {
        situation_id: notification.situation_id.clone(),
        determination_id: notification.determination_id.clone(),
        by: entry.id.clone(),
        verdict: if contest {
            ReviewVerdict::Contest
        } else {
            ReviewVerdict::Endorse
        } as i32,
        comment: comment.to_string(),
    };
    match ask_review(&inbox.client, inbox.agency, &request).await {
        Some(reply) if reply.recorded => "reviewed",
        Some(_) => "refused",
        None => "failed",
    }
}

/// `pairs` as a URL query.
fn url_query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The one answer to every refusal: the same page whatever was wrong (its language switch
/// leads to the bare inbox, echoing nothing of the request).
fn refused(refusal: Refusal, lang: Lang) -> Response {
    let here = Here::new(&Uri::from_static("/inbox"));
    let (status, title, text) = match refusal {
        Refusal::Forbidden => (
            StatusCode::FORBIDDEN,
            lang.text("inbox-refused-title"),
            lang.text("inbox-refused"),
        ),
        Refusal::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            lang.text("inbox-title"),
            lang.text("inbox-unavailable"),
        ),
    };
    let main = html! { h1 { (title) } p { (text) } };
    page(status, lang, here, &title, main)
}

/// A whole page in `lang` in the pages' common layout ([`tandem_web`]: security headers,
/// language switch), never stored by a cache since it holds the link's token in its forms.
/// `main` starts with the page's `h1`.
pub(crate) fn page(
    status: StatusCode,
    lang: Lang,
    here: Here,
    title: &str,
    main: Markup,
) -> Response {
    let mut response = tandem_web::render(
        status,
        Page {
            lang,
            title: title.to_string(),
            here,
            main,
        },
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_is_believed_only_from_its_addresses() {
        let proxy = TrustedProxy::new(&InboxConfig {
            trusted_proxy: vec!["10.0.0.0/24".into(), "192.0.2.7".into()],
            identity_header: "X-Forwarded-User".into(),
            ..Default::default()
        })
        .expect("valid");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-user", HeaderValue::from_static("col-iom-cc"));
        let from = |ip: &str| proxy.identity(format!("{ip}:4000").parse().expect("addr"), &headers);
        assert_eq!(from("10.0.0.9"), Some("col-iom-cc"));
        assert_eq!(from("192.0.2.7"), Some("col-iom-cc"));
        assert_eq!(from("192.0.2.8"), None);
        assert_eq!(from("127.0.0.1"), None);
        let refused = TrustedProxy::new(&InboxConfig {
            trusted_proxy: vec!["proxy.example.org".into()],
            ..Default::default()
        });
        assert!(refused.is_err());
        assert!(
            TrustedProxy::new(&InboxConfig::default())
                .expect("empty")
                .identity("10.0.0.1:1".parse().expect("addr"), &headers)
                .is_none(),
            "no header configured: no proxy trusted"
        );
    }
}
