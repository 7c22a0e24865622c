//! Joint review of determinations (docs/design.md, "Joint review"), as the agencies live it,
//! against a nats-server running the shipped accounts (`deploy/nats/accounts.conf`) with
//! leadership, both notifiers and publish each as its own user, and IOM and UNHCR reviewing
//! through their own accounts' `tandem.review.<agency>` imports:
//!
//! - a changed determination is PROVISIONAL, stays so after one agency's endorsement, and is
//!   AGREED after both;
//! - a contest notifies both agencies' regional coordinators with the reason, and escalates to
//!   both HQs once its deadline passes while it is still contested;
//! - a review of a superseded determination is refused with a clear message, and so is a
//!   review in the other agency's name (its coordinator is not in the agency's directory; its
//!   subject is not the agency's to use);
//! - the history (data service) lists the reviews and the acknowledgements with who.

use async_nats::jetstream;
use prost::Message as _;
use tandem_leadership::LeadershipConfig;
use tandem_notify::{NotifyAgency, NotifyConfig, config::SlaConfig, directory::Directory};
use tandem_proto::{
    subjects,
    v1::{
        Agency, DeterminationStatus, LeadershipRecord, NotificationKind, PopulationGroup,
        ReviewReply, ReviewRequest, ReviewVerdict,
    },
};
use tandem_publish::PublishConfig;
use tandem_runtime::{Shutdown, config::CommonConfig};
use tandem_testkit::{
    DEADLINE, clients, eventually, init_test_log,
    reports::{Report, announce_accepted},
    secure::SecureServer,
};

/// The regional coordinators' deadline: short, so a contest escalates within the test.
const REGIONAL_DEADLINE_SECS: u64 = 2;

const DIRECTORY: &str = r#"
- {id: iom-col-cc, name: A, agency: AGENCY_IOM, role: COUNTRY_COORDINATOR, countries: [COL], channels: [{nats: {}}]}
- {id: iom-americas-rc, name: B, agency: AGENCY_IOM, role: REGIONAL_COORDINATOR, countries: [COL, PER], channels: [{nats: {}}]}
- {id: iom-hq, name: C, agency: AGENCY_IOM, role: HQ, countries: [], channels: [{nats: {}}]}
- {id: iom-col-data, name: D, agency: AGENCY_IOM, role: DATA_FOCAL_POINT, countries: [COL], channels: [{nats: {}}]}
- {id: unhcr-col-cc, name: E, agency: AGENCY_UNHCR, role: COUNTRY_COORDINATOR, countries: [COL], channels: [{nats: {}}]}
- {id: unhcr-americas-rc, name: F, agency: AGENCY_UNHCR, role: REGIONAL_COORDINATOR, countries: [COL], channels: [{nats: {}}]}
- {id: unhcr-hq, name: G, agency: AGENCY_UNHCR, role: HQ, countries: [], channels: [{nats: {}}]}
"#;

/// One service's settings, connecting as `user`.
fn common(server: &SecureServer, user: &str) -> CommonConfig {
    let mut common = CommonConfig::default();
    common.nats.url = server.url();
    common.nats.user = Some(user.into());
    common.nats.password = Some(format!("{user}-dev-password"));
    common.consumer.ack_wait_secs = 5;
    common.consumer.retry_base_ms = 50;
    common
}

/// The stack, each service as its own user, and the agencies' and the operator's connections.
struct World {
    server: SecureServer,
    admin_js: jetstream::Context,
    iom: async_nats::Client,
    unhcr: async_nats::Client,
    shutdown: Shutdown,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<anyhow::Result<()>>)>,
    publish_addr: String,
    accepted: u64,
}

impl World {
    async fn start() -> Self {
        let server = SecureServer::start();
        // As in a deployment: the admin makes the streams and durables (services may not).
        server.set_up().await;
        let admin = server.connect("admin", "admin-dev-password", None).await;
        let admin_js = jetstream::new(admin.clone());
        let entries = tandem_notify::directory::parse(DIRECTORY).expect("valid directory");
        Directory::open(&admin_js, &Default::default())
            .await
            .expect("directory bucket")
            .import(&entries)
            .await
            .expect("imported");
        let shutdown = Shutdown::new();
        let mut tasks = Vec::new();
        tasks.push((
            "leadership",
            tokio::spawn(tandem_leadership::run(
                LeadershipConfig {
                    common: common(&server, "leadership"),
                    ..Default::default()
                },
                shutdown.clone(),
            )),
        ));
        for agency in NotifyAgency::ALL {
            let user = format!("notify-{}", agency.token());
            let mut config = NotifyConfig {
                common: common(&server, &user),
                agency,
                timer_tick_ms: 100,
                sla: SlaConfig {
                    regional_coordinator_secs: REGIONAL_DEADLINE_SECS,
                    ..SlaConfig::uniform(3_600)
                },
                ..Default::default()
            };
            config.common.nats.inbox_prefix =
                Some(format!("_INBOX_NOTIFY_{}", agency.token().to_uppercase()));
            let name = match agency {
                NotifyAgency::Iom => "notify-iom",
                NotifyAgency::Unhcr => "notify-unhcr",
            };
            tasks.push((
                name,
                tokio::spawn(tandem_notify::run(config, shutdown.clone())),
            ));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let publish_addr = listener.local_addr().expect("address").to_string();
        tasks.push((
            "publish",
            tokio::spawn(tandem_publish::serve(
                PublishConfig {
                    common: common(&server, "publish"),
                    publish_interval_ms: 100,
                    ..Default::default()
                },
                listener,
                shutdown.clone(),
            )),
        ));
        tandem_testkit::wait_registered(
            &admin,
            &[
                "tandem-leadership",
                "tandem-notify-iom",
                "tandem-notify-unhcr",
                "tandem-publish",
            ],
        )
        .await;
        let iom = server.connect("iom", "iom-dev-password", None).await;
        let unhcr = server.connect("unhcr", "unhcr-dev-password", None).await;
        Self {
            server,
            admin_js,
            iom,
            unhcr,
            shutdown,
            tasks,
            publish_addr,
            accepted: 0,
        }
    }

    /// Announces an accepted report of `agency` on `situation` (in Colombia) with `refugees`
    /// and `migrants`, and waits for its determination `sequence`.
    async fn report(
        &mut self,
        agency: Agency,
        situation: &str,
        revision: u32,
        refugees: u64,
        migrants: u64,
        sequence: u64,
    ) {
        let report = Report::new(
            agency,
            &format!("{situation}-{}-{revision}", agency.as_str_name()),
            situation,
            revision,
        )
        .figures(
            "2026-01-31",
            "",
            &[
                (PopulationGroup::Refugee, refugees),
                (PopulationGroup::Migrant, migrants),
            ],
        )
        .build();
        self.accepted += 1;
        let id = format!("accepted:{situation}:{}", self.accepted);
        // Unnumbered: applied as it comes, which is in order here.
        announce_accepted(&self.admin_js, &report, &id, 0).await;
        eventually(
            format!("determination {situation}/{sequence}"),
            DEADLINE,
            || async {
                self.record(situation)
                    .await
                    .and_then(|r| r.determination)
                    .is_some_and(|d| d.sequence >= sequence)
            },
        )
        .await;
    }

    async fn record(&self, situation: &str) -> Option<LeadershipRecord> {
        clients::leadership_record(&self.admin_js, situation).await
    }

    async fn status(&self, situation: &str) -> DeterminationStatus {
        self.record(situation)
            .await
            .and_then(|r| r.determination)
            .map_or(DeterminationStatus::Unspecified, |d| d.status())
    }

    /// A review request through `client` on `agency`'s review subject.
    async fn review(
        &self,
        client: &async_nats::Client,
        agency: &str,
        request: ReviewRequest,
    ) -> ReviewReply {
        let answer = tokio::time::timeout(
            DEADLINE,
            client.request(
                subjects::review_subject(agency),
                request.encode_to_vec().into(),
            ),
        )
        .await
        .expect("answered in time")
        .expect("answered");
        ReviewReply::decode(answer.payload).expect("a ReviewReply")
    }

    async fn stop(self) {
        self.shutdown.trigger();
        for (name, task) in self.tasks {
            match tokio::time::timeout(DEADLINE, task).await {
                Ok(joined) => joined
                    .expect("task")
                    .unwrap_or_else(|error| panic!("{name} failed: {error:#}")),
                Err(_) => panic!("{name} did not stop"),
            }
        }
        for user in [
            "leadership",
            "notify-iom",
            "notify-unhcr",
            "publish",
            "iom",
            "unhcr",
        ] {
            // Except what the test had UNHCR try in IOM's name.
            let refused: Vec<String> = self
                .server
                .violations_by(user)
                .into_iter()
                .filter(|line| !(user == "unhcr" && line.contains("\"tandem.review.iom\"")))
                .collect();
            assert!(refused.is_empty(), "{user} was refused: {refused:#?}");
        }
    }
}

fn request(situation: &str, by: &str, verdict: ReviewVerdict, comment: &str) -> ReviewRequest {
    ReviewRequest {
        situation_id: situation.into(),
        determination_id: String::new(),
        by: by.into(),
        verdict: verdict as i32,
        comment: comment.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_agencies_agree_a_contest_escalates_and_the_history_says_who() {
    init_test_log();
    let mut world = World::start().await;

    // A mixed movement: changed, so provisional.
    world.report(Agency::Iom, "COL-A", 1, 500, 500, 1).await;
    assert_eq!(
        world.status("COL-A").await,
        DeterminationStatus::Provisional
    );

    let iom = world
        .review(
            &world.iom,
            "iom",
            request("COL-A", "iom-col-cc", ReviewVerdict::Endorse, "seen"),
        )
        .await;
    assert!(iom.recorded, "{}", iom.refused);
    assert_eq!(
        world.status("COL-A").await,
        DeterminationStatus::Provisional,
        "one agency is not agreement"
    );

    // UNHCR cannot review in IOM's name, nor name its coordinator on its own subject.
    let foreign = world
        .review(
            &world.unhcr,
            "unhcr",
            request("COL-A", "iom-col-cc", ReviewVerdict::Endorse, ""),
        )
        .await;
    assert!(!foreign.recorded);
    assert!(
        foreign.refused.contains("not in UNHCR's directory"),
        "{}",
        foreign.refused
    );
    let _ = world
        .unhcr
        .request(
            subjects::review_subject("iom"),
            request("COL-A", "iom-col-cc", ReviewVerdict::Endorse, "")
                .encode_to_vec()
                .into(),
        )
        .await;
    world
        .server
        .wait_for_violation("unhcr", "tandem.review.iom", DEADLINE)
        .await;
    assert_eq!(
        world.status("COL-A").await,
        DeterminationStatus::Provisional
    );

    // A data focal point may not review.
    let data = world
        .review(
            &world.iom,
            "iom",
            request("COL-A", "iom-col-data", ReviewVerdict::Endorse, ""),
        )
        .await;
    assert!(
        data.refused.contains("data focal point"),
        "{}",
        data.refused
    );

    let unhcr = world
        .review(
            &world.unhcr,
            "unhcr",
            request("COL-A", "unhcr-americas-rc", ReviewVerdict::Endorse, ""),
        )
        .await;
    assert!(unhcr.recorded, "{}", unhcr.refused);
    assert_eq!(
        unhcr.review.map(|r| r.status()),
        Some(DeterminationStatus::Agreed)
    );
    assert_eq!(world.status("COL-A").await, DeterminationStatus::Agreed);

    // Contested by UNHCR: both regional coordinators are told the reason.
    let contest = world
        .review(
            &world.unhcr,
            "unhcr",
            request(
                "COL-A",
                "unhcr-col-cc",
                ReviewVerdict::Contest,
                "the IOM figures are three months old",
            ),
        )
        .await;
    assert!(contest.recorded, "{}", contest.refused);
    assert_eq!(world.status("COL-A").await, DeterminationStatus::Contested);
    let told = |wanted: &'static str| {
        let world = &world;
        async move {
            clients::notifications(&world.admin_js)
                .await
                .into_iter()
                .find(|(subject, n)| {
                    subject.ends_with(wanted) && n.kind() == NotificationKind::Contested
                })
        }
    };
    for regional in ["iom.iom-americas-rc", "unhcr.unhcr-americas-rc"] {
        eventually(
            format!("{regional} is told of the contest"),
            DEADLINE,
            || async { told(regional).await.is_some() },
        )
        .await;
        let (_, notification) = told(regional).await.expect("told");
        assert!(
            notification
                .summary
                .contains("the IOM figures are three months old"),
            "{}",
            notification.summary
        );
    }
    // The IOM regional coordinator acknowledges through the CLI path, naming himself: still
    // contested, so it escalates to both HQs after the deadline anyway.
    let (_, iom_contest) = told("iom.iom-americas-rc").await.expect("told");
    let acknowledged = tandem_notify::inbox::acknowledge_as(
        &world.admin_js,
        &iom_contest.notification_id,
        Some("iom-americas-rc"),
        DEADLINE,
    )
    .await
    .expect("acknowledged");
    assert!(matches!(
        acknowledged,
        tandem_notify::inbox::AckOutcome::Acknowledged(_)
    ));
    for hq in ["iom.iom-hq", "unhcr.unhcr-hq"] {
        eventually(
            format!("{hq} is told once the contest outlives its deadline"),
            DEADLINE,
            || async { told(hq).await.is_some_and(|(_, n)| n.escalation_tier == 1) },
        )
        .await;
    }

    // A new report supersedes the determination: reviewing the old one is refused.
    let old = world
        .record("COL-A")
        .await
        .and_then(|r| r.determination)
        .expect("current");
    world.report(Agency::Iom, "COL-A", 2, 950, 50, 2).await;
    let stale = world
        .review(
            &world.iom,
            "iom",
            ReviewRequest {
                determination_id: old.determination_id.clone(),
                ..request("COL-A", "iom-col-cc", ReviewVerdict::Endorse, "")
            },
        )
        .await;
    assert!(!stale.recorded);
    assert!(
        stale
            .refused
            .contains(&format!("{} is no longer current", old.determination_id))
            && stale.refused.contains("COL-A/2"),
        "{}",
        stale.refused
    );
    assert_eq!(
        world.status("COL-A").await,
        DeterminationStatus::Provisional,
        "a changed determination starts provisional"
    );

    // The history: both determinations in order, the reviews with who, the acknowledgement
    // with who and how.
    let acknowledged_with_who = |history: &[tandem_publish::history::HistoryEntry]| {
        history.len() == 2
            && history[0].notifications.iter().any(|n| {
                n.acknowledged_by.as_deref() == Some("iom-americas-rc")
                    && n.acknowledged_via.as_deref() == Some("cli")
            })
    };
    let history = eventually(
        "the history shows the acknowledgement",
        DEADLINE,
        || async {
            let history = tandem_publish::client::history(&world.publish_addr, "COL-A")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if acknowledged_with_who(&history) {
                Ok(history)
            } else {
                Err(format!("{history:#?}"))
            }
        },
    )
    .await;
    let first = &history[0].determination;
    let who: Vec<(&str, ReviewVerdict)> = first
        .reviews
        .iter()
        .map(|r| (r.by.as_str(), r.verdict()))
        .collect();
    assert_eq!(
        who,
        [
            ("iom-col-cc", ReviewVerdict::Endorse),
            ("unhcr-americas-rc", ReviewVerdict::Endorse),
            ("unhcr-col-cc", ReviewVerdict::Contest)
        ]
    );
    assert_eq!(first.status(), DeterminationStatus::Contested);
    assert_eq!(
        history[1].determination.status(),
        DeterminationStatus::Provisional
    );
    assert!(first.reviews.iter().all(|r| r.at.is_some()));
    world.stop().await;
}
