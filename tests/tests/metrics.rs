//! The metrics as an operator scrapes them: the four service binaries run with
//! `TANDEM_METRICS_ADDR`, reports flow through them (accepted, rejected, a duplicate, a
//! notification delivered, one failed, one escalated), and every `tandem_*` metric on their
//! `/metrics` must be a row of the table in `docs/operating.md` with exactly the labels it
//! lists, each label value among the values it lists, and every row must be served. The table
//! is read from the document itself, so the document and the code cannot drift apart.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use prost::Message as _;
use tandem_proto::v1::Agency;
use tandem_testkit::{TestStack, eventually, reports::valid_report};

/// A metric as documented or served: its label names, and for each the values seen (served)
/// or listed (documented; empty when the table lists none).
type Labels = BTreeMap<String, BTreeSet<String>>;

/// The table under "## Metrics" in `docs/operating.md`: metric name → its labels.
fn documented() -> BTreeMap<String, Labels> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operating.md");
    let text = std::fs::read_to_string(path).expect("docs/operating.md");
    let section = text
        .split("\n## Metrics\n")
        .nth(1)
        .expect("a Metrics section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let mut metrics = BTreeMap::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_string();
        metrics.insert(name, documented_labels(cells[2]));
    }
    assert!(!metrics.is_empty(), "no metric rows under ## Metrics");
    metrics
}

/// Parses a labels cell: "`service`, `outcome` (`processed`, `retried`)".
fn documented_labels(cell: &str) -> Labels {
    let mut labels = Labels::new();
    let mut rest = cell;
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let end = after.find('`').expect("closing backtick");
        let name = after[..end].to_string();
        rest = after[end + 1..].trim_start();
        let mut values = BTreeSet::new();
        if let Some(inner) = rest.strip_prefix('(') {
            let close = inner.find(')').expect("closing parenthesis");
            values = inner[..close]
                .split(',')
                .map(|value| value.trim().trim_matches('`').to_string())
                .collect();
            rest = &inner[close + 1..];
        }
        labels.insert(name, values);
    }
    labels
}

/// The `tandem_*` metrics in a Prometheus text exposition, with the label values seen; a
/// histogram's `_bucket`, `_sum` and `_count` series count as the histogram (without `le`).
fn served(text: &str, into: &mut BTreeMap<String, Labels>) {
    let histograms: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" histogram"))
        .collect();
    for line in text.lines().filter(|line| line.starts_with("tandem_")) {
        let (series, labels) = match line.split_once('{') {
            Some((series, rest)) => (series, rest.rsplit_once('}').expect("closing brace").0),
            None => (line.split_whitespace().next().unwrap_or_default(), ""),
        };
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| series.strip_suffix(suffix))
            .find(|base| histograms.contains(base))
            .unwrap_or(series);
        let entry = into.entry(name.to_string()).or_default();
        // Values are quoted and ours hold no `",`.
        for pair in labels.split("\",").filter(|pair| !pair.is_empty()) {
            let (label, value) = pair.split_once("=\"").expect("label=\"value\"");
            if label != "le" {
                entry
                    .entry(label.to_string())
                    .or_default()
                    .insert(value.trim_end_matches('"').to_string());
            }
        }
    }
}

/// `GET /metrics` on `127.0.0.1:port`: the body, or empty when it cannot be read yet.
async fn scrape(port: u16) -> String {
    tandem_testkit::http_get(port, "/metrics")
        .await
        .ok()
        .and_then(|response| Some(response.split_once("\r\n\r\n")?.1.to_string()))
        .unwrap_or_default()
}

/// IOM's country coordinator for COL, on NATS and on e-mail (which fails: no SMTP relay is
/// configured), and its regional coordinator, to whom the unacknowledged notification
/// escalates.
const DIRECTORY: &str = r#"[
  {"id": "cc", "name": "C", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["COL"],
   "channels": [{"nats": {}}, {"email": {"address": "cc@iom.example.org"}}]},
  {"id": "rc", "name": "R", "agency": "iom", "role": "REGIONAL_COORDINATOR", "countries": ["COL"],
   "channels": [{"nats": {}}]}
]"#;

/// The label values the traffic below must produce, so that the check is not vacuous.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("tandem_messages_total", "outcome", "processed"),
    ("tandem_reports_total", "outcome", "accepted"),
    ("tandem_reports_total", "outcome", "rejected"),
    ("tandem_reports_total", "outcome", "duplicate"),
    (
        "tandem_notification_deliveries_total",
        "outcome",
        "delivered",
    ),
    ("tandem_notification_deliveries_total", "outcome", "failed"),
    ("tandem_notification_escalations_total", "agency", "iom"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_served_is_in_the_operating_guide_with_its_labels_and_every_row_is_served() {
    let documented = documented();
    let stack = TestStack::builder()
        .all()
        .directory(DIRECTORY)
        .metrics()
        .env("TANDEM_SLA__COUNTRY_COORDINATOR_SECS", "1")
        .env("TANDEM_TIMER_TICK_MS", "100")
        .start()
        .await;

    let report = valid_report(Agency::Iom, "m-1", "METRICS-1", 1);
    let invalid = valid_report(Agency::Iom, "m-2", "METRICS-2", 0);
    // The first report again, under another message id: intake answers it as a duplicate.
    for (payload, id) in [
        (report.encode_to_vec(), "m-1"),
        (invalid.encode_to_vec(), "m-2"),
        (report.encode_to_vec(), "m-1-again"),
    ] {
        stack.submit_bytes("iom", id, payload).await;
    }

    let served = eventually(
        "every expected label value served",
        Duration::from_secs(60),
        || async {
            let mut served = BTreeMap::new();
            for port in stack.metrics_ports() {
                self::served(&scrape(*port).await, &mut served);
            }
            let missing: Vec<_> = EXPECTED
                .iter()
                .filter(|(metric, label, value)| {
                    !served
                        .get(*metric)
                        .and_then(|labels: &Labels| labels.get(*label))
                        .is_some_and(|values| values.contains(*value))
                })
                .collect();
            if missing.is_empty() {
                Ok(served)
            } else {
                Err(format!("missing: {missing:?}; served: {served:#?}"))
            }
        },
    )
    .await;

    for (metric, labels) in &served {
        let listed = documented.get(metric).unwrap_or_else(|| {
            panic!("{metric} is served but not in docs/operating.md's table: {labels:?}")
        });
        assert_eq!(
            labels.keys().collect::<Vec<_>>(),
            listed.keys().collect::<Vec<_>>(),
            "{metric}: the labels served and those the table lists"
        );
        for (label, values) in labels {
            let allowed = &listed[label];
            assert!(
                allowed.is_empty() || values.is_subset(allowed),
                "{metric}: {label} takes {values:?}, the table lists {allowed:?}"
            );
        }
    }
    for metric in documented.keys() {
        assert!(
            served.contains_key(metric),
            "{metric} is in the table but no service serves it: {:?}",
            served.keys()
        );
    }
}
