//! The coordinator's inbox (docs/design.md, "Notifications"), over HTTP against a real stack:
//! a nats-server of the test's own, leadership and both agencies' notifiers in this process,
//! each notifier serving its inbox on loopback, and a webhook receiver for IOM's Colombia
//! coordinator (who reads Spanish, in Bogotá).
//!
//! - the inbox link of a webhook delivery opens the coordinator's page: the situation as it
//!   stands and the actions; opening it changes nothing; Acknowledge through the page (with its
//!   CSRF token, never without) stops the escalation;
//! - a tampered, expired or other agency's link is refused with the same page, and so is an
//!   open inbox; a proxy's identity header is believed only from the configured proxy;
//! - Endorse and Contest through the page are recorded by leadership; a contest without a
//!   reason or with personal data is refused, saying why in the reader's language;
//! - in a browser: the page at 360 px and on a desktop has no serious or critical axe-core
//!   violation, clicking Acknowledge acknowledges, and the French and Spanish pages show no
//!   English message;
//! - behind a reverse proxy serving the notifier under a path prefix, every link, form and
//!   redirect of the inbox and the ack page stays under the prefix, and acting there works.

use std::sync::{Arc, Mutex};

use async_nats::jetstream;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    routing::post,
};
use prost::Message as _;
use tandem_i18n::Lang;
use tandem_leadership::LeadershipConfig;
use tandem_notify::{
    NotifyAgency, NotifyConfig,
    config::{SlaConfig, WebhookConfig},
    directory::Directory,
    links::{Links, Recipient},
    store::{RecordState, Store},
};
use tandem_proto::v1::{
    Agency, DeterminationStatus, LeadershipRecord, Notification, PopulationGroup, ReviewVerdict,
};
use tandem_runtime::{Shutdown, topology};
use tandem_testkit::{
    DEADLINE, NatsServer,
    browser::{self, Browser},
    eventually,
    reports::{Report, announce_accepted},
};
use url::Url;

const SECRET: &str = "inbox-link-secret-for-tests";
const WEBHOOK_SECRET: &str = "whsec_aW9tLXdlYmhvb2stc2VjcmV0LTAxMjM0NTY3ODk=";

/// The directory: IOM's three tiers in COL (the country coordinator told by webhook, in
/// Spanish, in Bogotá) and UNHCR's country coordinator (in French, in Dakar for the test).
fn directory(hook: &str) -> String {
    format!(
        r#"
- {{id: iom-col-cc, name: Camila, agency: iom, role: COUNTRY_COORDINATOR, countries: [COL], lang: es, tz: America/Bogota, channels: [{{webhook: {{url: "{hook}", secret: "{WEBHOOK_SECRET}"}}}}, {{email: {{address: camila@iom.example.org}}}}]}}
- {{id: iom-americas-rc, name: Rafael, agency: iom, role: REGIONAL_COORDINATOR, countries: [COL], channels: [{{nats: {{}}}}]}}
- {{id: iom-hq, name: Hana, agency: iom, role: HQ, channels: [{{nats: {{}}}}]}}
- {{id: unhcr-col-cc, name: Awa, agency: unhcr, role: COUNTRY_COORDINATOR, countries: [COL], lang: fr, tz: Africa/Dakar, channels: [{{nats: {{}}}}]}}
"#
    )
}

/// The test's stack.
struct World {
    _server: NatsServer,
    js: jetstream::Context,
    shutdown: Shutdown,
    /// Where each agency's notifier serves its inbox.
    iom: String,
    unhcr: String,
    hook: Arc<Mutex<Vec<Bytes>>>,
    http: reqwest::Client,
}

impl Drop for World {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

async fn receive(State(received): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes) {
    received.lock().expect("lock").push(body);
}

impl World {
    /// The stack, IOM's country coordinators given `country_secs` to acknowledge. IOM's
    /// notifier trusts a proxy on loopback; UNHCR's one on 192.0.2.1, which no test connects
    /// from.
    async fn start(country_secs: u64) -> Self {
        tandem_testkit::init_test_log();
        let server = NatsServer::start();
        let js = server.jetstream().await;
        let hook = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(hook.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let hook_url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let loopback = WebhookConfig {
            allow_loopback: true,
            ..Default::default()
        };
        let entries = tandem_notify::directory::parse_with(&directory(&hook_url), &loopback)
            .expect("valid directory");
        Directory::open(&js, &Default::default())
            .await
            .expect("directory bucket")
            .import(&entries)
            .await
            .expect("imported");
        let shutdown = Shutdown::new();
        let mut leadership = LeadershipConfig::default();
        leadership.common.nats.url = server.url();
        tokio::spawn(tandem_leadership::run(leadership, shutdown.clone()));
        let ports = tandem_testkit::process::free_ports(2);
        let mut addresses = Vec::new();
        for (agency, port, proxy) in [
            (NotifyAgency::Iom, ports[0], "127.0.0.1"),
            (NotifyAgency::Unhcr, ports[1], "192.0.2.1"),
        ] {
            let mut config = NotifyConfig {
                agency,
                timer_tick_ms: 100,
                sla: SlaConfig {
                    country_coordinator_secs: country_secs,
                    ..SlaConfig::uniform(3_600)
                },
                ..Default::default()
            };
            config.common.nats.url = server.url();
            config.webhook = loopback.clone();
            config.ack_http.addr = Some(format!("127.0.0.1:{port}"));
            config.ack_http.secret = SECRET.into();
            config.inbox.trusted_proxy = vec![proxy.into()];
            config.inbox.identity_header = "X-Forwarded-User".into();
            tokio::spawn(tandem_notify::run(config, shutdown.clone()));
            addresses.push(format!("http://127.0.0.1:{port}"));
        }
        let client = server.client().await;
        tandem_testkit::wait_registered(
            &client,
            &[
                "tandem-leadership",
                "tandem-notify-iom",
                "tandem-notify-unhcr",
            ],
        )
        .await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let unhcr = addresses.pop().expect("two");
        let iom = addresses.pop().expect("two");
        Self {
            _server: server,
            js,
            shutdown,
            iom,
            unhcr,
            hook,
            http,
        }
    }

    /// Announces an accepted IOM report of a mixed movement in Colombia, situation `situation`,
    /// and returns the notification IOM's country coordinator gets for it by webhook.
    async fn report(&self, situation: &str) -> Notification {
        let report = Report::new(Agency::Iom, &format!("{situation}-r1"), situation, 1)
            .figures(
                "2026-01-31",
                "",
                &[
                    (PopulationGroup::Refugee, 5_000),
                    (PopulationGroup::Migrant, 4_000),
                ],
            )
            .build();
        announce_accepted(&self.js, &report, &format!("accepted:{situation}"), 0).await;
        eventually(
            format!("a webhook delivery about {situation}"),
            DEADLINE,
            || async {
                self.hook
                    .lock()
                    .expect("lock")
                    .iter()
                    .map(|body| {
                        tandem_proto::json::from_str::<Notification>(
                            std::str::from_utf8(body).expect("utf-8"),
                        )
                        .expect("a Notification in the JSON mapping")
                    })
                    .find(|n| n.situation_id == situation)
            },
        )
        .await
    }

    /// Status and body of `GET url` with `headers`.
    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.http.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("GET answered");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Status, `Location` and body of the inbox form at `base` posted with `fields`.
    async fn post(
        &self,
        base: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        self.post_to(&format!("{base}/inbox"), fields, headers)
            .await
    }

    /// Status, `Location` and body of a form posted to `url` with `fields`.
    async fn post_to(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("POST answered");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, location, response.text().await.expect("body"))
    }

    /// The record of IOM's notification `id`.
    async fn state(&self, id: &str) -> RecordState {
        let store = Store::open(&self.js, &Default::default(), NotifyAgency::Iom)
            .await
            .expect("store");
        store
            .record(id)
            .await
            .expect("read")
            .expect("recorded")
            .0
            .state
    }

    /// The situation's record in leadership's bucket.
    async fn record(&self, situation: &str) -> LeadershipRecord {
        let kv = self
            .js
            .get_key_value(topology::LEADERSHIP_BUCKET)
            .await
            .expect("bucket");
        let bytes = kv
            .get(tandem_runtime::kv_key::segment(situation))
            .await
            .expect("read")
            .expect("a record");
        LeadershipRecord::decode(bytes).expect("record")
    }

    /// Every notification to `recipient` on the NATS channel.
    async fn out_to(&self, recipient: &str) -> Vec<Notification> {
        tandem_testkit::stream_messages(&self.js, topology::NOTIFY_STREAM)
            .await
            .into_iter()
            .filter(|m| m.subject.ends_with(&format!(".{recipient}")))
            .filter(|m| m.subject.starts_with("tandem.notify.out."))
            .map(|m| Notification::decode(m.payload).expect("notification"))
            .collect()
    }
}

/// The value of the page's first hidden input `name`.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in the page:\n{page}"))
        + marker.len();
    let end = page[start..].find('"').expect("closing quote") + start;
    page[start..end].replace("&amp;", "&")
}

/// Every link (`href`) and form `action` of `page`, as the browser reads them.
fn links(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in [" href=\"", " action=\""] {
        for (start, _) in page.match_indices(attribute) {
            let value = &page[start + attribute.len()..];
            let end = value.find('"').expect("closing quote");
            found.push(value[..end].replace("&amp;", "&"));
        }
    }
    found
}

/// A reverse proxy serving `upstream` under `prefix`, as an agency may put its notifier behind
/// one: a request outside the prefix gets 404, the others go upstream without it, and the
/// answer comes back as it is, `Location` included. Returns the prefix's address.
async fn proxy_under(prefix: &'static str, upstream: String) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let forward = move |method: Method, uri: Uri, mut headers: HeaderMap, body: Bytes| {
        let (http, upstream) = (http.clone(), upstream.clone());
        async move {
            let Some(rest) = uri
                .path_and_query()
                .and_then(|p| p.as_str().strip_prefix(prefix))
                .filter(|rest| rest.starts_with('/'))
            else {
                return (StatusCode::NOT_FOUND, HeaderMap::new(), Bytes::new());
            };
            headers.remove(header::HOST);
            let answer = http
                .request(method, format!("{upstream}{rest}"))
                .headers(headers)
                .body(body)
                .send()
                .await
                .expect("upstream answers");
            let (status, mut headers) = (answer.status(), answer.headers().clone());
            headers.remove(header::TRANSFER_ENCODING);
            headers.remove(header::CONTENT_LENGTH);
            (status, headers, answer.bytes().await.expect("body"))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(forward)).await });
    format!("http://{address}{prefix}")
}

/// The query value `name` of `url`.
fn query(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("fits")
}

#[tokio::test]
async fn an_inbox_link_from_a_webhook_opens_the_page_and_acknowledge_there_stops_the_escalation() {
    // Long enough for the page to be used before the deadline on a loaded machine.
    let world = World::start(12).await;
    let first = world.report("INBOX-ACK-1").await;
    let marker = world.report("INBOX-ACK-2").await;
    assert!(
        first
            .inbox_url
            .starts_with(&format!("{}/inbox?t=", world.iom)),
        "the webhook JSON carries the inbox link: {first:?}"
    );

    let (status, page) = world.get(&first.inbox_url, &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html lang=\"es\""), "in Camila's language");
    for expected in [
        "Notificaciones pendientes para Camila",
        "INBOX-ACK-1",
        "INBOX-ACK-2",
        "America/Bogota",
        "Quién lidera cada función",
        "Cifras",
        "Acusar recibo",
        "Respaldar",
        "Impugnar",
    ] {
        assert!(page.contains(expected), "{expected:?} missing:\n{page}");
    }
    assert!(
        page.find("INBOX-ACK-1") < page.find("INBOX-ACK-2"),
        "oldest first"
    );
    // Opening (twice) changed nothing.
    world.get(&first.inbox_url, &[]).await;
    assert_eq!(
        world.state(&first.notification_id).await,
        RecordState::Pending
    );

    let token = query(&first.inbox_url, "t");
    let csrf = hidden(&page, "csrf");
    let ack = |csrf: &'static str| {
        [
            ("t", token.clone()),
            ("csrf", csrf.to_string()),
            ("notification", first.notification_id.clone()),
            ("action", "acknowledge".to_string()),
        ]
    };
    for (what, csrf) in [("no", ""), ("a wrong", "AAAA")] {
        let fields = ack(csrf);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, _) = world.post(&world.iom, &fields, &[]).await;
        assert_eq!(status, 403, "{what} CSRF token is refused");
    }
    assert_eq!(
        world.state(&first.notification_id).await,
        RecordState::Pending
    );

    let fields = [
        ("t", token.as_str()),
        ("csrf", csrf.as_str()),
        ("notification", first.notification_id.as_str()),
        ("action", "acknowledge"),
    ];
    let (status, location, _) = world.post(&world.iom, &fields, &[]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("inbox?t="), "{location}");
    let (_, after) = world.get(&format!("{}/{location}", world.iom), &[]).await;
    assert!(after.contains("Acuse de recibo registrado"), "{after}");
    eventually("the acknowledgement recorded", DEADLINE, || async {
        world.state(&first.notification_id).await == RecordState::Acknowledged
    })
    .await;

    // The marker, created after it with the same deadline, escalates to the regional
    // coordinator: by then the acknowledged one would have too.
    eventually("the unacknowledged marker escalated", DEADLINE, || async {
        world
            .out_to("iom-americas-rc")
            .await
            .iter()
            .any(|n| n.escalates_notification_id == marker.notification_id)
    })
    .await;
    let escalated: Vec<String> = world
        .out_to("iom-americas-rc")
        .await
        .into_iter()
        .map(|n| n.escalates_notification_id)
        .collect();
    assert!(
        !escalated.contains(&first.notification_id),
        "the acknowledged notification did not escalate: {escalated:?}"
    );
}

#[tokio::test]
async fn tampered_expired_and_other_agencys_links_and_an_open_inbox_are_refused() {
    let world = World::start(3_600).await;
    let notification = world.report("INBOX-REFUSED").await;
    let link = &notification.inbox_url;
    let (status, _) = world.get(link, &[]).await;
    assert_eq!(status, 200);

    let links = Links::new(&world.iom, SECRET.as_bytes());
    let camila = Recipient {
        agency: NotifyAgency::Iom,
        id: "iom-col-cc".into(),
    };
    let awa = Recipient {
        agency: NotifyAgency::Unhcr,
        id: "unhcr-col-cc".into(),
    };
    // The last character of the signature changed.
    let mut tampered = link.clone();
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let expired = links.inbox_link(&camila, now() - 1);
    let awas_at_iom = Links::new(&world.iom, SECRET.as_bytes()).inbox_link(&awa, now() + 600);
    let camilas_at_unhcr = format!("{}/inbox?t={}", world.unhcr, query(link, "t"));
    let mut refusals = Vec::new();
    for (what, url) in [
        ("tampered", tampered.as_str()),
        ("expired", expired.as_str()),
        ("UNHCR's coordinator at IOM", awas_at_iom.as_str()),
        ("IOM's link at UNHCR", camilas_at_unhcr.as_str()),
    ] {
        let (status, page) = world.get(url, &[("accept-language", "en")]).await;
        assert_eq!(status, 403, "{what}: {page}");
        assert!(!page.contains("INBOX-REFUSED"), "{what} leaked: {page}");
        refusals.push(page);
    }
    assert!(
        refusals.windows(2).all(|pair| pair[0] == pair[1]),
        "every refusal is the same page"
    );
    assert!(refusals[0].contains("This link is not valid"));

    // No link: only a trusted proxy names the coordinator.
    let open = format!("{}/inbox", world.iom);
    let (status, _) = world.get(&open, &[]).await;
    assert_eq!(status, 403, "an open inbox is refused");
    let (status, page) = world
        .get(&open, &[("x-forwarded-user", "camila@iom.example.org")])
        .await;
    assert_eq!(status, 200, "IOM trusts its proxy on loopback: {page}");
    assert!(page.contains("INBOX-REFUSED"));
    let (status, _) = world
        .get(&open, &[("x-forwarded-user", "iom-col-cc")])
        .await;
    assert_eq!(status, 200, "by directory id too");
    let (status, _) = world
        .get(&open, &[("x-forwarded-user", "unhcr-col-cc")])
        .await;
    assert_eq!(status, 403, "IOM's proxy cannot name UNHCR's coordinator");
    let (status, _) = world
        .get(
            &format!("{}/inbox", world.unhcr),
            &[("x-forwarded-user", "unhcr-col-cc")],
        )
        .await;
    assert_eq!(
        status, 403,
        "UNHCR trusts 192.0.2.1 only: the header from loopback is refused"
    );
}

#[tokio::test]
async fn endorse_and_contest_through_the_inbox_are_recorded_and_a_bad_reason_is_refused() {
    let world = World::start(3_600).await;
    let endorsed = world.report("INBOX-ENDORSE").await;
    let contested = world.report("INBOX-CONTEST").await;
    let (_, page) = world.get(&contested.inbox_url, &[]).await;
    let token = query(&contested.inbox_url, "t");
    let csrf = hidden(&page, "csrf");
    let act = |notification: &Notification, action: &'static str, comment: &'static str| {
        let (token, csrf, id) = (
            token.clone(),
            csrf.clone(),
            notification.notification_id.clone(),
        );
        let world = &world;
        async move {
            let fields = [
                ("t", token.as_str()),
                ("csrf", csrf.as_str()),
                ("notification", id.as_str()),
                ("action", action),
                ("comment", comment),
            ];
            let (status, location, _) = world.post(&world.iom, &fields, &[]).await;
            assert_eq!(status, 303);
            query(&format!("http://x/{location}"), "done")
        }
    };
    assert_eq!(act(&endorsed, "endorse", "").await, "reviewed");
    assert_eq!(act(&contested, "contest", "  ").await, "needs-reason");
    assert_eq!(
        act(&contested, "contest", "call me at +57 601 555 0100").await,
        "personal-data"
    );
    assert!(
        world
            .record("INBOX-CONTEST")
            .await
            .determination
            .expect("d")
            .reviews
            .is_empty(),
        "nothing recorded for a refused contest"
    );
    let (_, refused) = world
        .get(
            &format!("{}/inbox?t={token}&done=personal-data", world.iom),
            &[],
        )
        .await;
    assert!(refused.contains("datos personales"), "said in Spanish");
    assert_eq!(
        act(
            &contested,
            "contest",
            "The migrant figures predate the new arrivals."
        )
        .await,
        "reviewed"
    );

    let endorsement = world
        .record("INBOX-ENDORSE")
        .await
        .determination
        .expect("d");
    assert_eq!(
        endorsement
            .reviews
            .iter()
            .map(|r| (r.by.as_str(), r.verdict()))
            .collect::<Vec<_>>(),
        [("iom-col-cc", ReviewVerdict::Endorse)]
    );
    let contest = world
        .record("INBOX-CONTEST")
        .await
        .determination
        .expect("d");
    assert_eq!(contest.status(), DeterminationStatus::Contested);
    assert_eq!(
        contest.reviews[0].comment,
        "The migrant figures predate the new arrivals."
    );
    // The page shows the reviews as they stand.
    let (_, page) = world.get(&contested.inbox_url, &[]).await;
    assert!(page.contains("The migrant figures predate the new arrivals."));
}

#[tokio::test]
async fn in_a_browser_the_inbox_is_accessible_translated_and_acknowledges() {
    let world = World::start(3_600).await;
    let notification = world.report("INBOX-BROWSER").await;
    for size in [browser::PHONE, browser::DESKTOP] {
        let browser = Browser::start(size).await;
        browser.open(&notification.inbox_url).await;
        assert_eq!(browser.html_lang().await, "es");
        let violations = browser.serious_violations().await;
        assert!(violations.is_empty(), "{size:?}: {violations:#?}");
    }
    let browser = Browser::start(browser::PHONE).await;
    for lang in [Lang::Fr, Lang::Es] {
        browser
            .open(&format!("{}&lang={}", notification.inbox_url, lang.code()))
            .await;
        let text = browser.visible_texts().await;
        let english = browser::untranslated(lang, &["Inbox", "Notification", "Page"], &text);
        assert!(english.is_empty(), "{lang:?}: {english:#?}\n{text}");
    }
    browser.open(&notification.inbox_url).await;
    let button = browser
        .client()
        .find(fantoccini::Locator::XPath("//button[@value='acknowledge']"))
        .await
        .expect("an Acknowledge button");
    button.click().await.expect("clicked");
    eventually("the acknowledgement recorded", DEADLINE, || async {
        world.state(&notification.notification_id).await == RecordState::Acknowledged
    })
    .await;
    let text = browser.visible_texts().await;
    assert!(text.contains("Acuse de recibo registrado"), "{text}");
}

#[tokio::test]
async fn behind_a_proxy_under_a_path_prefix_the_inbox_and_the_ack_page_stay_under_it() {
    const PREFIX: &str = "/agencies/iom";
    let world = World::start(3_600).await;
    let through_inbox = world.report("INBOX-PREFIX-1").await;
    let through_link = world.report("INBOX-PREFIX-2").await;
    let base = proxy_under(PREFIX, world.iom.clone()).await;
    let under = |page: &Url, target: &str| {
        let url = page.join(target).expect("a URL");
        assert!(
            url.path().starts_with(&format!("{PREFIX}/")),
            "{target:?} on {page} leads out of the prefix, to {url}"
        );
        url
    };

    // The inbox: every link stays under the prefix, and each language link answers there.
    let inbox = Url::parse(&through_inbox.inbox_url.replacen(&world.iom, &base, 1)).expect("url");
    let (status, page) = world.get(inbox.as_str(), &[]).await;
    assert_eq!(status, 200, "{page}");
    let targets = links(&page);
    assert!(
        targets.iter().filter(|t| t.contains("lang=")).count() >= 3,
        "{targets:?}"
    );
    for target in &targets {
        let url = under(&inbox, target);
        if let Some(lang) = url.query_pairs().find(|(k, _)| k == "lang").map(|(_, v)| v) {
            let (status, switched) = world.get(url.as_str(), &[]).await;
            assert_eq!(status, 200, "{url}: {switched}");
            assert!(
                switched.contains(&format!("<html lang=\"{lang}\"")),
                "{url}"
            );
            assert!(
                switched.contains("INBOX-PREFIX-1"),
                "{url} is the same inbox"
            );
        }
    }
    // Acknowledge through the form's action; the 303 lands back under the prefix.
    let action = targets
        .iter()
        .find(|t| !t.contains('?') && !t.starts_with('#'))
        .expect("a form's action");
    let fields = [
        ("t", query(inbox.as_str(), "t")),
        ("csrf", hidden(&page, "csrf")),
        ("notification", through_inbox.notification_id.clone()),
        ("action", "acknowledge".to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let posted_to = under(&inbox, action);
    let (status, location, _) = world.post_to(posted_to.as_str(), &fields, &[]).await;
    assert_eq!(status, 303);
    let back = under(&posted_to, &location);
    let (status, after) = world.get(back.as_str(), &[]).await;
    assert_eq!(status, 200, "{back}: {after}");
    assert!(after.contains("Acuse de recibo registrado"), "{after}");
    eventually(
        "the acknowledgement through the inbox recorded",
        DEADLINE,
        || async { world.state(&through_inbox.notification_id).await == RecordState::Acknowledged },
    )
    .await;

    // The ack page: its forms and links stay under the prefix; Endorse, then Acknowledge.
    let id = &through_link.notification_id;
    let link = Url::parse(&Links::new(&base, SECRET.as_bytes()).link(id)).expect("url");
    let (status, page) = world.get(link.as_str(), &[]).await;
    assert_eq!(status, 200, "{page}");
    let targets = links(&page);
    for target in &targets {
        under(&link, target);
    }
    let action = |path: String| {
        let target = targets
            .iter()
            .find(|t| t.starts_with(&path))
            .unwrap_or_else(|| panic!("no form posts to {path}: {targets:?}"));
        under(&link, target)
    };
    let acknowledge = action(format!("{id}?"));
    let review = action(format!("{id}/review?"));
    let (status, _, reviewed) = world
        .post_to(review.as_str(), &[("verdict", "endorse")], &[])
        .await;
    assert_eq!(status, 200, "{reviewed}");
    assert!(
        reviewed.contains(&format!(
            "Su revisión de la determinación {} quedó registrada",
            through_link.determination_id
        )),
        "{reviewed}"
    );
    // The review's answer switches language to the notification's page (its own address
    // takes only a POST).
    let switches: Vec<String> = links(&reviewed)
        .into_iter()
        .filter(|t| t.contains("lang="))
        .collect();
    assert_eq!(switches.len(), Lang::ALL.len(), "{reviewed}");
    for target in &switches {
        let url = under(&review, target);
        assert_eq!(url.path(), link.path(), "{target}");
        let (status, switched) = world.get(url.as_str(), &[]).await;
        assert_eq!(status, 200, "{url}: {switched}");
    }
    let (status, _, acknowledged) = world.post_to(acknowledge.as_str(), &[], &[]).await;
    assert_eq!(status, 200, "{acknowledged}");
    assert!(
        acknowledged.contains(&format!("Recibo de la notificación {id} confirmado")),
        "{acknowledged}"
    );
    eventually(
        "the acknowledgement through the link recorded",
        DEADLINE,
        || async { world.state(id).await == RecordState::Acknowledged },
    )
    .await;
}
