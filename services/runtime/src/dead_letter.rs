//! Dead letters: what a service could not process goes to `TANDEM_DLQ` on
//! `tandem.dlq.<service>` with the error, the delivery count and the original bytes and headers,
//! so nothing is ever silently dropped and `tandem dlq replay` can send it again once fixed.

use async_nats::jetstream::{self, Message};
use prost::Message as _;
use tandem_proto::v1::{DeadLetter, Header};

use crate::{envelope::Envelope, topology};

/// Publishes dead letters for one service.
#[derive(Clone, Debug)]
pub struct DeadLetters {
    js: jetstream::Context,
    service: &'static str,
}

impl DeadLetters {
    /// Dead letters of `service`, published through `js`.
    pub fn new(js: jetstream::Context, service: &'static str) -> Self {
        Self { js, service }
    }

    /// Stores `message` in `TANDEM_DLQ` with `error`. Returns once the stream has it, so the
    /// caller may then terminate the original.
    pub async fn send(
        &self,
        message: &Message,
        error: &str,
        deliveries: u64,
    ) -> anyhow::Result<()> {
        let (stream, stream_sequence) = match message.info() {
            Ok(info) => (info.stream.to_string(), info.stream_sequence),
            Err(_) => (String::new(), 0),
        };
        let headers = message
            .headers
            .iter()
            .flat_map(|headers| headers.iter())
            .flat_map(|(name, values)| {
                values.iter().map(move |value| Header {
                    name: name.to_string(),
                    value: value.to_string(),
                })
            })
            .collect();
        let letter = DeadLetter {
            subject: message.subject.to_string(),
            headers,
            payload: message.payload.to_vec(),
            error: error.to_string(),
            deliveries,
            service: self.service.to_string(),
            stream: stream.clone(),
            stream_sequence,
            failed_at: Some(tandem_proto::timestamp::now()),
        };
        // One dead letter per stored message, however often this runs.
        let id = format!("dlq:{stream}:{stream_sequence}");
        Envelope {
            service: self.service,
            event: "dead_letter",
            subject: "",
            id: &id,
        }
        .publish(
            &self.js,
            topology::dlq_subject(self.service),
            letter.encode_to_vec().into(),
        )
        .await?;
        Ok(())
    }
}
