//! E-mail delivery over SMTP: a plain-text and an HTML part saying what happened and how to
//! acknowledge (the CLI, a NATS message, or the ack link when one is served).
//!
//! STARTTLS (the default) and implicit TLS check the relay's certificate against the system's
//! CAs and those of `smtp.ca_file`, for a relay whose certificate a private CA signed.
//!
//! Temporary failures (connection errors, 4xx replies) are retried with the webhook backoff;
//! permanent ones (5xx: unknown mailbox, refused sender) fail at once.

use std::time::Duration;

use anyhow::Context as _;

use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, SinglePart, header::ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};
use tandem_i18n::{Lang, words::word};
use tandem_proto::{subjects::notify_ack_subject, v1::Notification};

use crate::{
    config::{SmtpConfig, SmtpSecurity, WebhookConfig},
    webhook::Outcome,
};

/// Sends notifications through one SMTP relay.
#[derive(Clone)]
pub struct EmailSender {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    max_attempts: u32,
    backoff: WebhookConfig,
}

impl EmailSender {
    /// A sender for `config`; with an empty host every e-mail delivery fails with a reason.
    pub fn new(config: &SmtpConfig, backoff: WebhookConfig) -> anyhow::Result<Self> {
        if config.host.is_empty() {
            return Ok(Self {
                transport: None,
                from: None,
                max_attempts: 1,
                backoff,
            });
        }
        tandem_runtime::tls::install_crypto_provider();
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host);
        let mut builder = match config.security {
            SmtpSecurity::Starttls => builder.tls(Tls::Required(tls_parameters(config)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls_parameters(config)?)),
            SmtpSecurity::None => builder,
        }
        .port(config.port)
        .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.clone(),
            ));
        }
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|error| anyhow::anyhow!("smtp.from is not a mailbox: {error}"))?;
        Ok(Self {
            transport: Some(builder.build()),
            from: Some(from),
            max_attempts: config.max_attempts.max(1),
            backoff,
        })
    }

    /// Sends `notification` to `address`, written for `reader`; `ack_link` is included when
    /// the link is served.
    pub async fn send(
        &self,
        notification: &Notification,
        address: &str,
        ack_link: Option<&str>,
        reader: Reader<'_>,
    ) -> Outcome {
        let failed = |attempts, reason: &str| Outcome {
            delivered: false,
            attempts,
            reason: reason.to_string(),
        };
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            return failed(0, "e-mail is not configured (smtp.host)");
        };
        let Ok(to) = address.parse::<Mailbox>() else {
            return failed(0, "the directory's address is not a mailbox");
        };
        let message = match compose(notification, from.clone(), to, ack_link, reader) {
            Ok(message) => message,
            Err(error) => return failed(0, &format!("cannot compose the message: {error}")),
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            match transport.send(message.clone()).await {
                Ok(_) => {
                    return Outcome {
                        delivered: true,
                        attempts,
                        reason: String::new(),
                    };
                }
                Err(error) => {
                    // The code only: the server's text may echo the address.
                    let reason = match error.status() {
                        Some(code) => format!("SMTP {code}"),
                        None if error.is_timeout() => "SMTP timed out".into(),
                        None => "SMTP connection failed".into(),
                    };
                    if error.is_permanent() || attempts >= self.max_attempts {
                        return failed(attempts, &format!("{reason} after {attempts} attempts"));
                    }
                    let delay = self.backoff.backoff(attempts);
                    tracing::info!(notification.id = %notification.notification_id, attempt = attempts, %reason, retry_in = ?delay, "e-mail not accepted; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// How the relay's certificate is checked: against the system's CAs and `smtp.ca_file`'s, for
/// the relay's host name.
fn tls_parameters(config: &SmtpConfig) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read smtp.ca_file {}", path.display()))?;
        let certificate = Certificate::from_pem(&pem)
            .ok()
            .filter(|_| pem.windows(17).any(|w| w == b"BEGIN CERTIFICATE"))
            .with_context(|| format!("smtp.ca_file {} holds no PEM certificate", path.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    Ok(builder.build()?)
}

/// Who reads an e-mail: their language and IANA time zone (from the directory).
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    /// The language of the subject and body.
    pub lang: Lang,
    /// The zone of the deadline.
    pub tz: &'a str,
}

/// The message in `reader`'s language: subject, plain text and HTML, both with the inbox link
/// (when the listener is served), the acknowledgement instructions with the deadline in the
/// reader's time, and the trace link (when a dashboard is configured).
pub fn compose(
    notification: &Notification,
    from: Mailbox,
    to: Mailbox,
    ack_link: Option<&str>,
    reader: Reader<'_>,
) -> anyhow::Result<Message> {
    let lang = reader.lang;
    let id = &notification.notification_id;
    let subject_id = if notification.escalation_tier > 0 {
        "email-subject-escalation"
    } else {
        "email-subject"
    };
    let subject = format!(
        "[tandem] {}",
        lang.text_with(
            subject_id,
            &[
                ("situation", notification.situation_id.as_str().into()),
                ("kind", word(lang, notification.kind()).into()),
            ],
        )
    );
    let deadline = notification
        .acknowledge_by
        .as_ref()
        .map(|t| tandem_i18n::local_time(t.seconds, reader.tz))
        .unwrap_or_default();
    let acknowledge_by = lang.text_with("email-acknowledge-by", &[("deadline", deadline.into())]);
    let command = format!("tandem notifications ack {id}");
    let or_command = lang.text("email-or-command");
    let nats = lang.text_with(
        "email-or-nats",
        &[("subject", notify_ack_subject(id).into())],
    );
    let inbox = &notification.inbox_url;
    let trace = &notification.trace_url;

    let mut text = String::new();
    if !inbox.is_empty() {
        text.push_str(&lang.text_with("email-open-inbox", &[("url", inbox.as_str().into())]));
        text.push_str("\n\n");
    }
    text.push_str(&notification.summary);
    text.push_str(&format!(
        "\n{acknowledge_by}\n  {or_command} {command}\n  {nats}\n"
    ));
    if let Some(link) = ack_link {
        text.push_str(&format!(
            "  {}\n",
            lang.text_with("email-or-link", &[("url", link.into())])
        ));
    }
    if !trace.is_empty() {
        text.push_str(&lang.text_with("email-trace", &[("url", trace.as_str().into())]));
        text.push('\n');
    }

    let html = maud::html! {
        html lang=(lang.code()) {
            body {
                @if !inbox.is_empty() {
                    p { a href=(inbox) { strong { (lang.text("email-inbox-link")) } } }
                }
                @for line in notification.summary.lines() { p { (line) } }
                p { strong { (acknowledge_by) } }
                ul {
                    li { (or_command) " " code { (command) } }
                    li { (nats) }
                    @if let Some(link) = ack_link {
                        li { a href=(link) { (lang.text("email-acknowledge")) } }
                    }
                }
                @if !trace.is_empty() {
                    p { a href=(trace) { (lang.text("email-trace-link")) } }
                }
            }
        }
    }
    .into_string();
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{id}@tandem>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )?)
}
