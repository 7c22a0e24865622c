//! A policy rollout as an operator runs it (docs/coordinators.md): leadership determined
//! situations under policy v1; two instances are started on a v2 file and the v1 instance is
//! stopped; `tandem policy apply --expect-version v2` has one of them re-determine every
//! situation. The situation v2 classifies differently gets one v2 determination, the other
//! none; reports after the switch are determined under v2 whichever instance takes them; an
//! apply expecting another version is refused.

use std::time::Duration;

use async_nats::jetstream;
use tandem_proto::v1::{
    Agency, Classification, LeadershipDetermination, PopulationGroup, SituationReport,
};
use tandem_runtime::topology;
use tandem_testkit::{
    TestStack,
    clients::{determinations, submit},
    eventually,
    reports::Report,
    services::binary,
};

/// A report by IOM on `situation` in COL with `refugees` refugees and `migrants` migrants.
fn report(id: &str, situation: &str, refugees: u64, migrants: u64) -> SituationReport {
    Report::new(Agency::Iom, id, situation, 1)
        .figures(
            "2026-01-15",
            "test",
            &[
                (PopulationGroup::Refugee, refugees),
                (PopulationGroup::Migrant, migrants),
            ],
        )
        .build()
}

/// The shipped policy as version v2, with the refugee threshold moved from 0.80 to 0.90: a
/// protection share of 0.82 is a refugee situation under v1 and, with the hysteresis of 0.05
/// in its favour (≥ 0.85 to stay), no longer under v2.
fn policy_v2(dir: &std::path::Path) -> std::path::PathBuf {
    let v1 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/policy/leadership-v1.toml"
    ))
    .expect("the shipped policy");
    let v2 = v1
        .replacen("version = \"v1\"", "version = \"v2\"", 1)
        .replacen("refugee = 0.80", "refugee = 0.90", 1);
    assert!(
        v2.contains("version = \"v2\"") && v2.contains("refugee = 0.90"),
        "the shipped policy no longer has the lines this test edits"
    );
    let path = dir.join("leadership-v2.toml");
    std::fs::write(&path, v2).expect("write the v2 policy");
    path
}

/// A server, intake and one leadership instance on the shipped policy v1; the rollout to v2
/// is [`Rollout::switch_to_v2`].
struct Rollout {
    stack: TestStack,
    js: jetstream::Context,
    policy_dir: tempfile::TempDir,
}

impl Rollout {
    async fn start() -> Self {
        let stack = TestStack::builder().intake().leadership().start().await;
        Self {
            js: stack.js.clone(),
            stack,
            policy_dir: tempfile::tempdir().expect("a directory for the policy"),
        }
    }

    /// Two leadership instances on policy v2, consuming; then the v1 instance stops.
    async fn switch_to_v2(&mut self) {
        let v2 = policy_v2(self.policy_dir.path());
        for label in ["leadership-v2a", "leadership-v2b"] {
            let instance = self
                .stack
                .command("tandem-leadership")
                .label(label)
                .env("TANDEM_POLICY_FILE", v2.display().to_string());
            self.stack.add(instance).await;
        }
        self.stack.service("leadership").kill();
    }
}

/// How long the determinations may take to appear.
const WAIT: Duration = Duration::from_secs(60);

/// Waits until `count` determinations were published.
async fn wait_for_determinations(
    js: &jetstream::Context,
    count: usize,
) -> Vec<LeadershipDetermination> {
    eventually(format!("{count} determinations"), WAIT, || async {
        let found = determinations(js).await;
        if found.len() >= count {
            Ok(found)
        } else {
            Err(format!("{found:#?}"))
        }
    })
    .await
}

async fn publish_report(js: &jetstream::Context, report: SituationReport) {
    submit(js, "iom", &report).await;
}

/// `tandem policy apply` with `args`: exit code, stdout, stderr.
fn apply(stack: &TestStack, args: &[&str]) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(binary("tandem"))
        .args([
            "policy",
            "apply",
            "--timeout",
            "30",
            "--nats-url",
            &stack.server.url(),
        ])
        .args(args)
        .output()
        .expect("tandem runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_apply_after_a_rollout_to_two_instances_re_determines_once_under_the_new_policy() {
    let mut world = Rollout::start().await;
    let js = world.js.clone();

    publish_report(&js, report("r-change", "S-CHANGE", 820, 180)).await;
    publish_report(&js, report("r-same", "S-SAME", 500, 500)).await;
    let before = wait_for_determinations(&js, 2).await;
    let classification = |found: &[LeadershipDetermination], situation: &str| {
        found
            .iter()
            .rev()
            .find(|d| d.situation_id == situation)
            .map(|d| (d.classification(), d.policy_version.clone()))
    };
    assert_eq!(
        classification(&before, "S-CHANGE"),
        Some((Classification::RefugeeSituation, "v1".into()))
    );
    assert_eq!(
        classification(&before, "S-SAME"),
        Some((Classification::MixedMovement, "v1".into()))
    );

    // The rollout: two instances on v2, then the v1 instance stops.
    world.switch_to_v2().await;
    let stack = &world.stack;

    let (code, stdout, stderr) = apply(stack, &["--expect-version", "v2"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "policy v2: 2 situation(s) re-evaluated, 1 changed: S-CHANGE",
        "{stderr}"
    );
    // The reply comes after the walk, so its determinations are stored by now: one, for the
    // situation that changed, under v2.
    let after = determinations(&js).await;
    assert_eq!(after.len(), 3, "one new determination: {after:#?}");
    assert_eq!(after[2].situation_id, "S-CHANGE");
    assert_eq!(after[2].policy_version, "v2");
    assert_ne!(after[2].classification(), Classification::RefugeeSituation);

    // Applying again changes nothing, and only one instance walks (no determination twice).
    let (code, stdout, _) = apply(stack, &["--expect-version", "v2"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout.trim(),
        "policy v2: 2 situation(s) re-evaluated, 0 changed"
    );
    assert_eq!(determinations(&js).await.len(), 3);

    // An operator expecting v1 is told the instances run v2, and nothing is re-determined.
    let (code, _, stderr) = apply(stack, &["--expect-version", "v1"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("this instance runs policy v2, not v1"),
        "{stderr}"
    );

    // Reports after the switch, whichever instance takes them, are determined under v2.
    const NEW: usize = 8;
    for number in 0..NEW {
        publish_report(
            &js,
            report(
                &format!("r-new-{number}"),
                &format!("S-NEW-{number}"),
                820,
                180,
            ),
        )
        .await;
    }
    let all = wait_for_determinations(&js, 3 + NEW).await;
    assert_eq!(all.len(), 3 + NEW, "{all:#?}");
    for determination in &all[3..] {
        assert_eq!(determination.policy_version, "v2", "{determination:?}");
        assert_eq!(
            determination.classification(),
            Classification::MixedMovement,
            "a share of 0.82 is below v2's refugee threshold: {determination:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_flowing_through_a_rollout_and_apply_are_each_determined_by_one_policy() {
    let mut world = Rollout::start().await;
    let js = world.js.clone();

    // Reports keep coming, one situation each (share 0.82), until the apply has answered.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(20));
            let mut sent = 0;
            while !*stopped.borrow_and_update() {
                publish_report(
                    &js,
                    report(
                        &format!("r-flow-{sent}"),
                        &format!("S-FLOW-{sent}"),
                        820,
                        180,
                    ),
                )
                .await;
                sent += 1;
                tokio::select! {
                    _ = pace.tick() => {}
                    _ = stopped.changed() => {}
                }
            }
            sent
        })
    };
    wait_for_determinations(&js, 3).await;

    // The rollout: two instances on v2, then the v1 instance stops.
    world.switch_to_v2().await;
    let stack = &world.stack;
    let (code, stdout, stderr) = apply(stack, &["--expect-version", "v2"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    stop.send(true).expect("the publisher runs");
    let sent = publisher.await.expect("publisher");
    // Intake first: until it has accepted the last reports, leadership has nothing pending.
    let (intake_stream, _, intake_durable) = topology::INTAKE_STREAMS[0];
    tandem_testkit::wait_until_consumed(&js, intake_stream, intake_durable, WAIT).await;
    tandem_testkit::wait_until_consumed(&js, topology::EVENTS_STREAM, "tandem-leadership", WAIT)
        .await;

    // Each determination is wholly one policy's: v1 classifies 0.82 as a refugee situation, v2
    // as a mixed movement. Every report was determined; a situation determined under v1 before
    // the switch was re-determined under v2 by the apply, never the other way round.
    let all = determinations(&js).await;
    let (mut before_switch, mut after_switch) = (0, 0);
    for number in 0..sent {
        let situation = format!("S-FLOW-{number}");
        let found: Vec<(String, Classification)> = all
            .iter()
            .filter(|d| d.situation_id == situation)
            .map(|d| (d.policy_version.clone(), d.classification()))
            .collect();
        let v1_refugee = ("v1".to_string(), Classification::RefugeeSituation);
        let v2_mixed = ("v2".to_string(), Classification::MixedMovement);
        if found == [v2_mixed.clone()] {
            after_switch += 1;
        } else {
            assert_eq!(found, [v1_refugee, v2_mixed], "{situation} of {sent}");
            before_switch += 1;
        }
    }
    assert!(
        before_switch > 0 && after_switch > 0,
        "reports flowed through the switch: {before_switch} determined before, {after_switch} after"
    );
    assert_eq!(
        all.len(),
        all.iter()
            .filter(|d| d.situation_id.starts_with("S-FLOW-"))
            .count(),
        "nothing else determined"
    );
    let dead = js
        .get_stream(topology::DLQ_STREAM)
        .await
        .expect("the dead-letter stream")
        .info()
        .await
        .expect("its info")
        .state
        .messages;
    assert_eq!(dead, 0, "no report dead-lettered");
}
