//! The results of a run, typed, and the figures they print as: one per line, in words or as
//! JSON (`{"figure", "value", "unit"}`). The figure names are the interface that
//! `docs/performance.md` and scripts read; [`Results::figures`] is the one place they are made.

/// A value of one process of a run (a service, the nats-server, the relays), named as in the
/// figures (`notify_iom`, not `notify-iom`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessFigure {
    pub process: String,
    pub value: f64,
}

/// A run of relays (the bare four hops, or the contract floor).
#[derive(Debug)]
pub struct RelayRun {
    /// Messages (bare) or reports (floor) per second through the whole run.
    pub throughput: f64,
    /// Processor time per message or report of each process, microseconds.
    pub cpu_per_item: Vec<ProcessFigure>,
}

/// A run of the service binaries.
#[derive(Debug)]
pub struct PipelineRun {
    /// Reports per second, from the first publish until everything is handled.
    pub throughput: f64,
    /// Notifications the notify services delivered.
    pub notifications: usize,
    /// Messages stored in JetStream (every stream and bucket) per report.
    pub writes_per_report: f64,
    /// Peak resident memory of each service, MiB.
    pub peak_rss_mib: Vec<ProcessFigure>,
    /// Processor time per report of each service and the nats-server, microseconds.
    pub cpu_per_report: Vec<ProcessFigure>,
}

/// Time from publish to determination, milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// The percentiles of `latencies` (in milliseconds, any order); `None` when empty.
    pub fn of(mut latencies: Vec<f64>) -> Option<Self> {
        latencies.sort_by(f64::total_cmp);
        let last = latencies.len().checked_sub(1)?;
        let at = |percent: usize| latencies[last * percent / 100];
        Some(Self {
            p50_ms: at(50),
            p99_ms: at(99),
            max_ms: latencies[last],
        })
    }
}

/// The data service's starts on a stream filled beforehand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StartRun {
    /// Events on `TANDEM_EVENTS`.
    pub events: f64,
    /// Seconds from starting the process to `/healthz` 200 without a snapshot.
    pub full_rebuild_s: f64,
    /// Events that start read.
    pub full_replayed: f64,
    /// The same, from the snapshot it then stored.
    pub from_snapshot_s: f64,
    /// Events that start read.
    pub snapshot_replayed: f64,
    /// The stored snapshot's size, MiB.
    pub snapshot_mib: f64,
}

/// The cost of one event with many situations published.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventRun {
    /// Situations published.
    pub situations: f64,
    /// The data service's processor time per event, milliseconds.
    pub cpu_ms: f64,
    /// Median time from the event stored to its version announced, milliseconds.
    pub wall_ms: f64,
    /// Time to download the last version, read from the object store (not yet cached),
    /// milliseconds.
    pub version_read_ms: f64,
}

/// What the data service scenario measured (`--start-events`, `--situations`; 0 skips).
#[derive(Debug, Default)]
pub struct PublishResults {
    pub start: Option<StartRun>,
    pub one_event: Option<EventRun>,
}

impl PublishResults {
    /// The figures, in the order they are printed.
    pub fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        if let Some(start) = self.start {
            figures.extend([
                Figure::new("publish_start_events", start.events, "events"),
                Figure::new("publish_start_full_rebuild_s", start.full_rebuild_s, "s"),
                Figure::new(
                    "publish_start_full_rebuild_events_read",
                    start.full_replayed,
                    "events",
                ),
                Figure::new("publish_start_from_snapshot_s", start.from_snapshot_s, "s"),
                Figure::new(
                    "publish_start_from_snapshot_events_read",
                    start.snapshot_replayed,
                    "events",
                ),
                Figure::new("publish_snapshot_mib", start.snapshot_mib, "MiB"),
            ]);
        }
        if let Some(event) = self.one_event {
            figures.extend([
                Figure::new(
                    "publish_one_event_situations",
                    event.situations,
                    "situations",
                ),
                Figure::new("publish_one_event_cpu_ms", event.cpu_ms, "ms"),
                Figure::new("publish_one_event_to_version_ms", event.wall_ms, "ms"),
                Figure::new("publish_version_read_ms", event.version_read_ms, "ms"),
            ]);
        }
        figures
    }
}

/// Everything one `tandem bench` measured: the best run of each kind, and the latencies.
#[derive(Debug)]
pub struct Results {
    pub bare: RelayRun,
    pub floor: RelayRun,
    pub tracing_off: PipelineRun,
    pub tracing_on: PipelineRun,
    /// Of the throughput runs' mix of reports.
    pub latency: Latency,
    /// Of reports that each open a new situation.
    pub latency_new_situations: Latency,
}

/// One printed figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
}

impl Figure {
    fn new(name: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Self {
            name: name.into(),
            value,
            unit,
        }
    }

    /// The figure as one JSON object, its value rounded to hundredths.
    pub fn json(&self) -> serde_json::Value {
        let value = (self.value * 100.0).round() / 100.0;
        serde_json::json!({"figure": self.name, "value": value, "unit": self.unit})
    }

    /// The figure as one aligned line of text.
    pub fn line(&self) -> String {
        format!("{:<36} {:>12.2} {}", self.name, self.value, self.unit)
    }
}

impl Results {
    /// The figures, in the order they are printed.
    pub fn figures(&self) -> Vec<Figure> {
        let (bare, floor) = (self.bare.throughput, self.floor.throughput);
        let (off, on) = (&self.tracing_off, &self.tracing_on);
        let mut figures = vec![
            Figure::new("bare_4hop_msgs_per_s", bare, "msgs/s"),
            Figure::new("pipeline_reports_per_s", off.throughput, "reports/s"),
            Figure::new("pipeline_to_bare_ratio", off.throughput / bare, "ratio"),
            Figure::new("contract_floor_reports_per_s", floor, "reports/s"),
            Figure::new("floor_to_bare_ratio", floor / bare, "ratio"),
            Figure::new("pipeline_to_floor_ratio", off.throughput / floor, "ratio"),
            Figure::new(
                "pipeline_notifications",
                off.notifications as f64,
                "notifications",
            ),
            // A message through the bare relay is stored 5 times: as sent, and once per hop.
            Figure::new(
                "pipeline_stored_msgs_per_report",
                off.writes_per_report,
                "msgs",
            ),
        ];
        for (name, latency) in [
            ("latency", self.latency),
            ("latency_new_situations", self.latency_new_situations),
        ] {
            figures.push(Figure::new(format!("{name}_p50_ms"), latency.p50_ms, "ms"));
            figures.push(Figure::new(format!("{name}_p99_ms"), latency.p99_ms, "ms"));
            figures.push(Figure::new(format!("{name}_max_ms"), latency.max_ms, "ms"));
        }
        figures.push(Figure::new(
            "pipeline_reports_per_s_tracing_on",
            on.throughput,
            "reports/s",
        ));
        figures.push(Figure::new(
            "tracing_on_to_off_ratio",
            on.throughput / off.throughput,
            "ratio",
        ));
        let per_process = [
            ("peak_rss_mib_", &off.peak_rss_mib, "MiB"),
            ("bare_cpu_us_per_msg_", &self.bare.cpu_per_item, "us"),
            ("floor_cpu_us_per_report_", &self.floor.cpu_per_item, "us"),
            ("pipeline_cpu_us_per_report_", &off.cpu_per_report, "us"),
        ];
        for (prefix, processes, unit) in per_process {
            for ProcessFigure { process, value } in processes {
                figures.push(Figure::new(format!("{prefix}{process}"), *value, unit));
            }
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(process: &str, value: f64) -> ProcessFigure {
        ProcessFigure {
            process: process.into(),
            value,
        }
    }

    #[test]
    fn latency_percentiles_come_from_the_sorted_values() {
        let latency = Latency::of((1..=100).rev().map(f64::from).collect()).expect("values");
        assert_eq!(
            latency,
            Latency {
                p50_ms: 50.0,
                p99_ms: 99.0,
                max_ms: 100.0
            }
        );
        assert_eq!(Latency::of(Vec::new()), None);
    }

    #[test]
    fn figures_are_named_and_derived_as_the_documented_output() {
        let pipeline = |throughput| PipelineRun {
            throughput,
            notifications: 40,
            writes_per_report: 9.5,
            peak_rss_mib: vec![process("notify_iom", 12.0)],
            cpu_per_report: vec![process("intake", 30.0)],
        };
        let latency = Latency {
            p50_ms: 2.0,
            p99_ms: 5.0,
            max_ms: 7.0,
        };
        let results = Results {
            bare: RelayRun {
                throughput: 4000.0,
                cpu_per_item: vec![process("relay", 10.0)],
            },
            floor: RelayRun {
                throughput: 2000.0,
                cpu_per_item: vec![process("nats_server", 20.0)],
            },
            tracing_off: pipeline(1000.0),
            tracing_on: pipeline(800.0),
            latency,
            latency_new_situations: latency,
        };
        let printed: Vec<(String, f64, &str)> = results
            .figures()
            .iter()
            .map(|figure| {
                let json = figure.json();
                (
                    json["figure"].as_str().expect("figure").to_string(),
                    json["value"].as_f64().expect("value"),
                    figure.unit,
                )
            })
            .collect();
        let expected = [
            ("bare_4hop_msgs_per_s", 4000.0, "msgs/s"),
            ("pipeline_reports_per_s", 1000.0, "reports/s"),
            ("pipeline_to_bare_ratio", 0.25, "ratio"),
            ("contract_floor_reports_per_s", 2000.0, "reports/s"),
            ("floor_to_bare_ratio", 0.5, "ratio"),
            ("pipeline_to_floor_ratio", 0.5, "ratio"),
            ("pipeline_notifications", 40.0, "notifications"),
            ("pipeline_stored_msgs_per_report", 9.5, "msgs"),
            ("latency_p50_ms", 2.0, "ms"),
            ("latency_p99_ms", 5.0, "ms"),
            ("latency_max_ms", 7.0, "ms"),
            ("latency_new_situations_p50_ms", 2.0, "ms"),
            ("latency_new_situations_p99_ms", 5.0, "ms"),
            ("latency_new_situations_max_ms", 7.0, "ms"),
            ("pipeline_reports_per_s_tracing_on", 800.0, "reports/s"),
            ("tracing_on_to_off_ratio", 0.8, "ratio"),
            ("peak_rss_mib_notify_iom", 12.0, "MiB"),
            ("bare_cpu_us_per_msg_relay", 10.0, "us"),
            ("floor_cpu_us_per_report_nats_server", 20.0, "us"),
            ("pipeline_cpu_us_per_report_intake", 30.0, "us"),
        ]
        .map(|(name, value, unit)| (name.to_string(), value, unit));
        assert_eq!(printed, expected);
    }

    #[test]
    fn values_print_rounded_to_hundredths() {
        let figure = Figure::new("tracing_on_to_off_ratio", 2.0 / 3.0, "ratio");
        assert_eq!(
            figure.json(),
            serde_json::json!({"figure": "tracing_on_to_off_ratio", "value": 0.67, "unit": "ratio"})
        );
        assert_eq!(
            figure.line(),
            format!("{:<36} {:>12} ratio", "tracing_on_to_off_ratio", "0.67")
        );
    }
}
