//! Notify's channels and acknowledgements over a real nats-server, as a recipient sees them:
//! acknowledging an escalated notification acknowledges its escalations; the e-mail's subject,
//! plain and HTML bodies (every value escaped in HTML) and acknowledgement link; SMTP retries
//! after a temporary refusal; STARTTLS to a relay whose certificate a private CA (`smtp.ca_file`)
//! signed, and no mail to a relay that is not trusted or does not offer STARTTLS; webhook retries after a 429 with `Retry-After` and after a
//! receiver that drops the connection.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use tandem_notify::{NotifyAgency, config::SmtpSecurity, inbox, store::RecordState};
use tandem_proto::v1::{Channel, NotificationState, RationaleEntry};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::TcpListener,
};

#[tokio::test]
async fn acknowledging_an_escalated_notification_also_acknowledges_its_escalation() {
    let world = World::start().await;
    world.import(TIERS).await;
    // The country coordinator has 2 s; the regional one long enough that its notification is
    // still pending when the first is acknowledged.
    let mut config = world.config(NotifyAgency::Iom, 2);
    config.sla.regional_coordinator_secs = 600;
    let iom = world.start_notify(config);
    world.publish(&determination("COL-X", 1, "COL", true)).await;
    let escalation = world.first_to("rc").await;
    let original = escalation.escalates_notification_id.clone();

    // The country coordinator acknowledges late, after the escalation went out.
    let outcome = inbox::acknowledge(&world.js, &original, WAIT)
        .await
        .expect("ack");
    assert!(
        matches!(outcome, inbox::AckOutcome::Acknowledged(_)),
        "{outcome:?}"
    );

    let records = eventually("both records acknowledged", WAIT, || async {
        let records = inbox::list(&world.js, false).await.expect("list");
        let state = |id: &str| {
            records
                .iter()
                .find(|r| r.notification.notification_id == id)
                .map(|r| r.state)
        };
        (state(&original) == Some(RecordState::Acknowledged)
            && state(&escalation.notification_id) == Some(RecordState::Acknowledged))
        .then_some(records)
    })
    .await;
    assert_eq!(records.len(), 2, "nothing else was sent: {records:?}");
    let acknowledged: Vec<String> = world
        .statuses()
        .await
        .into_iter()
        .filter(|s| s.state() == NotificationState::Acknowledged)
        .map(|s| s.notification_id)
        .collect();
    assert_eq!(acknowledged.len(), 2, "{acknowledged:?}");
    assert!(acknowledged.contains(&original) && acknowledged.contains(&escalation.notification_id));
    assert!(inbox::list(&world.js, true).await.expect("list").is_empty());
    iom.stop().await;
}

/// A received e-mail, decoded: its headers (unfolded, encoded words decoded) and its parts.
struct Decoded {
    subject: String,
    plain: String,
    html: String,
}

/// Decodes an RFC 2047 header value made of plain words and `=?utf-8?b?…?=` or
/// `=?utf-8?q?…?=` words; whitespace between two encoded words is dropped, as the RFC says.
fn decode_header(value: &str) -> String {
    let mut out = String::new();
    let mut previous_encoded = false;
    for word in value.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        let inner = || word[10..word.len() - 2].to_owned();
        let decoded = if lower.starts_with("=?utf-8?b?") && lower.ends_with("?=") {
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(inner())
                    .expect("base64 word"),
            )
        } else if lower.starts_with("=?utf-8?q?") && lower.ends_with("?=") {
            Some(
                quoted_printable::decode(
                    inner().replace('_', " "),
                    quoted_printable::ParseMode::Robust,
                )
                .expect("q word"),
            )
        } else {
            None
        };
        let joins_encoded_words = previous_encoded && decoded.is_some();
        if !out.is_empty() && !joins_encoded_words {
            out.push(' ');
        }
        previous_encoded = decoded.is_some();
        match decoded {
            Some(bytes) => out.push_str(&String::from_utf8(bytes).expect("utf-8")),
            None => out.push_str(word),
        }
    }
    out
}

/// Headers (unfolded) and body of a MIME entity.
fn split_entity(text: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = text.split_once("\n\n").expect("headers, blank line, body");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            headers
                .last_mut()
                .expect("a folded header")
                .1
                .push_str(line);
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let bytes = match header(headers, "content-transfer-encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64 body"),
        "quoted-printable" => quoted_printable::decode(
            body.replace('\n', "\r\n"),
            quoted_printable::ParseMode::Robust,
        )
        .expect("quoted-printable body"),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes).expect("utf-8 body")
}

fn decode_mail(data: &str) -> Decoded {
    let data = data.replace("\r\n", "\n");
    let (headers, body) = split_entity(&data);
    let content_type = header(&headers, "content-type");
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a multipart message")
        .trim_matches('"')
        .to_owned();
    let (mut plain, mut html) = (None, None);
    for part in body.split(&format!("--{boundary}")).skip(1) {
        let part = part.trim_start_matches('\n');
        if part.starts_with("--") {
            break;
        }
        let (part_headers, part_body) = split_entity(part);
        let text = decode_body(&part_headers, part_body.trim_end_matches('\n'));
        let kind = header(&part_headers, "content-type").to_ascii_lowercase();
        if kind.starts_with("text/plain") {
            plain = Some(text);
        } else if kind.starts_with("text/html") {
            html = Some(text);
        }
    }
    Decoded {
        subject: decode_header(header(&headers, "subject")),
        plain: plain.expect("a plain-text part"),
        html: html.expect("an HTML part"),
    }
}

#[tokio::test]
async fn the_email_says_what_happened_escapes_every_value_in_html_and_carries_the_ack_link() {
    let world = World::start().await;
    let smtp = Smtp::start().await;
    world.import(ONE_MAILBOX).await;
    let mut config = world.config(NotifyAgency::Iom, 600);
    smtp.configure(&mut config);
    let port = serve_ack_links(&mut config);
    let iom = world.start_notify(config);

    // Markup in every free-text value a determination carries into the mail.
    let hostile = r#"<script>alert("x")</script> & <b>bold</b>"#;
    let mut determination = determination("COL-M", 1, "COL", true);
    determination.rationale = vec![RationaleEntry {
        rule_id: "mixed_movement".into(),
        clause: format!("clause {hostile}"),
        text: format!("text {hostile}"),
        ..Default::default()
    }];
    world.publish(&determination).await;
    let mail = eventually("the e-mail", WAIT, || async {
        smtp.mails().into_iter().next()
    })
    .await;
    assert_eq!(mail.recipients, ["cc@iom.example.org"]);
    let notification = world.out().await;
    assert!(notification.is_empty(), "e-mail only: {notification:?}");
    let record = inbox::list(&world.js, true)
        .await
        .expect("list")
        .pop()
        .expect("the pending notification");
    let id = record.notification.notification_id.clone();
    let mail = decode_mail(&mail.data);

    assert_eq!(
        mail.subject,
        "[tandem] COL-M leadership changed — please acknowledge"
    );

    // Plain text: the summary verbatim, and every way to acknowledge.
    assert!(
        mail.plain
            .contains(&format!("text {hostile} (clause {hostile})")),
        "{}",
        mail.plain
    );
    assert!(
        mail.plain.contains("Situation COL-M in COL"),
        "{}",
        mail.plain
    );
    assert!(
        mail.plain
            .contains(&format!("tandem notifications ack {id}"))
    );
    assert!(mail.plain.contains(&format!("tandem.notify.ack.{id}")));
    let link_start = mail
        .plain
        .find(&format!("http://127.0.0.1:{port}/ack/{id}?token="))
        .expect("the ack link in the plain text");
    let link: String = mail.plain[link_start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    // HTML: the same words, every value escaped, no markup from the determination.
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;";
    assert!(
        mail.html
            .contains(&format!("text {escaped} (clause {escaped})")),
        "{}",
        mail.html
    );
    assert!(
        !mail.html.contains("<script>") && !mail.html.contains("<b>"),
        "{}",
        mail.html
    );
    assert!(
        mail.html
            .contains(&format!("<code>tandem notifications ack {id}</code>"))
    );
    assert!(
        mail.html.contains(&format!(
            "<a href=\"{}\">Acknowledge with one click</a>",
            link.replace('&', "&amp;")
        )),
        "{}",
        mail.html
    );

    // The link acknowledges.
    let response = reqwest::Client::new()
        .post(&link)
        .send()
        .await
        .expect("ack");
    assert_eq!(response.status(), 200);
    world.wait_all_acknowledged().await;
    iom.stop().await;
}

/// IOM's notifier mailing [`ONE_MAILBOX`] through `smtp`, up to 4 attempts, and a
/// determination of `situation` for it to tell.
async fn notify_by_mail(world: &World, smtp: &Smtp, situation: &str) -> Notify {
    world.import(ONE_MAILBOX).await;
    let mut config = world.config(NotifyAgency::Iom, 600);
    smtp.configure(&mut config);
    config.smtp.max_attempts = 4;
    let iom = world.start_notify(config);
    world
        .publish(&determination(situation, 1, "COL", true))
        .await;
    iom
}

#[tokio::test]
async fn an_smtp_server_refusing_for_now_gets_the_mail_on_a_later_attempt() {
    let world = World::start().await;
    let smtp = Smtp::start().await;
    smtp.refuse_mail(&["451 4.3.0 try again later", "421 4.7.0 busy"]);
    let iom = notify_by_mail(&world, &smtp, "COL-S").await;

    let delivered = world.status_in(NotificationState::Delivered, WAIT).await;
    assert_eq!(delivered.channel(), Channel::Email);
    assert_eq!(delivered.attempts, 3, "two refusals, then accepted");
    assert_eq!(smtp.mail_commands(), 3);
    assert_eq!(smtp.mails().len(), 1, "delivered once");
    iom.stop().await;
}

#[tokio::test]
async fn a_permanent_smtp_refusal_is_not_retried() {
    let world = World::start().await;
    let smtp = Smtp::start().await;
    smtp.refuse_mail(&["550 5.7.1 sender refused", "550 5.7.1 sender refused"]);
    let iom = notify_by_mail(&world, &smtp, "COL-P").await;

    let failed = world.status_in(NotificationState::Failed, WAIT).await;
    assert_eq!(failed.channel(), Channel::Email);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.reason, "SMTP 550 after 1 attempts");
    assert_eq!(smtp.mail_commands(), 1);
    assert!(smtp.mails().is_empty());
    iom.stop().await;
}

#[tokio::test]
async fn a_webhook_answering_429_is_retried_after_its_retry_after() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    hooks.script("busy", &[429]);
    hooks.retry_after("busy", "2");
    world.import(&one_webhook("hook", &hooks.url("busy"))).await;
    let mut config = world.config(NotifyAgency::Iom, 600);
    // Without Retry-After the next attempt would come after 25–50 ms.
    config.webhook.backoff_max_ms = 10_000;
    let iom = world.start_notify(config);
    world.publish(&determination("COL-R", 1, "COL", true)).await;

    let delivered = world.status_in(NotificationState::Delivered, WAIT).await;
    assert_eq!(delivered.attempts, 2);
    let received = hooks.received("busy");
    assert_eq!(received.len(), 2, "the 429, then the one accepted");
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "the retry waited {waited:?}, less than Retry-After"
    );
    assert_eq!(received[0].body, received[1].body, "the same notification");
    iom.stop().await;
}

/// A webhook receiver that drops the first `drops` connections without answering, then
/// answers 200; returns its URL and a receiver of the request bodies it answered.
async fn dropping_receiver(drops: usize) -> (String, tokio::sync::mpsc::UnboundedReceiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut connections = 0;
        while let Ok((socket, _)) = listener.accept().await {
            connections += 1;
            if connections <= drops {
                drop(socket);
                continue;
            }
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut socket = BufReader::new(socket);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if socket.read_exact(&mut body).await.is_err() {
                    return;
                }
                let _ = socket
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = sender.send(connections);
            });
        }
    });
    (url, received)
}

#[tokio::test]
async fn a_webhook_receiver_dropping_the_connection_gets_the_notification_on_a_later_attempt() {
    let world = World::start().await;
    let (url, mut answered) = dropping_receiver(2).await;
    world.import(&one_webhook("hook", &url)).await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 600));
    world.publish(&determination("COL-N", 1, "COL", true)).await;

    let delivered = world.status_in(NotificationState::Delivered, WAIT).await;
    assert_eq!(delivered.channel(), Channel::Webhook);
    assert_eq!(
        delivered.attempts, 3,
        "two dropped connections, then accepted"
    );
    assert_eq!(
        tokio::time::timeout(WAIT, answered.recv())
            .await
            .expect("the receiver answers"),
        Some(3),
        "answered on the third connection"
    );
    world.settled(NotifyAgency::Iom).await;
    assert!(answered.try_recv().is_err(), "delivered once");
    iom.stop().await;
}

/// A relay requiring STARTTLS with a certificate from a throwaway CA (`ca.crt` in the returned
/// directory), and the directory's one mailbox.
async fn starttls_relay(world: &World) -> (Smtp, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("certificate directory");
    tandem_testkit::certs::throwaway(certs.path());
    let read = |name: &str| std::fs::read(certs.path().join(name)).expect("certificate file");
    let smtp = Smtp::start_starttls(&read("server.crt"), &read("server.key")).await;
    world.import(ONE_MAILBOX).await;
    (smtp, certs)
}

/// Notify sending to `smtp` with `security = starttls`, trusting `ca_file` besides the system's
/// CAs, one attempt per mail.
fn starttls_config(
    world: &World,
    smtp: &Smtp,
    ca_file: Option<std::path::PathBuf>,
) -> tandem_notify::NotifyConfig {
    let mut config = world.config(NotifyAgency::Iom, 600);
    smtp.configure(&mut config);
    config.smtp.security = SmtpSecurity::Starttls;
    config.smtp.ca_file = ca_file;
    config.smtp.max_attempts = 1;
    config
}

#[tokio::test]
async fn a_relay_requiring_starttls_gets_the_mail_encrypted_when_its_ca_is_trusted() {
    let world = World::start().await;
    let (smtp, certs) = starttls_relay(&world).await;
    let config = starttls_config(&world, &smtp, Some(certs.path().join("ca.crt")));
    let iom = world.start_notify(config);
    world.publish(&determination("COL-T", 1, "COL", true)).await;

    let delivered = world.status_in(NotificationState::Delivered, WAIT).await;
    assert_eq!(delivered.channel(), Channel::Email);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].encrypted, "the mail came after STARTTLS");
    assert_eq!(mails[0].recipients, ["cc@iom.example.org"]);
    iom.stop().await;
}

#[tokio::test]
async fn a_relay_whose_certificate_is_not_trusted_gets_no_mail() {
    let world = World::start().await;
    let (smtp, _certs) = starttls_relay(&world).await;
    // The system's CAs only: the throwaway CA is not among them.
    let iom = world.start_notify(starttls_config(&world, &smtp, None));
    world.publish(&determination("COL-U", 1, "COL", true)).await;

    let failed = world.status_in(NotificationState::Failed, WAIT).await;
    assert_eq!(failed.channel(), Channel::Email);
    assert_eq!(failed.reason, "SMTP connection failed after 1 attempts");
    assert_eq!(smtp.mail_commands(), 0, "no MAIL FROM, in the clear or not");
    assert!(smtp.mails().is_empty());
    iom.stop().await;
}

#[tokio::test]
async fn starttls_security_sends_nothing_to_a_relay_that_does_not_offer_it() {
    let world = World::start().await;
    let smtp = Smtp::start().await;
    world.import(ONE_MAILBOX).await;
    let iom = world.start_notify(starttls_config(&world, &smtp, None));
    world.publish(&determination("COL-V", 1, "COL", true)).await;

    let failed = world.status_in(NotificationState::Failed, WAIT).await;
    assert_eq!(failed.channel(), Channel::Email);
    assert_eq!(smtp.mail_commands(), 0, "nothing sent in the clear");
    assert!(smtp.mails().is_empty());
    iom.stop().await;
}

#[tokio::test]
async fn a_french_reader_in_dakar_gets_the_email_in_french_with_local_time_and_every_channel_the_inbox_link()
 {
    let world = World::start().await;
    let smtp = Smtp::start().await;
    world
        .import(
            r#"[{"id": "dakar-cc", "name": "Awa", "agency": "iom", "role": "COUNTRY_COORDINATOR",
                 "countries": ["SEN"], "lang": "fr", "tz": "Africa/Dakar",
                 "channels": [{"email": {"address": "awa@iom.example.org"}}, {"nats": {}}]}]"#,
        )
        .await;
    let mut config = world.config(NotifyAgency::Iom, 600);
    smtp.configure(&mut config);
    let port = serve_ack_links(&mut config);
    config.trace_url = "http://localhost:16686/trace/{trace_id}".into();
    let iom = world.start_notify(config);
    world.publish(&determination("SEN-1", 1, "SEN", true)).await;
    let mail = eventually("the e-mail", WAIT, || async {
        smtp.mails().into_iter().next()
    })
    .await;
    let on_nats = world.first_to("dakar-cc").await;
    let inbox = format!("http://127.0.0.1:{port}/inbox?t=");
    assert!(on_nats.inbox_url.starts_with(&inbox), "{on_nats:?}");
    assert_eq!(
        on_nats.trace_url,
        "http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    );
    // The NATS channel's JSON mapping (what `tandem watch --json` and bridges read).
    let json = tandem_proto::json::to_string(&on_nats);
    assert!(json.contains("\"inbox_url\":\"http://127.0.0.1:"), "{json}");
    assert!(
        on_nats
            .summary
            .contains("La situation SEN-1 en/au SEN est désormais qualifiée de"),
        "{}",
        on_nats.summary
    );

    let mail = decode_mail(&mail.data);
    assert_eq!(
        mail.subject,
        "[tandem] SEN-1 changement de direction — merci d’en accuser réception"
    );
    assert!(mail.plain.contains(&on_nats.inbox_url), "{}", mail.plain);
    assert!(
        mail.plain.contains("OIM codirige cette réponse."),
        "{}",
        mail.plain
    );
    // The deadline in Dakar's time (UTC+00:00 all year) with the zone's name.
    let deadline = on_nats.acknowledge_by.as_ref().expect("deadline").seconds;
    let local = tandem_i18n::local_time(deadline, "Africa/Dakar");
    assert!(local.ends_with("UTC+00:00 (Africa/Dakar)"), "{local}");
    assert!(
        mail.plain
            .contains(&format!("Merci d’en accuser réception avant le {local}")),
        "{}",
        mail.plain
    );
    assert!(mail.html.starts_with("<html lang=\"fr\">"), "{}", mail.html);
    assert!(
        mail.html.contains(&format!(
            "<a href=\"{}\"><strong>Ouvrir votre boîte de réception</strong></a>",
            on_nats.inbox_url
        )),
        "{}",
        mail.html
    );
    assert!(mail.html.contains(">Trace de la décision</a>"));
    iom.stop().await;
}
