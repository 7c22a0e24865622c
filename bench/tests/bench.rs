//! `tandem-bench` as `tandem bench` runs it: its own nats-servers, the service binaries built
//! next to it (the workspace's tests build them all).

use std::process::Command;

#[test]
fn reports_every_figure_as_json_lines() {
    // A small run: the figures' presence and consistency, not their size (that is measured on
    // a release build and written in docs/performance.md).
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-bench"))
        .args(["--reports", "300", "--rate", "200"])
        .args(["--latency-secs", "1", "--rounds", "1", "--json"])
        .args(["--start-events", "600", "--situations", "200"])
        .output()
        .expect("run tandem-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tandem-bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures: std::collections::HashMap<String, (f64, String)> = stdout
        .lines()
        .map(|line| {
            let figure: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            (
                figure["figure"].as_str().expect("figure").to_string(),
                (
                    figure["value"].as_f64().expect("value"),
                    figure["unit"].as_str().expect("unit").to_string(),
                ),
            )
        })
        .collect();
    let mut required: Vec<String> = [
        "pipeline_reports_per_s",
        "bare_4hop_msgs_per_s",
        "pipeline_to_bare_ratio",
        "contract_floor_reports_per_s",
        "floor_to_bare_ratio",
        "pipeline_to_floor_ratio",
        "latency_p50_ms",
        "latency_p99_ms",
        "latency_max_ms",
        "latency_new_situations_p50_ms",
        "latency_new_situations_p99_ms",
        "latency_new_situations_max_ms",
        "tracing_on_to_off_ratio",
    ]
    .map(String::from)
    .into();
    for service in [
        "intake",
        "leadership",
        "notify_iom",
        "notify_unhcr",
        "publish",
    ] {
        required.push(format!("peak_rss_mib_{service}"));
    }
    for name in &required {
        let (value, _) = figures
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from:\n{stdout}"));
        assert!(value.is_finite() && *value > 0.0, "{name} = {value}");
    }
    let value = |name: &str| figures[name].0;
    // The ratios are the ratios of the figures printed (rounded to hundredths).
    let ratio = value("pipeline_reports_per_s") / value("bare_4hop_msgs_per_s");
    assert!(
        (value("pipeline_to_bare_ratio") - ratio).abs() <= 0.01,
        "{stdout}"
    );
    let ratio = value("pipeline_reports_per_s") / value("contract_floor_reports_per_s");
    assert!(
        (value("pipeline_to_floor_ratio") - ratio).abs() <= 0.01,
        "{stdout}"
    );
    // The floor is the contract's events and nothing else: the services, which also validate,
    // decide and keep state, cannot beat it.
    assert!(value("pipeline_to_floor_ratio") < 1.0, "{stdout}");
    for feed in ["latency", "latency_new_situations"] {
        let [p50, p99, max] = ["p50", "p99", "max"].map(|q| value(&format!("{feed}_{q}_ms")));
        assert!(p50 <= p99 && p99 <= max, "{stdout}");
    }
    assert_eq!(figures["pipeline_reports_per_s"].1, "reports/s");
    assert!(
        value("pipeline_notifications") > 0.0,
        "notify was in the pipeline"
    );

    // The data service: a start without a snapshot reads every event, one from the snapshot
    // it then stored reads at most the version it announced after it.
    // Counts, printed as whole numbers.
    let is = |name: &str, count: f64| (value(name) - count).abs() < 0.5;
    assert!(is("publish_start_events", 600.0), "{stdout}");
    assert!(
        is("publish_start_full_rebuild_events_read", 600.0),
        "{stdout}"
    );
    assert!(
        value("publish_start_from_snapshot_events_read") < 1.5,
        "{stdout}"
    );
    for name in [
        "publish_start_full_rebuild_s",
        "publish_start_from_snapshot_s",
        "publish_one_event_to_version_ms",
        "publish_version_read_ms",
    ] {
        assert!(value(name) > 0.0, "{name}: {stdout}");
    }
    // A snapshot of 600 events rounds to 0.00 MiB; printed all the same.
    assert!(figures.contains_key("publish_snapshot_mib"), "{stdout}");
    assert!(is("publish_one_event_situations", 200.0), "{stdout}");
    assert!(figures.contains_key("publish_one_event_cpu_ms"), "{stdout}");
}
