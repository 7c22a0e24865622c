//! What a test reads and writes on the bus, typed, as the users of tandem see it: reports
//! submitted the way agency systems are told to, intake's outcomes, leadership's
//! determinations and records, the notifications, and the dataset over publish's HTTP API.
//! Each reader returns everything stored so far; a test waits for what it expects with
//! [`crate::eventually`].

use async_nats::{
    HeaderMap,
    jetstream::{self, publish::PublishAck},
};
use prost::Message as _;
use tandem_proto::v1::{
    LeadershipDetermination, LeadershipRecord, Notification, SituationAccepted, SituationRejected,
    SituationReport,
};
use tandem_publish::client::Format;
use tandem_runtime::{kv_key, topology};

/// Publishes `payload` on organisation `org`'s intake subject with `Nats-Msg-Id: <msg_id>`
/// (and `headers`), and waits until the intake stream stored it.
///
/// # Panics
/// When the stream does not acknowledge it (the org may not publish there).
pub async fn submit_bytes(
    js: &jetstream::Context,
    org: &str,
    msg_id: &str,
    payload: Vec<u8>,
    headers: Option<HeaderMap>,
) -> PublishAck {
    let mut headers = headers.unwrap_or_default();
    headers.insert("Nats-Msg-Id", msg_id);
    js.publish_with_headers(topology::intake_subject(org), headers, payload.into())
        .await
        .expect("publish")
        .await
        .unwrap_or_else(|error| panic!("{org} gets no acknowledgement: {error}"))
}

/// Publishes `report` as organisation `org`'s system does (message id `<org>:<report id>`), and
/// waits until the intake stream stored it.
pub async fn submit(js: &jetstream::Context, org: &str, report: &SituationReport) -> PublishAck {
    let msg_id = format!("{org}:{}", report.report_id);
    submit_bytes(js, org, &msg_id, report.encode_to_vec(), None).await
}

/// Intake's answer to one report, as stored on `TANDEM_EVENTS`.
#[derive(Debug)]
pub enum Outcome {
    /// Boxed: an accepted event carries the whole report.
    Accepted(Box<SituationAccepted>, HeaderMap),
    /// Refused, with the reasons.
    Rejected(SituationRejected, HeaderMap),
}

impl Outcome {
    /// The id of the report answered.
    pub fn report_id(&self) -> &str {
        match self {
            Outcome::Accepted(event, _) => event.report.as_ref().map_or("", |r| &r.report_id),
            Outcome::Rejected(event, _) => &event.report_id,
        }
    }

    /// (field, code) of each reason of a rejection; none for an acceptance.
    pub fn reasons(&self) -> Vec<(String, String)> {
        match self {
            Outcome::Accepted(..) => vec![],
            Outcome::Rejected(event, _) => event
                .reasons
                .iter()
                .map(|r| (r.field.clone(), r.code.clone()))
                .collect(),
        }
    }

    /// The event's headers.
    pub fn headers(&self) -> &HeaderMap {
        match self {
            Outcome::Accepted(_, headers) | Outcome::Rejected(_, headers) => headers,
        }
    }
}

/// Every outcome intake announced so far, in the order it was stored ([`crate::outcome_messages`]).
pub async fn outcomes(js: &jetstream::Context) -> Vec<Outcome> {
    crate::outcome_messages(js)
        .await
        .into_iter()
        .filter_map(|message| {
            let subject = message.subject.as_str();
            if subject.starts_with("tandem.situation.accepted.") {
                let event = SituationAccepted::decode(message.payload).expect("accepted decodes");
                Some(Outcome::Accepted(Box::new(event), message.headers))
            } else if subject.starts_with("tandem.situation.rejected.") {
                let event = SituationRejected::decode(message.payload).expect("rejected decodes");
                Some(Outcome::Rejected(event, message.headers))
            } else {
                None
            }
        })
        .collect()
}

/// Every determination leadership published so far, in stream order.
pub async fn determinations(js: &jetstream::Context) -> Vec<LeadershipDetermination> {
    crate::stream_messages(js, topology::EVENTS_STREAM)
        .await
        .into_iter()
        .filter(|message| message.subject.starts_with("tandem.leadership.determined."))
        .map(|message| {
            LeadershipDetermination::decode(message.payload).expect("a LeadershipDetermination")
        })
        .collect()
}

/// Leadership's record of `situation` in its bucket: `None` while there is none (or the
/// bucket does not exist yet).
pub async fn leadership_record(
    js: &jetstream::Context,
    situation: &str,
) -> Option<LeadershipRecord> {
    let bucket = js.get_key_value(topology::LEADERSHIP_BUCKET).await.ok()?;
    let bytes = bucket.get(kv_key::segment(situation)).await.ok()??;
    Some(LeadershipRecord::decode(bytes).expect("a LeadershipRecord"))
}

/// Every notification sent on the NATS channel so far: (subject, notification).
pub async fn notifications(js: &jetstream::Context) -> Vec<(String, Notification)> {
    crate::stream_messages(js, topology::NOTIFY_STREAM)
        .await
        .into_iter()
        .filter(|message| message.subject.starts_with("tandem.notify.out."))
        .map(|message| {
            let notification = Notification::decode(message.payload).expect("a Notification");
            (message.subject.to_string(), notification)
        })
        .collect()
}

/// The data service of one publish instance, over HTTP.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// `host:port` of its API.
    pub addr: String,
}

impl Dataset {
    /// The current dataset as JSON (`GET /v1/situations`), or why not.
    pub async fn situations(&self) -> anyhow::Result<serde_json::Value> {
        let body = tandem_publish::client::fetch(&self.addr, None, Format::Json).await?;
        Ok(serde_json::from_str(&body)?)
    }

    /// The current dataset as HXL-tagged CSV, or why not.
    pub async fn csv(&self) -> anyhow::Result<String> {
        tandem_publish::client::fetch(&self.addr, None, Format::Csv).await
    }

    /// The history of situation `id` (`None` while it has no determination), or why not.
    pub async fn history(
        &self,
        id: &str,
    ) -> anyhow::Result<Option<Vec<tandem_publish::history::HistoryEntry>>> {
        tandem_publish::client::history(&self.addr, id).await
    }
}
