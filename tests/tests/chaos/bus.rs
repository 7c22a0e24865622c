//! The bus and the processes on it: the service instances, the single server or the cluster
//! they use, the schedule that kills and restarts them, and reading streams, consumers and the
//! data API back.

use super::*;

/// The kinds of service process, with their instance count.
pub(crate) const KINDS: [(&str, &str, usize); 5] = [
    ("intake", "tandem-intake", 2),
    ("leadership", "tandem-leadership", 2),
    ("notify-iom", "tandem-notify", 2),
    ("notify-unhcr", "tandem-notify", 2),
    ("publish", "tandem-publish", 2),
];

pub(crate) struct Instance {
    pub(crate) kind: &'static str,
    pub(crate) process: ServiceProcess,
    /// The HTTP port of a publish instance.
    pub(crate) http_port: Option<u16>,
}

pub(crate) fn start_services(bus: &Bus) -> Vec<Instance> {
    let mut instances = Vec::new();
    for (kind, binary, count) in KINDS {
        for number in 1..=count {
            let mut command = ServiceCommand::new(binary, &bus.urls())
                .label(format!("{kind}#{number}"))
                .env("TANDEM_STORAGE__REPLICAS", bus.replicas().to_string());
            for (key, value) in CONSUMER_ENV {
                // The test's own environment wins, to try other settings (e.g. production's).
                command = command.env(key, std::env::var(key).unwrap_or_else(|_| value.into()));
            }
            let mut http_port = None;
            match kind {
                // A report waiting for its predecessor holds its delivery this long (polling
                // the record) before asking for redelivery: half of ack_wait, so it is not
                // redelivered while still in hand.
                "leadership" => {
                    let wait =
                        std::env::var("TANDEM_GAP_WAIT_MS").unwrap_or_else(|_| "1000".into());
                    command = command.env("TANDEM_GAP_WAIT_MS", wait);
                }
                // A delivery claimed by a killed instance is taken over after 3 s instead of 5
                // minutes; a live delivery (one NATS publish) takes milliseconds.
                "notify-iom" | "notify-unhcr" => {
                    command = command
                        .arg("--agency")
                        .arg(kind.trim_start_matches("notify-"))
                        .env("TANDEM_CLAIM_LEASE_SECS", "3");
                }
                "publish" => {
                    let port = tandem_testkit::process::free_ports(1)[0];
                    http_port = Some(port);
                    command = command
                        .env("TANDEM_PUBLISH_ADDR", format!("127.0.0.1:{port}"))
                        .env("TANDEM_PUBLISH_INTERVAL_MS", "500");
                }
                _ => {}
            }
            instances.push(Instance {
                kind,
                process: command.spawn(),
                http_port,
            });
        }
    }
    instances
}

/// The NATS the pipeline runs on: one nats-server (R1), or with `TANDEM_CHAOS_CLUSTER=1` three
/// routed ones with every stream and bucket replicated three times (R3), as production runs.
pub(crate) enum Bus {
    Single(NatsServer),
    Cluster(NatsCluster),
}

impl Bus {
    pub(crate) async fn start(cluster: bool) -> Self {
        if !cluster {
            return Bus::Single(NatsServer::start());
        }
        let cluster = NatsCluster::start(3);
        cluster.wait_for_jetstream(Duration::from_secs(30)).await;
        Bus::Cluster(cluster)
    }

    /// `NATS_URL` for the services: every node of a cluster, so they fail over.
    pub(crate) fn urls(&self) -> String {
        match self {
            Bus::Single(server) => server.url(),
            Bus::Cluster(cluster) => cluster.urls(),
        }
    }

    /// What the summary calls it.
    pub(crate) fn describe(&self, server_version: &str) -> String {
        match self {
            Bus::Single(_) => format!("one nats-server {server_version}, streams R1"),
            Bus::Cluster(cluster) => format!(
                "{} routed nats-servers {server_version}, streams R{}",
                cluster.size(),
                self.replicas()
            ),
        }
    }

    pub(crate) fn replicas(&self) -> usize {
        match self {
            Bus::Single(_) => 1,
            Bus::Cluster(cluster) => cluster.size(),
        }
    }

    pub(crate) async fn jetstream(&self) -> async_nats::jetstream::Context {
        match self {
            Bus::Single(server) => server.jetstream().await,
            Bus::Cluster(cluster) => async_nats::jetstream::new(cluster.client().await),
        }
    }

    /// SIGKILLs the server (on a cluster: one node drawn at random), leaves it down for `down`,
    /// and starts it again on the same port and store.
    pub(crate) async fn crash_and_restart(
        &mut self,
        rng: &mut StdRng,
        down: Duration,
        started: tokio::time::Instant,
    ) {
        let (name, node) = match self {
            Bus::Single(_) => ("nats-server".to_string(), 0),
            Bus::Cluster(cluster) => {
                let node = rng.random_range(0..cluster.size());
                (format!("nats-server {}", cluster.name(node)), node)
            }
        };
        eprintln!("chaos {:>6.1?}: {name} killed", started.elapsed());
        match self {
            Bus::Single(server) => server.kill(),
            Bus::Cluster(cluster) => cluster.kill(node),
        }
        tokio::time::sleep(down).await;
        // Blocks until the server says it is ready (it reads its store first).
        tokio::task::block_in_place(|| match self {
            Bus::Single(server) => server.restart(),
            Bus::Cluster(cluster) => cluster.restart(node),
        });
        eprintln!("chaos {:>6.1?}: {name} restarted", started.elapsed());
    }
}

/// What the chaos schedule did.
#[derive(Default)]
pub(crate) struct Chaos {
    pub(crate) kills: u64,
    pub(crate) server_restarts: u64,
    /// Kills of every instance of a service with durable consumers, and how many of them
    /// left deliveries unacknowledged on those consumers (with every instance dead, only the
    /// dead can have held them): the proof that the kills hit work in flight.
    pub(crate) whole_service_kills: u64,
    pub(crate) whole_service_kills_in_flight: u64,
    /// Processes that ended without being killed: (label, status, last log lines). Each is a
    /// violation (a service must ride out every fault here); they are started again, as a
    /// supervisor would, so that the run goes on to check everything else.
    pub(crate) self_exits: Vec<String>,
}

impl Chaos {
    /// Starts again any process that ended by itself, noting it.
    pub(crate) fn supervise(&mut self, instances: &mut [Instance]) {
        for instance in instances.iter_mut() {
            if let Some(status) = instance.process.exited() {
                let log = instance.process.log();
                let tail = log[log.len().saturating_sub(8)..].join("\n    ");
                self.self_exits.push(format!(
                    "{} exited by itself ({status}); last log lines:\n    {tail}",
                    instance.process.label()
                ));
                instance.process.restart();
            }
        }
    }
}

/// Kills and restarts processes until `until`: every 0.3–1.2 s either one random instance or
/// (one time in five) every instance of one service, down for up to 0.7 s; the nats-server at
/// a third and at two thirds of the window, down for 0.2–1 s.
pub(crate) async fn run_chaos(
    js: &jetstream::Context,
    bus: &mut Bus,
    instances: &mut [Instance],
    rng: &mut StdRng,
    window: Duration,
    server_restarts: u32,
) -> Chaos {
    let started = tokio::time::Instant::now();
    let mut server_restarts_due: Vec<_> = (1..=server_restarts)
        .map(|n| started + window * n / (server_restarts + 1))
        .collect();
    let mut chaos = Chaos::default();
    // Every server restart happens, however short the window.
    while started.elapsed() < window || !server_restarts_due.is_empty() {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1200))).await;
        chaos.supervise(instances);
        if server_restarts_due
            .first()
            .is_some_and(|due| tokio::time::Instant::now() >= *due)
        {
            server_restarts_due.remove(0);
            let down = Duration::from_millis(rng.random_range(200..1000));
            bus.crash_and_restart(rng, down, started).await;
            chaos.server_restarts += 1;
            continue;
        }
        let drawn = rng
            .random_bool(0.2)
            .then(|| KINDS[rng.random_range(0..KINDS.len())].0);
        // From half the window on, until a kill of a whole service has been seen to hit work in
        // flight, every leadership instance at once, at a moment leadership holds deliveries it
        // has not acknowledged: the in-flight check is then never vacuous, and a run whose kills
        // all fell between bursts does not fail it by chance.
        let forced = chaos.whole_service_kills_in_flight == 0
            && started.elapsed() >= window / 2
            && drawn.is_none_or(|kind| kind == "publish");
        if forced {
            wait_for_work_in_flight(js, "leadership").await;
        }
        let whole_service = if forced { Some("leadership") } else { drawn };
        let victims: Vec<usize> = match whole_service {
            Some(kind) => (0..instances.len())
                .filter(|i| instances[*i].kind == kind)
                .collect(),
            None => vec![rng.random_range(0..instances.len())],
        };
        let names: Vec<&str> = victims
            .iter()
            .map(|v| instances[*v].process.label())
            .collect();
        eprintln!(
            "chaos {:>6.1?}: SIGKILL {}",
            started.elapsed(),
            names.join(", ")
        );
        for victim in &victims {
            instances[*victim].process.kill();
            chaos.kills += 1;
        }
        if let Some(kind) = whole_service
            && let Some(unacknowledged) = unacknowledged(js, kind).await
        {
            chaos.whole_service_kills += 1;
            if unacknowledged > 0 {
                chaos.whole_service_kills_in_flight += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..700))).await;
        for victim in victims {
            instances[victim].process.restart();
        }
    }
    chaos
}

/// Waits (at most 5 s) until service `kind` holds a delivery it has not acknowledged; after that
/// the kill goes ahead regardless, and the in-flight count says whether it hit one.
async fn wait_for_work_in_flight(js: &jetstream::Context, kind: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if unacknowledged(js, kind)
            .await
            .is_some_and(|pending| pending > 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The deliveries the durable consumers of service `kind` have not had acknowledged; `None`
/// for a service without durable consumers, or when the server does not answer (it may be
/// electing or starting: the kill is then not counted either way).
pub(crate) async fn unacknowledged(js: &jetstream::Context, kind: &str) -> Option<usize> {
    let consumers: Vec<(&str, &str)> = match kind {
        "intake" => topology::INTAKE_STREAMS
            .iter()
            .map(|(stream, _, durable)| (*stream, *durable))
            .collect(),
        "leadership" => vec![(topology::EVENTS_STREAM, "tandem-leadership")],
        "notify-iom" => vec![(topology::EVENTS_STREAM, "tandem-notify-iom")],
        "notify-unhcr" => vec![(topology::EVENTS_STREAM, "tandem-notify-unhcr")],
        _ => return None,
    };
    let mut total = 0;
    for (stream, durable) in consumers {
        let info = js
            .get_stream(stream)
            .await
            .ok()?
            .consumer_info(durable)
            .await
            .ok()?
            .clone();
        total += info.num_ack_pending;
    }
    Some(total)
}

/// Every message of stream `name`, in order, read with an ordered consumer (far faster than
/// one direct get per message).
pub(crate) async fn read_stream(js: &jetstream::Context, name: &str) -> Vec<jetstream::Message> {
    let mut stream = js.get_stream(name).await.expect("stream exists");
    let state = stream.info().await.expect("stream info").state.clone();
    if state.messages == 0 {
        return Vec::new();
    }
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut read = Vec::with_capacity(state.messages as usize);
    while let Some(message) = tokio::time::timeout(Duration::from_secs(30), messages.next())
        .await
        .unwrap_or_else(|_| panic!("reading {name} stalled after {} messages", read.len()))
    {
        let message = message.expect("stream message");
        let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        read.push(message);
        if sequence >= state.last_sequence {
            break;
        }
    }
    read
}

/// A one-line account of every durable consumer of tandem's streams:
/// `(stream, consumer, num_pending, num_ack_pending)`.
pub(crate) async fn durable_consumers(
    js: &jetstream::Context,
) -> Vec<(String, String, u64, usize)> {
    let mut found = Vec::new();
    for name in [
        topology::INTAKE_IOM_STREAM,
        topology::INTAKE_UNHCR_STREAM,
        topology::INTAKE_PARTNERS_STREAM,
        topology::EVENTS_STREAM,
        topology::ACKS_IOM_STREAM,
        topology::ACKS_UNHCR_STREAM,
        topology::DLQ_STREAM,
    ] {
        // A failed read fails the test: "nothing in flight" must not pass on an error.
        let stream = js
            .get_stream(name)
            .await
            .unwrap_or_else(|error| panic!("stream {name}: {error}"));
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.next().await {
            let info = info.unwrap_or_else(|error| panic!("consumers of {name}: {error}"));
            if info.config.durable_name.is_some() {
                found.push((
                    name.to_string(),
                    info.name.clone(),
                    info.num_pending,
                    info.num_ack_pending,
                ));
            }
        }
    }
    found.sort();
    found
}

/// Waits until the pipeline has handled everything: each durable consumer, in pipeline order
/// (a handler acks only after publishing what it produces, so once a consumer is empty its
/// output is already counted in the next one's pending), has nothing pending or unacked.
/// Fails after `timeout` naming what is still in flight.
pub(crate) async fn drain(
    js: &jetstream::Context,
    instances: &mut [Instance],
    chaos: &mut Chaos,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let order = [
        (topology::INTAKE_IOM_STREAM, "tandem-intake-iom"),
        (topology::INTAKE_UNHCR_STREAM, "tandem-intake-unhcr"),
        (topology::INTAKE_PARTNERS_STREAM, "tandem-intake-partners"),
        (topology::EVENTS_STREAM, "tandem-leadership"),
        (topology::EVENTS_STREAM, "tandem-notify-iom"),
        (topology::EVENTS_STREAM, "tandem-notify-unhcr"),
        (topology::ACKS_IOM_STREAM, "tandem-notify-iom-acks"),
        (topology::ACKS_UNHCR_STREAM, "tandem-notify-unhcr-acks"),
    ];
    for (stream, consumer) in order {
        loop {
            chaos.supervise(instances);
            let done = match js.get_stream(stream).await {
                Ok(handle) => handle
                    .consumer_info(consumer)
                    .await
                    .is_ok_and(|info| info.num_pending == 0 && info.num_ack_pending == 0),
                Err(_) => false,
            };
            if done {
                eprintln!(
                    "drain {:>6.1?}: {consumer} has handled everything",
                    timeout.saturating_sub(
                        deadline.saturating_duration_since(tokio::time::Instant::now())
                    )
                );
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let consumers = durable_consumers(js).await;
                let mut logs = String::new();
                for instance in instances.iter() {
                    let log = instance.process.log();
                    let _ = writeln!(
                        logs,
                        "  {}: {}",
                        instance.process.label(),
                        log[log.len().saturating_sub(3)..].join("\n    ")
                    );
                }
                return Err(format!(
                    "the pipeline did not finish within {timeout:?} after the chaos: {consumer} on \
                     {stream} still has work; consumers (stream, name, pending, unacked): \
                     {consumers:?}\nlast log lines:\n{logs}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// `GET path` from 127.0.0.1:`port`: (status, body); `None` when nothing answers.
pub(crate) async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = tandem_testkit::http_get(port, path).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The dataset of the publish instance on `port` once it has applied the stream up to
/// `version` (its JSON `version` is the sequence of the last event it applied that changed
/// something). Panics after `timeout`.
pub(crate) async fn dataset_at(port: u16, version: u64, timeout: Duration) -> Value {
    let what = format!("the publish instance on port {port} at dataset version {version}");
    tandem_testkit::eventually(what, timeout, || async {
        let (status, body) = http_get(port, "/v1/situations").await.ok_or("no answer")?;
        if status == 200
            && let Ok(dataset) = serde_json::from_str::<Value>(&body)
            && dataset["version"].as_u64().is_some_and(|v| v >= version)
        {
            return Ok(dataset);
        }
        Err(format!(
            "last answer: {status}: {}",
            body.chars().take(200).collect::<String>()
        ))
    })
    .await
}
