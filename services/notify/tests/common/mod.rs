//! The world of notify's tests: a real nats-server, notify instances in this process, an
//! in-process webhook receiver (axum) and an in-process SMTP receiver, and determinations
//! published the way the leadership service publishes them.
#![allow(dead_code)] // each test binary uses its own subset

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_nats::jetstream;
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse as _, Response},
    routing::post,
};
use prost::Message as _;
use tandem_notify::{NotifyAgency, NotifyConfig, config::SmtpSecurity, directory::Directory};
use tandem_proto::v1::{
    Agency, Arrangement, Classification, Discrepancy, FunctionAssignment, LeadershipDetermination,
    LeadershipFunction, Notification, NotificationState, NotificationStatus, PopulationGroup,
    RationaleEntry,
};
use tandem_runtime::{Shutdown, envelope::Envelope, topology};
use tandem_testkit::NatsServer;
pub use tandem_testkit::eventually;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::TcpListener,
};

/// How long anything a test waits for may take.
pub const WAIT: Duration = tandem_testkit::DEADLINE;

/// IOM's webhook secret in the tests' directories.
pub const IOM_SECRET: &str = "whsec_aW9tLXdlYmhvb2stc2VjcmV0LTAxMjM0NTY3ODk=";

/// IOM's three tiers in COL, told on the NATS channel: country coordinator `cc`, regional
/// coordinator `rc`, HQ `hq`.
pub const TIERS: &str = r#"[
  {"id": "cc", "name": "C", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "rc", "name": "R", "agency": "iom", "role": "REGIONAL_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "hq", "name": "H", "agency": "iom", "role": "HQ", "channels": [{"nats": {}}]}
]"#;

/// IOM's country coordinator `cc` in COL, told by e-mail.
pub const ONE_MAILBOX: &str = r#"[{"id": "cc", "name": "C", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["COL"], "channels": [{"email": {"address": "cc@iom.example.org"}}]}]"#;

/// Has `config` serve acknowledgement links on a free port, signed with a test secret;
/// returns the port.
pub fn serve_ack_links(config: &mut NotifyConfig) -> u16 {
    let port = tandem_testkit::process::free_ports(1)[0];
    config.ack_http.addr = Some(format!("127.0.0.1:{port}"));
    config.ack_http.secret = "link-secret-for-tests".into();
    port
}

/// A directory of one IOM country coordinator in COL, `id`, told by webhook at `url`.
pub fn one_webhook(id: &str, url: &str) -> String {
    format!(
        r#"[{{"id": "{id}", "name": "N", "agency": "iom", "role": "COUNTRY_COORDINATOR",
             "countries": ["COL"],
             "channels": [{{"webhook": {{"url": "{url}", "secret": "{IOM_SECRET}"}}}}]}}]"#
    )
}

/// The trace every test determination carries.
pub const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A test's NATS with tandem's streams.
pub struct World {
    pub server: NatsServer,
    pub js: jetstream::Context,
}

impl World {
    pub async fn start() -> Self {
        tandem_testkit::init_test_log();
        let server = NatsServer::start();
        let js = server.jetstream().await;
        let storage = Default::default();
        for stream in [
            topology::events_stream(&storage),
            topology::notify_stream(&storage),
            topology::dlq_stream(&storage),
        ] {
            topology::ensure_stream(&js, stream).await.expect("stream");
        }
        Self { server, js }
    }

    /// Imports a directory file (JSON or YAML).
    pub async fn import(&self, text: &str) {
        let entries = tandem_notify::directory::parse_with(text, &development_webhooks())
            .expect("valid directory");
        Directory::open(&self.js, &Default::default())
            .await
            .expect("directory bucket")
            .import(&entries)
            .await
            .expect("imported");
    }

    /// Settings that make everything quick: short SLAs, ticks and backoffs.
    pub fn config(&self, agency: NotifyAgency, sla_secs: u64) -> NotifyConfig {
        let mut config = NotifyConfig::default();
        config.common.nats.url = self.server.url();
        config.common.consumer.max_deliver = 5;
        config.common.consumer.ack_wait_secs = 3;
        config.common.consumer.retry_base_ms = 50;
        config.agency = agency;
        config.sla = tandem_notify::config::SlaConfig::uniform(sla_secs);
        config.webhook.timeout_ms = 2_000;
        config.webhook.backoff_base_ms = 50;
        config.webhook.backoff_max_ms = 300;
        config.webhook.allow_loopback = true;
        config.timer_tick_ms = 100;
        config.claim_lease_secs = 10;
        config
    }

    pub fn start_notify(&self, config: NotifyConfig) -> Notify {
        let shutdown = Shutdown::new();
        let task = tokio::spawn(tandem_notify::run(config, shutdown.clone()));
        Notify { shutdown, task }
    }

    /// Publishes `determination` as the leadership service does.
    pub async fn publish(&self, determination: &LeadershipDetermination) {
        let id = format!("determination:{}", determination.determination_id);
        let mut headers = Envelope {
            service: "leadership",
            event: "leadership.determined",
            subject: &determination.situation_id,
            id: &id,
        }
        .headers();
        // The trace of the report that led here, as the leadership service would carry it.
        headers.insert("traceparent", TRACEPARENT);
        self.js
            .publish_with_headers(
                topology::determined_subject(&determination.country),
                headers,
                determination.encode_to_vec().into(),
            )
            .await
            .expect("determination sent")
            .await
            .expect("determination stored");
    }

    /// Every notification published on the NATS channel.
    pub async fn out(&self) -> Vec<Notification> {
        self.notify_messages("tandem.notify.out.")
            .await
            .into_iter()
            .map(|(_, payload)| Notification::decode(payload.as_slice()).expect("notification"))
            .collect()
    }

    /// The first notification to recipient `id` (e.g. an escalation to [`TIERS`]' `rc`),
    /// waiting for it.
    pub async fn first_to(&self, id: &str) -> Notification {
        eventually(format!("a notification to {id}"), WAIT, || async {
            self.out().await.into_iter().find(|n| n.recipient_id == id)
        })
        .await
    }

    /// Waits until no notification is left unacknowledged.
    pub async fn wait_all_acknowledged(&self) {
        eventually("every notification acknowledged", WAIT, || async {
            tandem_notify::inbox::list(&self.js, true)
                .await
                .expect("list")
                .is_empty()
        })
        .await;
    }

    /// Every status event.
    pub async fn statuses(&self) -> Vec<NotificationStatus> {
        self.notify_messages("tandem.notify.status.")
            .await
            .into_iter()
            .map(|(_, payload)| NotificationStatus::decode(payload.as_slice()).expect("status"))
            .collect()
    }

    /// The first status in `state`, waiting up to `timeout` for one.
    pub async fn status_in(
        &self,
        state: NotificationState,
        timeout: Duration,
    ) -> NotificationStatus {
        let what = format!("a status {}", state.as_str_name());
        eventually(&what, timeout, || async {
            self.statuses()
                .await
                .into_iter()
                .find(|s| s.state() == state)
        })
        .await
    }

    /// (subject, payload) of every message in TANDEM_NOTIFY under `prefix`.
    pub async fn notify_messages(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        tandem_testkit::stream_messages(&self.js, topology::NOTIFY_STREAM)
            .await
            .into_iter()
            .filter(|m| m.subject.starts_with(prefix))
            .map(|m| (m.subject.to_string(), m.payload.to_vec()))
            .collect()
    }

    /// Waits until `agency`'s instances have handled every determination published so far.
    pub async fn settled(&self, agency: NotifyAgency) {
        tandem_testkit::wait_until_consumed(
            &self.js,
            topology::EVENTS_STREAM,
            &format!("tandem-notify-{}", agency.token()),
            Duration::from_secs(30),
        )
        .await;
    }
}

/// Notify running in this process.
pub struct Notify {
    pub shutdown: Shutdown,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Notify {
    /// Stops it and waits for it to end: a hang in its shutdown (a delivery that never
    /// finishes) fails the test with that, rather than holding it until the runner's limit.
    pub async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("notify stops within 60 s of its shutdown")
            .expect("notify task")
            .expect("notify ran cleanly");
    }
}

/// A determination of `situation` (sequence `sequence`) in `country`.
pub fn determination(
    situation: &str,
    sequence: u64,
    country: &str,
    changed: bool,
) -> LeadershipDetermination {
    let joint = vec![Agency::Iom as i32, Agency::Unhcr as i32];
    LeadershipDetermination {
        situation_id: situation.into(),
        sequence,
        determination_id: format!("{situation}/{sequence}"),
        country: country.into(),
        classification: Classification::MixedMovement as i32,
        arrangement: Arrangement::JointPlatform as i32,
        lead_agencies: joint.clone(),
        functions: vec![FunctionAssignment {
            function: LeadershipFunction::StrategicPlanning as i32,
            agencies: joint,
            ..Default::default()
        }],
        protection_share: 0.5,
        rationale: vec![RationaleEntry {
            rule_id: "cross_border.mixed".into(),
            clause: "FoE B.1 mixed movements".into(),
            text: "Refugees and migrants travel together on the same routes.".into(),
            ..Default::default()
        }],
        policy_version: "1".into(),
        changed,
        determined_at: Some(tandem_proto::timestamp::now()),
        ..Default::default()
    }
}

/// A discrepancy in `group`, new (not in the previous determination) or not.
pub fn discrepancy(group: PopulationGroup, new: bool) -> Discrepancy {
    Discrepancy {
        group: group as i32,
        iom_count: 1000,
        unhcr_count: 2000,
        relative_difference: 0.5,
        new,
    }
}

/// One POST the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived.
    pub at: tokio::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    pub fn notification(&self) -> Notification {
        tandem_proto::json::from_str(std::str::from_utf8(&self.body).expect("utf-8"))
            .expect("the body is a Notification in the JSON mapping")
    }
}

#[derive(Default)]
struct HookState {
    received: HashMap<String, Vec<Received>>,
    /// Statuses to answer before answering 200, per hook name.
    script: HashMap<String, VecDeque<u16>>,
    /// The `Retry-After` value sent with a scripted 429, per hook name.
    retry_after: HashMap<String, String>,
}

/// An in-process webhook receiver on 127.0.0.1: `POST /hook/<name>`.
#[derive(Clone)]
pub struct Hooks {
    pub base: String,
    state: Arc<Mutex<HookState>>,
}

impl Hooks {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(HookState::default()));
        let app = Router::new()
            .route("/hook/{name}", post(receive))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, state }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/hook/{name}", self.base)
    }

    /// Answers `statuses` first, then 200.
    pub fn script(&self, name: &str, statuses: &[u16]) {
        self.state
            .lock()
            .expect("lock")
            .script
            .insert(name.into(), statuses.iter().copied().collect());
    }

    /// Sends `Retry-After: value` with every scripted 429 of hook `name`.
    pub fn retry_after(&self, name: &str, value: &str) {
        self.state
            .lock()
            .expect("lock")
            .retry_after
            .insert(name.into(), value.into());
    }

    pub fn received(&self, name: &str) -> Vec<Received> {
        self.state
            .lock()
            .expect("lock")
            .received
            .get(name)
            .cloned()
            .unwrap_or_default()
    }
}

async fn receive(
    State(state): State<Arc<Mutex<HookState>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("lock");
    state
        .received
        .entry(name.clone())
        .or_default()
        .push(Received {
            headers,
            body,
            at: tokio::time::Instant::now(),
        });
    let status = state
        .script
        .get_mut(&name)
        .and_then(VecDeque::pop_front)
        .unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    match state.retry_after.get(&name) {
        Some(value) if status == StatusCode::TOO_MANY_REQUESTS => {
            (status, [(RETRY_AFTER, value.clone())]).into_response()
        }
        _ => status.into_response(),
    }
}

/// One message the SMTP receiver accepted.
#[derive(Clone, Debug)]
pub struct Mail {
    pub recipients: Vec<String>,
    pub data: String,
    /// Whether it came over a connection upgraded with STARTTLS.
    pub encrypted: bool,
}

/// A minimal in-process SMTP server on 127.0.0.1 (no AUTH): enough of RFC 5321 for lettre to
/// deliver, in the clear or, when started with [`Smtp::start_starttls`], only after STARTTLS.
#[derive(Clone)]
pub struct Smtp {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    script: Arc<Mutex<SmtpScript>>,
}

/// Replies the SMTP receiver gives to `MAIL FROM` before it accepts, and how many it got.
#[derive(Default)]
struct SmtpScript {
    refusals: VecDeque<String>,
    mail_commands: usize,
}

impl Smtp {
    /// A server that takes mail in the clear.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A server that offers STARTTLS with `cert_pem` and `key_pem` and refuses mail before the
    /// upgrade (530), as a relay requiring encryption does.
    pub async fn start_starttls(cert_pem: &[u8], key_pem: &[u8]) -> Self {
        use tokio_rustls::rustls::{
            ServerConfig,
            crypto::ring::default_provider,
            pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
        };
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem).expect("server key PEM");
        let config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate and key");
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start_with(starttls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(SmtpScript::default()));
        let (store, scripted) = (mails.clone(), script.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (store, scripted) = (store.clone(), scripted.clone());
                match starttls.clone() {
                    None => tokio::spawn(session(socket, true, false, store, scripted)),
                    Some(acceptor) => {
                        tokio::spawn(starttls_session(socket, acceptor, store, scripted))
                    }
                };
            }
        });
        Self {
            port,
            mails,
            script,
        }
    }

    /// Answers the next `MAIL FROM` commands with `replies` (e.g. "451 4.3.0 busy"), then 250.
    pub fn refuse_mail(&self, replies: &[&str]) {
        self.script.lock().expect("lock").refusals =
            replies.iter().map(|reply| format!("{reply}\r\n")).collect();
    }

    /// How many `MAIL FROM` commands (delivery attempts) the receiver got.
    pub fn mail_commands(&self) -> usize {
        self.script.lock().expect("lock").mail_commands
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("lock").clone()
    }

    /// Points `config` at this server, in the clear.
    pub fn configure(&self, config: &mut NotifyConfig) {
        config.smtp.host = "127.0.0.1".into();
        config.smtp.port = self.port;
        config.smtp.security = SmtpSecurity::None;
        config.smtp.from = "tandem <tandem@example.org>".into();
    }
}

/// The conversation before STARTTLS: EHLO is answered with the STARTTLS extension, anything
/// else but QUIT with 530; after the upgrade the conversation starts again, encrypted.
async fn starttls_session(
    socket: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    mails: Arc<Mutex<Vec<Mail>>>,
    script: Arc<Mutex<SmtpScript>>,
) {
    let mut socket = BufReader::new(socket);
    let _ = socket.write_all(b"220 test ESMTP\r\n").await;
    loop {
        let mut line = String::new();
        if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-test\r\n250 STARTTLS\r\n",
            "STAR" => {
                let _ = socket.write_all(b"220 ready to start TLS\r\n").await;
                // The client waits for the 220 before its handshake, so nothing is buffered.
                let Ok(encrypted) = acceptor.accept(socket.into_inner()).await else {
                    return;
                };
                return session(encrypted, false, true, mails, script).await;
            }
            "QUIT" => {
                let _ = socket.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"530 5.7.0 must issue a STARTTLS command first\r\n",
        };
        if socket.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The mail conversation on `stream`; `greet` when the connection is new (not just upgraded).
async fn session<S>(
    stream: S,
    greet: bool,
    encrypted: bool,
    mails: Arc<Mutex<Vec<Mail>>>,
    script: Arc<Mutex<SmtpScript>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    if greet {
        let _ = write.write_all(b"220 test ESMTP\r\n").await;
    }
    let mut recipients = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let refusal;
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-test\r\n250 8BITMIME\r\n",
            "MAIL" => {
                let mut script = script.lock().expect("lock");
                script.mail_commands += 1;
                refusal = script.refusals.pop_front();
                refusal.as_deref().map_or(b"250 OK\r\n", str::as_bytes)
            }
            "HELO" | "RSET" | "NOOP" => b"250 OK\r\n",
            "RCPT" => {
                recipients.push(
                    line.get(8..)
                        .unwrap_or_default()
                        .trim()
                        .trim_matches(['<', '>'])
                        .to_string(),
                );
                b"250 OK\r\n"
            }
            "DATA" => {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    data.push_str(&line);
                    data.push('\n');
                }
                mails.lock().expect("lock").push(Mail {
                    recipients: std::mem::take(&mut recipients),
                    data,
                    encrypted,
                });
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Webhook destinations for tests: the receivers run on loopback over plain HTTP.
pub fn development_webhooks() -> tandem_notify::config::WebhookConfig {
    tandem_notify::config::WebhookConfig {
        allow_loopback: true,
        ..Default::default()
    }
}

/// Checks `delivery` with the Standard Webhooks reference implementation (the `standardwebhooks`
/// package from PyPI, installed into a virtual environment under `target/` on first use), as a
/// receiver holding `secret` would `after` the delivery arrived: `Err` with the library's
/// reason when it refuses it.
pub fn reference_verify(secret: &str, delivery: &Received, after: Duration) -> Result<(), String> {
    use base64::Engine as _;
    const SCRIPT: &str = r#"
import base64, datetime, json, sys
import standardwebhooks.webhooks as webhooks
request = json.load(sys.stdin)
later = datetime.timedelta(seconds=request["after_secs"])
class Clock(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.datetime.now(tz) + later
webhooks.datetime = Clock
try:
    webhooks.Webhook(request["secret"]).verify(base64.b64decode(request["body"]), request["headers"])
    print("valid")
except webhooks.WebhookVerificationError as error:
    print("refused:", error)
"#;
    let headers: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .into_iter()
            .map(|name| (name.to_string(), delivery.header(name).into()))
            .collect();
    let request = serde_json::json!({
        "secret": secret,
        "headers": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(&delivery.body),
        "after_secs": after.as_secs(),
    });
    let mut child = std::process::Command::new(reference_python())
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("request written");
    }
    let output = child.wait_with_output().expect("python finished");
    assert!(output.status.success(), "the verifier script failed");
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if answer == "valid" {
        Ok(())
    } else {
        Err(answer)
    }
}

/// The Python of a virtual environment with `standardwebhooks`, created on first use. Built
/// aside and renamed into place, so test processes starting together do not see half of one.
fn reference_python() -> std::path::PathBuf {
    let target = std::env::current_exe()
        .expect("test binary path")
        .ancestors()
        .nth(3)
        .expect("target directory")
        .to_path_buf();
    let venv = target.join("standardwebhooks-venv");
    let python = venv.join("bin").join("python");
    if python.is_file() {
        return python;
    }
    let building = target.join(format!("standardwebhooks-venv.{}", std::process::id()));
    let run = |program: &std::path::Path, args: &[&str]| {
        let status = std::process::Command::new(program)
            .args(args)
            .status()
            .expect("command runs");
        assert!(status.success(), "{} {args:?} failed", program.display());
    };
    run(
        std::path::Path::new("python3"),
        &["-m", "venv", building.to_str().expect("path")],
    );
    run(
        &building.join("bin").join("python"),
        &["-m", "pip", "install", "--quiet", "standardwebhooks"],
    );
    // Another process may have finished first: then its environment is used.
    if std::fs::rename(&building, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    python
}
