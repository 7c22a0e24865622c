//! Relays with no work: the bare four hops (the limit JetStream sets) and the contract floor
//! (the least any implementation of the contract makes JetStream do).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use futures::StreamExt as _;
use prost::Message as _;
use tandem_proto::v1::SituationReport;
use tandem_runtime::{config::NatsConfig, nats};

use crate::{
    feed::{Outgoing, count, publish_all, submission},
    figures::RelayRun,
    process::{CpuMeter, Process},
};

/// Messages per second through four relays in a row.
pub async fn bare_four_hops(
    config: &NatsConfig,
    server: u32,
    messages: usize,
) -> anyhow::Result<RelayRun> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "BENCH".into(),
            subjects: vec!["bench.hop.>".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let mut relays = Relays::default();
    for hop in 1..=4 {
        let next = format!("bench.hop.{}", hop + 1);
        relays
            .start(
                &js,
                &stream,
                &format!("hop{hop}"),
                &format!("bench.hop.{hop}"),
                move |message| vec![(next.clone(), message.payload.clone())],
            )
            .await?;
    }
    let mut arrivals = client.subscribe("bench.hop.5").await?;
    let payload = SituationReport::default().encode_to_vec();
    let cpu = CpuMeter::start(vec![
        Process::new("nats_server", server),
        Process::new("relay", std::process::id()),
    ]);
    let started = Instant::now();
    relays
        .until(async {
            publish_all(
                &js,
                (0..messages).map(|_| Outgoing {
                    subject: "bench.hop.1".into(),
                    payload: payload.clone(),
                    id: None,
                }),
            )
            .await?;
            count(&mut arrivals, messages, Duration::from_secs(300)).await
        })
        .await?;
    Ok(RelayRun {
        throughput: messages as f64 / started.elapsed().as_secs_f64(),
        cpu_per_item: cpu.per_item(messages),
    })
}

/// The least any implementation of the contract makes JetStream do for the pipeline's reports:
/// the four services as relays with no work (see [`Relays::start`]), each event the contract names one
/// stored message carrying the report's bytes:
/// - intake: submission → accepted event;
/// - leadership: accepted → the situation's state in a KV-like stream (one message per key) and
///   a determination;
/// - notify, once per agency: determination → `notifications_per_report / 2` notifications,
///   each with its delivered status;
/// - publish: an ordered consumer of the event stream (accepted and determined), no acks.
///
/// Reports per second until both notify relays and the follower have every determination.
pub async fn contract_floor(
    config: &NatsConfig,
    server: u32,
    reports: &[SituationReport],
    notifications_per_report: f64,
) -> anyhow::Result<RelayRun> {
    let client = nats::try_connect(config, "tandem-bench").await?;
    let js = jetstream::new(client.clone());
    let stream = |name: &str, subjects: &[&str]| jetstream::stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    };
    let intake = js
        .create_stream(stream("FLOOR_INTAKE", &["floor.intake.>"]))
        .await?;
    let events = js
        .create_stream(stream(
            "FLOOR_EVENTS",
            &["floor.accepted.>", "floor.determined.>"],
        ))
        .await?;
    js.create_stream(jetstream::stream::Config {
        max_messages_per_subject: 1,
        ..stream("FLOOR_STATE", &["floor.state.>"])
    })
    .await?;
    js.create_stream(stream("FLOOR_NOTIFY", &["floor.notify.>"]))
        .await?;

    let mut relays = Relays::default();
    relays
        .start(&js, &intake, "intake", "floor.intake.>", move |message| {
            vec![(
                format!("floor.accepted.{}", situation(message)),
                message.payload.clone(),
            )]
        })
        .await?;
    relays
        .start(
            &js,
            &events,
            "leadership",
            "floor.accepted.>",
            move |message| {
                let situation = situation(message);
                vec![
                    (format!("floor.state.{situation}"), message.payload.clone()),
                    (
                        format!("floor.determined.{situation}"),
                        message.payload.clone(),
                    ),
                ]
            },
        )
        .await?;
    let total = reports.len();
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<()>();
    for agency in ["iom", "unhcr"] {
        let per_determination = notifications_per_report / 2.0;
        let (mut seen, done) = (0usize, done.clone());
        relays
            .start(&js, &events, agency, "floor.determined.>", move |message| {
                // Notifications spread evenly: one whenever the running total passes a whole number.
                let due = ((seen + 1) as f64 * per_determination).floor()
                    > (seen as f64 * per_determination).floor();
                seen += 1;
                if seen == total {
                    let _ = done.send(());
                }
                match due {
                    true => vec![
                        (
                            format!("floor.notify.out.{agency}"),
                            message.payload.clone(),
                        ),
                        (
                            format!("floor.notify.status.{agency}"),
                            message.payload.clone(),
                        ),
                    ],
                    false => Vec::new(),
                }
            })
            .await?;
    }
    let mut follower = events
        .create_consumer(pull::OrderedConfig::default())
        .await?
        .messages()
        .await?;
    tokio::spawn(async move {
        let mut determined = 0;
        while let Some(message) = follower.next().await {
            match message {
                Ok(message) if message.subject.starts_with("floor.determined.") => {
                    determined += 1;
                    if determined == total {
                        let _ = done.send(());
                    }
                }
                Ok(_) => {}
                // An error the ordered consumer yields does not end it.
                Err(error) => tracing::warn!(%error, "the floor's follower: pull error"),
            }
        }
    });

    let cpu = CpuMeter::start(vec![
        Process::new("nats_server", server),
        Process::new("relays", std::process::id()),
    ]);
    let started = Instant::now();
    relays
        .until(async {
            publish_all(
                &js,
                reports.iter().map(|report| Outgoing {
                    subject: format!("floor.intake.{}", report.situation_id),
                    ..submission(report)
                }),
            )
            .await?;
            tokio::time::timeout(Duration::from_secs(300), async {
                for _ in 0..3 {
                    finished.recv().await;
                }
            })
            .await
            .context("the contract floor did not finish in 300 s")
        })
        .await?;
    Ok(RelayRun {
        throughput: total as f64 / started.elapsed().as_secs_f64(),
        cpu_per_item: cpu.per_item(total),
    })
}

/// The situation of a floor message: it rides in the subject's last token, so that no relay
/// decodes anything.
fn situation(message: &jetstream::Message) -> &str {
    let subject = message.subject.as_str();
    subject.rsplit('.').next().unwrap_or_default()
}

/// The relays of one measurement, each a task; dropping the set stops them.
#[derive(Default)]
struct Relays(tokio::task::JoinSet<anyhow::Result<()>>);

impl Relays {
    /// Starts a relay on a durable consumer of `stream` (`name`, filtered to `filter`): it
    /// pulls in batches, publishes what `forward` makes of each message (acknowledged
    /// publishes, all of a batch in flight at once), then acks the batch. No decoding, no
    /// state: the least a hop costs.
    async fn start(
        &mut self,
        js: &jetstream::Context,
        stream: &jetstream::stream::Stream,
        name: &str,
        filter: &str,
        mut forward: impl FnMut(&jetstream::Message) -> Vec<(String, bytes::Bytes)> + Send + 'static,
    ) -> anyhow::Result<()> {
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(name.into()),
                filter_subject: filter.into(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_ack_pending: 2048,
                ..Default::default()
            })
            .await?;
        let (js, name) = (js.clone(), name.to_string());
        self.0.spawn(async move {
            let messages = consumer
                .stream()
                .max_messages_per_batch(256)
                .messages()
                .await?;
            let mut batches = messages.ready_chunks(256);
            while let Some(batch) = batches.next().await {
                let mut pulled = Vec::with_capacity(batch.len());
                for message in batch {
                    match message {
                        Ok(message) => pulled.push(message),
                        // The pull stream goes on after an error (a missed heartbeat, say).
                        Err(error) => tracing::warn!(relay = name, %error, "pull error"),
                    }
                }
                let mut acks = Vec::with_capacity(pulled.len());
                for message in &pulled {
                    for (subject, payload) in forward(message) {
                        let publish = PublishMessage::build().payload(payload);
                        acks.push(js.send_publish(subject, publish).await?);
                    }
                }
                for ack in
                    futures::future::join_all(acks.into_iter().map(IntoFuture::into_future)).await
                {
                    ack.with_context(|| format!("relay {name}: a publish was not stored"))?;
                }
                for message in pulled {
                    message
                        .ack()
                        .await
                        .map_err(|error| anyhow::anyhow!(error))
                        .with_context(|| format!("relay {name}: an ack failed"))?;
                }
            }
            Ok(())
        });
        Ok(())
    }

    /// Runs `work`, failing instead with the error of any relay that stops first: a relay that
    /// lost a message would otherwise show only as a run that never finishes.
    async fn until<T>(
        &mut self,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        tokio::select! {
            result = work => result,
            Some(stopped) = self.0.join_next() => Err(match stopped {
                Ok(Err(error)) => error,
                Ok(Ok(())) => anyhow::anyhow!("a relay's pull stream ended"),
                Err(panicked) => panicked.into(),
            }),
        }
    }
}
