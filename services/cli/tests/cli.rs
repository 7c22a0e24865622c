//! The `tandem` command as a user runs it, against a real nats-server.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Output, Stdio},
    time::Duration,
};

use tandem_testkit::NatsServer;

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

fn repo_file(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn tandem(server: &NatsServer, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(TANDEM)
        .args(args)
        .args(["--nats-url", &server.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tandem");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("tandem finished")
}

/// What `output` prints up to and including the first line containing `marker`; panics when
/// the process ends first.
fn read_until(output: &mut impl BufRead, marker: &str) -> String {
    let mut printed = String::new();
    while !printed.contains(marker) {
        let mut line = String::new();
        if output.read_line(&mut line).expect("read output") == 0 {
            panic!("tandem ended before printing {marker:?}:\n{printed}");
        }
        printed.push_str(&line);
    }
    printed
}

/// `tandem up` against the test server, killed when dropped.
struct Up(std::process::Child);

impl Up {
    /// Starts `tandem up` and returns once it says it is ready.
    fn start(server: &NatsServer, demo: bool) -> (Self, BufReader<std::process::ChildStdout>) {
        // Tests run side by side: the data service takes any free port.
        Self::start_at(server, demo, "127.0.0.1:0")
    }

    /// Starts `tandem up` with the data service on `publish_addr`.
    fn start_at(
        server: &NatsServer,
        demo: bool,
        publish_addr: &str,
    ) -> (Self, BufReader<std::process::ChildStdout>) {
        Self::start_with(server, demo, &[("TANDEM_PUBLISH_ADDR", publish_addr)])
    }

    /// Starts `tandem up` with `env` added to its environment (the data service on any free
    /// port unless `env` says otherwise).
    fn start_with(
        server: &NatsServer,
        demo: bool,
        env: &[(&str, &str)],
    ) -> (Self, BufReader<std::process::ChildStdout>) {
        let url = server.url();
        let mut args = vec!["up", "--nats-url", url.as_str()];
        if demo {
            args.push("--demo");
        }
        let mut child = Command::new(TANDEM)
            .args(&args)
            .env("TANDEM_PUBLISH_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tandem up");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        read_until(&mut stderr, "tandem: ready");
        // Keep draining stderr so the process never blocks on it.
        std::thread::spawn(move || for _ in stderr.lines() {});
        (Up(child), stdout)
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        self.0.wait().expect("tandem up exits")
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_bad_report_is_rejected_with_every_reason_printed() {
    let server = NatsServer::start();
    let (up, _stdout) = Up::start(&server, false);
    let output = tandem(
        &server,
        &[
            "submit",
            &repo_file("deploy/demo/08-partner-bad.json"),
            "--wait",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a rejection exits 1:\n{text}"
    );
    for expected in [
        "REJECTED",
        "report_id: INVALID_FORMAT",
        "revision: REQUIRED",
        "country: INVALID_FORMAT",
        "population[0].as_of: INVALID_FORMAT",
        "population[1].group: DUPLICATE_GROUP",
        "notes: PERSONAL_DATA",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(up.stop().success());
}

#[test]
fn submit_wait_json_gives_the_outcome_and_who_leads() {
    let server = NatsServer::start();
    let (up, _stdout) = Up::start(&server, false);
    let reports = r#"[
      {"report_id": "u-1", "situation_id": "BGD-1", "revision": 1, "reporting_agency": "AGENCY_UNHCR",
       "reported_at": "2026-02-10T06:00:00Z", "country": "BGD", "scope": "SCOPE_CROSS_BORDER",
       "driver": "DRIVER_CONFLICT", "phase": "PHASE_PROTRACTED",
       "population": [{"group": "POPULATION_GROUP_REFUGEE", "count": 1000000, "as_of": "2026-01-31"}]},
      {"reportId": "bad", "reportingAgency": "AGENCY_NOBODY"}
    ]"#;
    let output = tandem(&server, &["submit", "-", "--wait", "--json"], Some(reports));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["report_id"], "u-1");
    assert_eq!(lines[0]["status"], "ACCEPTED");
    assert_eq!(
        lines[0]["determination"]["classification"],
        "CLASSIFICATION_REFUGEE_SITUATION"
    );
    assert_eq!(
        lines[0]["determination"]["lead_agencies"],
        serde_json::json!(["AGENCY_UNHCR"])
    );
    assert_eq!(lines[1]["status"], "REJECTED");
    assert_eq!(lines[1]["reasons"][0]["code"], "UNDECODABLE");
    assert!(
        lines[1]["reasons"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("AGENCY_NOBODY")
    );
    assert_eq!(output.status.code(), Some(1));

    let again = tandem(&server, &["submit", "-", "--json"], Some(reports));
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&again.stdout)
            .lines()
            .next()
            .unwrap_or("{}"),
    )
    .expect("json");
    assert_eq!(
        first["status"], "DUPLICATE",
        "the same report id is stored once"
    );
    assert!(up.stop().success());
}

#[test]
fn up_demo_runs_the_stack_and_the_situation_commands_show_the_result() {
    let server = NatsServer::start();
    let (up, mut stdout) = Up::start(&server, true);
    let printed = read_until(&mut stdout, "== demo done");
    assert!(printed.contains("11 accepted, 1 rejected"), "{printed}");
    assert!(
        printed.contains("mixed movement — IOM and UNHCR lead (joint platform)"),
        "{printed}"
    );
    // The regional situation over three countries, and the durable-solutions one.
    assert!(
        printed.contains(
            "AMERICAS-NORTH-2026 (regional: COL, CRI, PAN): mixed movement — IOM and UNHCR lead"
        ),
        "{printed}"
    );
    assert!(
        printed.contains(
            "5 of 8 IASC durable solutions criteria reported; weakest: documentation 0.31"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("IDP situation — IOM and UNHCR lead (IASC cluster system)"),
        "{printed}"
    );

    let list = tandem(&server, &["situation", "list"], None);
    let list = String::from_utf8_lossy(&list.stdout);
    assert_eq!(
        list.lines().count(),
        8,
        "eleven accepted reports on eight situations:\n{list}"
    );
    assert!(
        list.contains("BGD-ROHINGYA (BGD): refugee situation — UNHCR leads"),
        "{list}"
    );

    let get = tandem(
        &server,
        &["situation", "get", "LBY-MIGRATION", "--json"],
        None,
    );
    let determination: serde_json::Value = serde_json::from_slice(&get.stdout).expect("json");
    assert_eq!(determination["arrangement"], "ARRANGEMENT_IOM_LED_RESPONSE");
    assert_eq!(determination["policy_version"], "v1");

    let check = tandem(
        &server,
        &[
            "policy",
            "check",
            &repo_file("deploy/policy/leadership-v1.toml"),
        ],
        None,
    );
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.contains("0 of 8 situation(s) would change under policy v1"),
        "{check}"
    );
    assert!(!check.contains("matches no situation"), "{check}");

    // Overrides: one for a demo situation, one for a situation id with a typo.
    let dir = tempfile::tempdir().expect("temporary directory");
    let with_overrides = dir.path().join("overrides.toml");
    let shipped = std::fs::read_to_string(repo_file("deploy/policy/leadership-v1.toml"))
        .expect("policy file");
    let override_for = |situation: &str| {
        format!(
            "\n[[override]]\nsituation = \"{situation}\"\nreference = \"Agreement of {situation}\"\nsince = 2018-03-01\n[override.functions]\nstrategic_planning = [\"unhcr\", \"Resident Coordinator\", \"iom\"]\ndata_management = [\"iom\"]\n"
        )
    };
    std::fs::write(
        &with_overrides,
        format!(
            "{shipped}{}{}",
            override_for("BGD-ROHINGYA"),
            override_for("BGD-ROHINGA")
        ),
    )
    .expect("write policy");
    let check = tandem(
        &server,
        &["policy", "check", &with_overrides.display().to_string()],
        None,
    );
    let check = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.contains("override for BGD-ROHINGA (Agreement of BGD-ROHINGA) matches no situation"),
        "{check}"
    );
    assert!(
        !check.contains("override for BGD-ROHINGYA"),
        "the demo's Bangladesh situation matches: {check}"
    );
    assert!(
        check.contains("CHANGES    BGD-ROHINGYA"),
        "the override changes Bangladesh's leads: {check}"
    );
    // The same check in French and in Spanish; ids, file paths and references as they are.
    let check_in = |lang: &str| {
        let file = with_overrides.display().to_string();
        succeeded(&tandem(
            &server,
            &["policy", "check", &file, "--lang", lang],
            None,
        ))
    };
    let check_english = [
        "is valid",
        "unchanged",
        "CHANGES",
        "now:",
        "would:",
        "would change under policy",
        "matches no situation",
        "refugee situation",
    ];
    assert_translated(
        &check_in("fr"),
        &[
            ": la politique v1 est valide",
            "inchangée  LBY-MIGRATION",
            "CHANGE     BGD-ROHINGYA",
            "actuelle : BGD-ROHINGYA (BGD) : situation de réfugiés",
            "serait :  BGD-ROHINGYA (BGD) : ",
            "1 situation(s) sur 8 changerai(en)t avec la politique v1",
            "la dérogation pour BGD-ROHINGA (Agreement of BGD-ROHINGA) ne correspond à aucune situation",
        ],
        &check_english,
    );
    assert_translated(
        &check_in("es"),
        &[
            ": la política v1 es válida",
            "sin cambios  LBY-MIGRATION",
            "CAMBIA        BGD-ROHINGYA",
            "ahora:     BGD-ROHINGYA (BGD): situación de refugiados",
            "1 de 8 situación(es) cambiaría(n) con la política v1",
            "la excepción para BGD-ROHINGA (Agreement of BGD-ROHINGA) no corresponde a ninguna situación",
        ],
        &check_english,
    );

    // Replay: the shipped policy finds no differences; a migrant threshold moved from 0.20 to
    // 0.40 finds exactly the step whose share lies between the two: Colombia after IOM's
    // report (0.25); with UNHCR's figures it is above both, Libya (0.06) below both and
    // Bangladesh (1.00) above both.
    let replay = |file: &str| {
        let output = tandem(&server, &["policy", "replay", file, "--json"], None);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(replay(&repo_file("deploy/policy/leadership-v1.toml")), "");
    let moved = migrant_threshold_moved_to_40(dir.path(), &shipped);
    assert_only_colombias_r12_step_differs(
        &replay(&moved),
        "CLASSIFICATION_MIXED_MOVEMENT",
        "CLASSIFICATION_MIGRANT_SITUATION",
    );

    for service in tandem_proto::roster::NAMES {
        assert!(
            tandem(&server, &["ping", service], None).status.success(),
            "{service} answers a ping"
        );
    }
    assert_eq!(
        tandem(&server, &["ping", "nothing", "--timeout", "1"], None)
            .status
            .code(),
        Some(2)
    );

    assert!(up.stop().success(), "SIGTERM stops tandem up cleanly");
}

/// `tandem` with `env` set.
fn tandem_with(server: &NatsServer, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(TANDEM)
        .args(args)
        .args(["--nats-url", &server.url()])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run tandem")
}

/// `printed` (what tandem printed in French or Spanish) has each of `words` and none of
/// `english`.
fn assert_translated(printed: &str, words: &[&str], english: &[&str]) {
    for expected in words {
        assert!(printed.contains(expected), "{expected:?} in:\n{printed}");
    }
    for label in english {
        assert!(!printed.contains(label), "English {label:?} in:\n{printed}");
    }
}

/// What `output` printed on stdout, once it succeeded.
fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_demo_agrees_one_determination_and_contests_another_and_reviews_answer_with_exit_codes() {
    let server = NatsServer::start();
    let port = tandem_testkit::process::free_ports(1)[0];
    let publish_addr = format!("127.0.0.1:{port}");
    let (up, mut stdout) = Up::start_at(&server, true, &publish_addr);
    let printed = read_until(&mut stdout, "== demo done");
    assert!(
        printed.contains("UNHCR (col-unhcr-cc) endorsed determination COL-VEN-2026/"),
        "{printed}"
    );
    assert!(
        printed.contains("it is now agreed by IOM and UNHCR"),
        "{printed}"
    );
    assert!(
        printed.contains(
            "IOM (iom-regional-asia) contested determination BGD-ROHINGYA/1; it is now contested"
        ),
        "{printed}"
    );

    let get = |id: &str| -> serde_json::Value {
        let output = tandem(&server, &["situation", "get", id, "--json"], None);
        serde_json::from_slice(&output.stdout).expect("json")
    };
    let agreed = get("COL-VEN-2026");
    assert_eq!(agreed["status"], "DETERMINATION_STATUS_AGREED");
    let reviewers: Vec<&str> = agreed["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| r["by"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(reviewers, ["col-iom-cc", "col-unhcr-cc"]);
    assert_eq!(agreed["reviews"][0]["agency"], "AGENCY_IOM");
    assert_eq!(agreed["reviews"][0]["verdict"], "REVIEW_VERDICT_ENDORSE");
    assert!(agreed["reviews"][0]["at"].is_string());
    let contested = get("BGD-ROHINGYA");
    assert_eq!(contested["status"], "DETERMINATION_STATUS_CONTESTED");
    assert!(
        contested["reviews"][0]["comment"]
            .as_str()
            .is_some_and(|c| c.contains("joint assessment")),
        "{contested}"
    );

    // Refused: exit 1, the reason on stderr.
    let unknown = tandem(
        &server,
        &[
            "situation",
            "endorse",
            "BGD-ROHINGYA",
            "--agency",
            "unhcr",
            "--by",
            "nobody",
        ],
        None,
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("\"nobody\" is not in UNHCR's directory"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let reasonless = tandem(
        &server,
        &[
            "situation",
            "contest",
            "BGD-ROHINGYA",
            "--agency",
            "unhcr",
            "--by",
            "unhcr-hq",
        ],
        None,
    );
    assert_eq!(reasonless.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&reasonless.stderr).contains("needs a comment"));
    // Recorded: exit 0. UNHCR's HQ withdraws nothing of IOM's contest: still contested.
    let endorsed = tandem(
        &server,
        &[
            "situation",
            "endorse",
            "BGD-ROHINGYA",
            "--agency",
            "unhcr",
            "--by",
            "unhcr-hq",
            "--comment",
            "fine as is",
        ],
        None,
    );
    assert_eq!(
        endorsed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&endorsed.stderr)
    );
    assert!(String::from_utf8_lossy(&endorsed.stdout).contains("it is now contested"));

    // The history, from the data service: the determination with its reviews and the
    // notifications sent, oldest first.
    let env = [("TANDEM_PUBLISH_ADDR", publish_addr.as_str())];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let history = loop {
        let output = tandem_with(
            &server,
            &["situation", "history", "BGD-ROHINGYA", "--json"],
            &env,
        );
        let history: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        let reviews = history[0]["reviews"].as_array().map_or(0, Vec::len);
        let notified = history[0]["notifications"].as_array().map_or(0, Vec::len);
        if reviews == 2 && notified > 0 {
            break history;
        }
        assert!(std::time::Instant::now() < deadline, "history: {history}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(history[0]["determination_id"], "BGD-ROHINGYA/1");
    assert_eq!(history[0]["status"], "DETERMINATION_STATUS_CONTESTED");
    let kinds: Vec<&str> = history[0]["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or_default())
        .collect();
    assert!(kinds.contains(&"NOTIFICATION_KIND_CONTESTED"), "{history}");
    let first = &history[0]["notifications"][0];
    for field in ["recipient_id", "kind", "acknowledged_by", "acknowledged_at"] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }

    // The same history in French and in Spanish, times in the reader's zone.
    let in_bogota = [
        ("TANDEM_PUBLISH_ADDR", publish_addr.as_str()),
        ("TZ", "America/Bogota"),
    ];
    let history_in = |lang: &str| {
        succeeded(&tandem_with(
            &server,
            &["situation", "history", "BGD-ROHINGYA", "--lang", lang],
            &in_bogota,
        ))
    };
    let history_english = [
        "review:",
        "notified:",
        "acknowledged",
        "refugee situation",
        "determination contested",
        " at ",
    ];
    assert_translated(
        &history_in("fr"),
        &[
            "BGD-ROHINGYA/1 ",
            "UTC-05:00 (America/Bogota) : situation de réfugiés",
            "avis : OIM iom-regional-asia contestée le ",
            ": \"",
            "-> contestée",
            "avis : HCR unhcr-hq approuvée le ",
            "notifié : ",
            "(décision contestée), réception ",
        ],
        &history_english,
    );
    assert_translated(
        &history_in("es"),
        &[
            "UTC-05:00 (America/Bogota): situación de refugiados",
            "revisión: OIM iom-regional-asia impugnada el ",
            "revisión: ACNUR unhcr-hq respaldada el ",
            "notificado: ",
            "(determinación impugnada), recepción ",
        ],
        &history_english,
    );

    // The notifications, listed and acknowledged, in French and in Spanish.
    let list_in = |lang: &str| {
        succeeded(&tandem_with(
            &server,
            &["notifications", "list", "--lang", lang],
            &in_bogota,
        ))
    };
    let list_english = [
        "AGENCY",
        "RECIPIENT",
        "KIND",
        "ACKNOWLEDGE BY",
        "leadership changed",
    ];
    let french = list_in("fr");
    assert_translated(
        &french,
        &[
            "ORGANISATION",
            "DESTINATAIRE",
            "ACCUSER RÉCEPTION AVANT",
            "changement de direction",
            "UTC-05:00 (America/Bogota)",
        ],
        &list_english,
    );
    let spanish = list_in("es");
    assert_translated(
        &spanish,
        &[
            "ORGANISMO",
            "DESTINATARIO",
            "CONFIRMAR ANTES DE",
            "cambio de liderazgo",
            "ACNUR",
        ],
        &list_english,
    );
    let listed = succeeded(&tandem(&server, &["notifications", "list", "--json"], None));
    assert_eq!(
        french.lines().count(),
        listed.lines().count() + 1,
        "a header and one line per notification:\n{french}"
    );
    let record: serde_json::Value =
        serde_json::from_str(listed.lines().next().expect("a notification")).expect("json");
    let id = record["notification"]["notification_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let ack_in = |lang: &str, id: &str| {
        tandem_with(
            &server,
            &["notifications", "ack", id, "--lang", lang],
            &in_bogota,
        )
    };
    let first = succeeded(&ack_in("es", &id));
    assert!(
        first == format!("recepción de {id} confirmada\n")
            || first.starts_with(&format!("la recepción de {id} ya estaba confirmada el ")),
        "{first}"
    );
    let again = succeeded(&ack_in("fr", &id));
    assert_translated(
        &again,
        &[
            &format!("la réception de {id} avait déjà été accusée le "),
            "UTC-05:00 (America/Bogota) par ",
            "(via ",
        ],
        &["already", "acknowledged"],
    );
    let unknown = ack_in("es", "iom.ntf-nothing");
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "tandem: no hay ninguna notificación iom.ntf-nothing\n"
    );
    assert!(up.stop().success());
}

#[test]
fn a_dead_letter_is_listed_and_replayed_once_the_cause_is_fixed() {
    let server = NatsServer::start();
    let (up, _stdout) = Up::start(&server, false);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // A record no version of intake wrote: every report on this situation fails.
    let bucket = runtime.block_on(async {
        let js = server.jetstream().await;
        let bucket = js.get_key_value("tandem-intake").await.expect("bucket");
        bucket
            .put("situation.S-BROKEN", "not a record".into())
            .await
            .expect("put");
        bucket
    });
    let report = r#"{"report_id": "poison-1", "situation_id": "S-BROKEN", "revision": 1, "reporting_agency": "AGENCY_IOM",
       "reported_at": "2026-02-10T06:00:00Z", "country": "LBY", "scope": "SCOPE_CROSS_BORDER",
       "driver": "DRIVER_ECONOMIC", "phase": "PHASE_PROTRACTED",
       "population": [{"group": "POPULATION_GROUP_MIGRANT", "count": 5000, "as_of": "2026-01-31"}]}"#;
    let submitted = tandem(
        &server,
        &["submit", "-", "--wait", "--timeout", "3"],
        Some(report),
    );
    assert_eq!(
        submitted.status.code(),
        Some(3),
        "no outcome: the message is dead-lettered"
    );

    let list = tandem(&server, &["dlq", "list"], None);
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("intake")
            && list.contains("tandem.intake.iom.report")
            && list.contains("corrupt"),
        "{list}"
    );

    runtime.block_on(async { bucket.purge("situation.S-BROKEN").await.expect("purge") });
    let replay = tandem(&server, &["dlq", "replay", "--all"], None);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let get = tandem(&server, &["situation", "get", "S-BROKEN"], None);
        if get.status.success() {
            assert!(String::from_utf8_lossy(&get.stdout).contains("migrant situation"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replayed report was never determined"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = tandem(&server, &["dlq", "list"], None);
    assert!(
        String::from_utf8_lossy(&after.stdout).trim().is_empty(),
        "replayed letters leave the DLQ"
    );
    assert!(up.stop().success());
}

#[test]
fn up_secure_runs_every_service_as_its_own_user_without_a_permission_violation() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let state = tempfile::tempdir().expect("state dir");
    let mut child = Command::new(TANDEM)
        .args([
            "up",
            "--secure",
            "--demo",
            "--nats-url",
            &format!("nats://127.0.0.1:{port}"),
        ])
        .arg("--state-dir")
        .arg(state.path())
        .env("TANDEM_PUBLISH_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run tandem up --secure");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let up = Up(child);
    let printed = read_until(&mut stdout, "== demo done");
    assert!(printed.contains("11 accepted, 1 rejected"), "{printed}");
    assert!(
        printed.contains("notified   col-iom-cc (iom, country coordinator)"),
        "{printed}"
    );
    assert!(up.stop().success());
    let log = std::fs::read_to_string(state.path().join("nats-server.log")).expect("server log");
    assert!(
        !log.contains("Violation"),
        "a service needed more than its permissions:\n{log}"
    );
}

/// A copy of `tandem` alone in a fresh directory, optionally with a `tandem-bench` script
/// beside it. Files are made executable by `install`, in a child process: an executable written
/// by this multi-threaded test process could be held open by a process another test forks at
/// that moment, and fail to run ("text file busy").
fn tandem_alone(bench_script: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let install = |from: &std::path::Path, to: &str| {
        let status = Command::new("install")
            .args(["-m", "755"])
            .arg(from)
            .arg(dir.path().join(to))
            .status()
            .expect("run install");
        assert!(status.success(), "install {to}");
    };
    install(std::path::Path::new(TANDEM), "tandem");
    if let Some(script) = bench_script {
        let source = dir.path().join("bench.sh");
        std::fs::write(&source, script).expect("write the script");
        install(&source, "tandem-bench");
    }
    dir
}

#[test]
fn bench_runs_tandem_bench_with_the_arguments_as_given_and_its_exit_code() {
    let dir = tandem_alone(Some("#!/bin/sh\nprintf '%s\\n' \"$@\"\nexit 7\n"));
    let output = Command::new(dir.path().join("tandem"))
        .args(["bench", "--help", "--reports", "300", "--json"])
        .env("PATH", "")
        .output()
        .expect("run tandem bench");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "--help\n--reports\n300\n--json\n"
    );
    assert_eq!(output.status.code(), Some(7));
}

#[test]
fn bench_without_tandem_bench_says_how_to_build_it() {
    let dir = tandem_alone(None);
    let output = Command::new(dir.path().join("tandem"))
        .args(["bench", "--reports", "300"])
        .env("PATH", dir.path())
        .output()
        .expect("run tandem bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tandem-bench is not built")
            && stderr.contains("cargo build --release -p tandem-bench"),
        "{stderr}"
    );
}

/// `tandem setup` on the shipped accounts: a service user may not run it (and is told why);
/// the admin makes every stream, bucket, object store and durable, and a second run leaves
/// them all as they are.
#[test]
fn setup_as_the_admin_makes_everything_once_and_a_service_user_cannot() {
    let server = tandem_testkit::secure::SecureServer::start();
    let setup_as = |user: &str| {
        Command::new(TANDEM)
            .args(["setup", "--nats-url", &server.url()])
            .env("NATS_USER", user)
            .env("NATS_PASSWORD", format!("{user}-dev-password"))
            .output()
            .expect("run tandem setup")
    };
    let refused = setup_as("intake");
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("the server refused to create stream TANDEM_INTAKE_IOM")
            && said.contains("the NATS admin's credentials"),
        "{said}"
    );

    let first = setup_as("admin");
    assert!(first.status.success(), "{first:?}");
    let printed = String::from_utf8_lossy(&first.stdout);
    for line in [
        "created stream TANDEM_INTAKE_IOM",
        "created stream TANDEM_ACKS_UNHCR",
        "created bucket tandem-notify",
        "created object store tandem-data",
        "created consumer TANDEM_EVENTS/tandem-leadership",
        "created consumer TANDEM_ACKS_IOM/tandem-notify-iom-acks",
        "created consumer TANDEM_EVENTS/tandem-notify-unhcr-reviews",
        "created stream TANDEM_REJECTIONS",
        "tandem setup: 24 created, 0 updated, 0 left as they were",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line}:\n{printed}");
    }
    let again = setup_as("admin");
    assert!(again.status.success(), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("tandem setup: 0 created, 0 updated, 24 left as they were"),
        "{again:?}"
    );

    // What it printed is on the server: every durable, pull, with its service's filter.
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let admin = server.connect("admin", "admin-dev-password", None).await;
            let js = async_nats::jetstream::new(admin);
            for durable in tandem_runtime::topology::durables() {
                let stream = js.get_stream(durable.stream).await.expect("stream");
                let info = stream
                    .consumer_info(&durable.name)
                    .await
                    .expect("the durable exists");
                assert_eq!(info.config.filter_subject, durable.filter);
                assert_eq!(info.config.deliver_subject, None);
            }
        });
}

#[test]
fn replay_compares_the_candidate_with_what_was_determined_under_an_earlier_policy() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let shipped_file = repo_file("deploy/policy/leadership-v1.toml");
    let shipped = std::fs::read_to_string(&shipped_file).expect("policy file");
    let moved = migrant_threshold_moved_to_40(dir.path(), &shipped);
    // The demo's reports are determined under the moved threshold...
    let (up, mut stdout) = Up::start_with(&server, true, &[("TANDEM_POLICY_FILE", &moved)]);
    let printed = read_until(&mut stdout, "== demo done");
    assert!(printed.contains("11 accepted, 1 rejected"), "{printed}");
    assert!(up.stop().success());

    // ...and replayed where no TANDEM_POLICY_FILE is set, so the built-in v1 is what would run
    // now. The moved policy is what was determined: no differences.
    let replay = |file: &str| {
        let output = Command::new(TANDEM)
            .args([
                "policy",
                "replay",
                file,
                "--json",
                "--nats-url",
                &server.url(),
            ])
            .env_remove("TANDEM_POLICY_FILE")
            .output()
            .expect("run tandem");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(replay(&moved), "");
    // The shipped policy differs from what was determined exactly where Colombia's migrant
    // share (0.25 after IOM's report) lies between the two thresholds.
    assert_only_colombias_r12_step_differs(
        &replay(&shipped_file),
        "CLASSIFICATION_MIGRANT_SITUATION",
        "CLASSIFICATION_MIXED_MOVEMENT",
    );
}

/// A stream the admin cannot make is named with the server's reason, not with the advice to
/// run the very command that failed.
#[test]
fn setup_names_the_servers_reason_for_a_stream_it_cannot_make() {
    let server = NatsServer::start();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let js = server.jetstream().await;
            js.create_stream(async_nats::jetstream::stream::Config {
                name: "SQUATTER".into(),
                subjects: vec!["tandem.dlq.>".into()],
                ..Default::default()
            })
            .await
            .expect("a stream holding the dead-letter subjects");
        });
    let output = setup(&server);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("the server refused to create stream TANDEM_DLQ") && said.contains("overlap"),
        "{said}"
    );
    assert!(!said.contains("run `tandem setup`"), "{said}");
}

/// The shipped policy with its migrant threshold moved from 0.20 to 0.40 (and its version
/// renamed), written in `dir`; its path.
fn migrant_threshold_moved_to_40(dir: &std::path::Path, shipped: &str) -> String {
    let moved = dir.join("moved.toml");
    std::fs::write(
        &moved,
        shipped
            .replacen("version = \"v1\"", "version = \"v1-migrant-40\"", 1)
            .replacen("migrant = 0.20", "migrant = 0.40", 1),
    )
    .expect("write policy");
    moved.display().to_string()
}

/// `policy replay --json` printed the differences of exactly the two demo situations whose
/// protection share lies between 0.20 and 0.40: the regional AMERICAS-NORTH-2026 (0.26 and
/// 0.31 after its second and third reports) and Colombia, which differs in one step only: after
/// IOM's report `dtm-col-r12…` (a share of 0.25), classified `current` and `candidate`.
fn assert_only_colombias_r12_step_differs(printed: &str, current: &str, candidate: &str) {
    let lines: Vec<serde_json::Value> = printed
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let situations: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["situation_id"].as_str())
        .collect();
    assert_eq!(
        situations,
        ["AMERICAS-NORTH-2026", "COL-VEN-2026"],
        "{lines:?}"
    );
    let differences = lines[1]["differences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        differences[0]["report_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("dtm-col-r12")),
        "{differences:?}"
    );
    assert_eq!(differences[0]["current"], current);
    assert_eq!(differences[0]["candidate"], candidate);
}

/// `tandem setup` as the admin of plain server `server`.
fn setup(server: &NatsServer) -> Output {
    Command::new(TANDEM)
        .args(["setup", "--nats-url", &server.url()])
        .output()
        .expect("run tandem setup")
}

#[test]
fn setup_brings_an_older_deployment_to_the_current_settings_and_then_changes_nothing() {
    use async_nats::jetstream::{consumer, stream};
    use tandem_runtime::topology;
    let server = NatsServer::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let js = runtime.block_on(server.jetstream());
    // A deployment made before rejections had a stream of their own: TANDEM_EVENTS took every
    // situation subject and held a rejection and an acceptance; an intake stream had no limits;
    // intake's durable waited 30 s for acknowledgements.
    runtime.block_on(async {
        js.create_stream(stream::Config {
            name: topology::EVENTS_STREAM.into(),
            description: Some(
                "Accepted and rejected reports, determinations, dataset versions".into(),
            ),
            subjects: ["tandem.situation.>", "tandem.leadership.>", "tandem.data.>"]
                .map(String::from)
                .into(),
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .expect("old TANDEM_EVENTS");
        for subject in [
            "tandem.situation.rejected.iom",
            "tandem.situation.accepted.COL",
        ] {
            js.publish(subject, "before".into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
        let intake = js
            .create_stream(stream::Config {
                name: topology::INTAKE_IOM_STREAM.into(),
                description: Some("Situation reports as agency systems publish them".into()),
                subjects: vec![topology::INTAKE_SUBJECTS[0].into()],
                max_message_size: 1024 * 1024,
                duplicate_window: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .expect("old intake stream");
        intake
            .create_consumer(consumer::pull::Config {
                durable_name: Some("tandem-intake-iom".into()),
                description: Some("tandem intake service".into()),
                filter_subject: topology::INTAKE_SUBJECTS[0].into(),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: 6,
                max_ack_pending: 2048,
                ..Default::default()
            })
            .await
            .expect("old durable");
    });

    let first = setup(&server);
    let printed = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{first:?}");
    let lines: Vec<&str> = printed.lines().map(str::trim).collect();
    for line in [
        "updated stream TANDEM_EVENTS",
        "subjects: [\"tandem.situation.>\", \"tandem.leadership.>\", \"tandem.data.>\"] → \
         [\"tandem.situation.accepted.>\", \"tandem.leadership.>\", \"tandem.data.>\"]",
        "max_bytes: -1 → 2147483648",
        "created stream TANDEM_REJECTIONS",
        "updated stream TANDEM_INTAKE_IOM",
        "max_age: 0ns → 7776000s",
        "max_bytes: -1 → 268435456",
        "updated consumer TANDEM_INTAKE_IOM/tandem-intake-iom",
        "ack_wait: 30s → 10s",
        "note: 1 rejection(s) made before TANDEM_REJECTIONS existed are still on TANDEM_EVENTS \
         (no longer read there, not subject to TANDEM_REJECTIONS' age limit). Remove them with: \
         nats stream purge TANDEM_EVENTS --subject 'tandem.situation.rejected.>' --force",
        "tandem setup: 21 created, 3 updated, 0 left as they were",
    ] {
        assert!(lines.contains(&line), "{line}:\n{printed}");
    }

    runtime.block_on(async {
        let events = js
            .get_stream(topology::EVENTS_STREAM)
            .await
            .expect("events");
        assert_eq!(
            events.cached_info().config.subjects,
            topology::events_stream(&Default::default()).subjects
        );
        // Both messages stay; a new rejection goes to its own stream, which keeps it 90 days.
        assert_eq!(events.cached_info().state.messages, 2);
        let ack = js
            .publish("tandem.situation.rejected.unhcr", "after".into())
            .await
            .expect("publish")
            .await
            .expect("stored");
        assert_eq!(ack.stream, topology::REJECTIONS_STREAM);
        let rejections = js
            .get_stream(topology::REJECTIONS_STREAM)
            .await
            .expect("rejections");
        assert_eq!(
            rejections.cached_info().config.max_age,
            Duration::from_secs(90 * 24 * 3600)
        );
        let durable = js
            .get_stream(topology::INTAKE_IOM_STREAM)
            .await
            .expect("intake stream")
            .consumer_info("tandem-intake-iom")
            .await
            .expect("durable")
            .clone();
        assert_eq!(durable.config.ack_wait, Duration::from_secs(10));
    });

    // Again: nothing changes, and the rejections left behind are still pointed out.
    let again = setup(&server);
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{again:?}");
    assert!(
        printed.contains("tandem setup: 0 created, 0 updated, 24 left as they were"),
        "{printed}"
    );
    assert!(printed.contains("note: 1 rejection(s)"), "{printed}");

    // The command the note gives removes the rejection and keeps the acceptance; the note is
    // gone then.
    runtime.block_on(async {
        let events = js
            .get_stream(topology::EVENTS_STREAM)
            .await
            .expect("events");
        events
            .purge()
            .filter(topology::REJECTED_FILTER)
            .await
            .expect("purge");
        let left = tandem_testkit::stream_messages(&js, topology::EVENTS_STREAM).await;
        let subjects: Vec<&str> = left.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, ["tandem.situation.accepted.COL"]);
    });
    let purged = setup(&server);
    assert!(
        !String::from_utf8_lossy(&purged.stdout).contains("note:"),
        "{purged:?}"
    );

    // What NATS cannot change is an error that names it: a push consumer squatting a durable's
    // name, and a stream on the wrong storage.
    runtime.block_on(async {
        let events = js
            .get_stream(topology::EVENTS_STREAM)
            .await
            .expect("events");
        events
            .delete_consumer("tandem-leadership")
            .await
            .expect("delete");
        events
            .create_consumer(consumer::push::Config {
                durable_name: Some("tandem-leadership".into()),
                deliver_subject: "tandem.notify.out.iom.leak".into(),
                filter_subject: "tandem.situation.accepted.>".into(),
                ack_policy: consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("push consumer");
    });
    let refused = setup(&server);
    assert!(!refused.status.success(), "{refused:?}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("consumer TANDEM_EVENTS/tandem-leadership")
            && said.contains("deliver_subject (a push consumer)"),
        "{said}"
    );
    runtime.block_on(async {
        js.delete_stream(topology::EVENTS_STREAM)
            .await
            .expect("delete");
        js.create_stream(stream::Config {
            storage: stream::StorageType::Memory,
            ..topology::events_stream(&Default::default())
        })
        .await
        .expect("memory stream");
    });
    let refused = setup(&server);
    assert!(!refused.status.success(), "{refused:?}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("stream TANDEM_EVENTS") && said.contains("storage: Memory → File"),
        "{said}"
    );
}

#[test]
fn up_brings_its_own_servers_older_deployment_to_the_current_settings_before_the_services() {
    use async_nats::jetstream::stream;
    use tandem_runtime::topology;
    let port = tandem_testkit::process::free_ports(1)[0];
    let state = tempfile::tempdir().expect("state dir");
    let url = format!("nats://127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // The state directory's server, as `tandem up` runs it, with a deployment of a tandem from
    // before rejections had a stream of their own.
    let config = state.path().join("old.conf");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\" }}\n",
            state.path().join("nats").display()
        ),
    )
    .expect("write config");
    let mut old = tandem_testkit::process::ServerProcess::start(&config, &[], "old");
    runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"));
        js.create_stream(stream::Config {
            name: topology::EVENTS_STREAM.into(),
            subjects: ["tandem.situation.>", "tandem.leadership.>", "tandem.data.>"]
                .map(String::from)
                .into(),
            ..Default::default()
        })
        .await
        .expect("old TANDEM_EVENTS");
        js.publish("tandem.situation.rejected.iom", "before".into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    });
    old.kill();

    let mut child = Command::new(TANDEM)
        .args(["up", "--nats-url", &url])
        .arg("--state-dir")
        .arg(state.path())
        .env("TANDEM_PUBLISH_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tandem up");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let up = Up(child);
    // Ready, or intake saying it waits for a stream it cannot make: whichever comes first.
    let mut said = String::new();
    while !said.contains("tandem: ready") && !said.contains("could not be created") {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read stderr") == 0 {
            panic!("tandem up ended:\n{said}");
        }
        said.push_str(&line);
    }
    std::thread::spawn(move || for _ in stderr.lines() {});
    assert!(said.contains("tandem: ready"), "{said}");
    assert!(
        said.contains("tandem: 1 rejection(s) made before TANDEM_REJECTIONS existed"),
        "{said}"
    );
    let output = Command::new(TANDEM)
        .args([
            "submit",
            &repo_file("deploy/demo/08-partner-bad.json"),
            "--wait",
        ])
        .args(["--nats-url", &url])
        .output()
        .expect("run tandem submit");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    runtime.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.expect("connect"));
        let rejections = tandem_testkit::stream_messages(&js, topology::REJECTIONS_STREAM).await;
        assert_eq!(
            rejections.len(),
            1,
            "the new rejection is on its own stream"
        );
    });
    assert!(up.stop().success());
}

/// The trace id in a `traceparent` header (`00-<trace id>-<parent id>-<flags>`, W3C Trace
/// Context), read here without the product's propagator.
fn traceparent_trace_id(headers: &async_nats::HeaderMap) -> String {
    let traceparent = headers
        .get("traceparent")
        .expect("the event carries a traceparent")
        .as_str();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    parts[1].to_string()
}

fn unhcr_report(report_id: &str, situation_id: &str) -> String {
    format!(
        r#"{{"report_id": "{report_id}", "situation_id": "{situation_id}", "revision": 1, "reporting_agency": "AGENCY_UNHCR",
           "reported_at": "2026-02-10T06:00:00Z", "country": "BGD", "scope": "SCOPE_CROSS_BORDER",
           "driver": "DRIVER_CONFLICT", "phase": "PHASE_PROTRACTED",
           "population": [{{"group": "POPULATION_GROUP_REFUGEE", "count": 1000, "as_of": "2026-01-31"}}]}}"#
    )
}

#[test]
fn submit_wait_watch_situation_get_and_trace_lead_from_a_report_or_a_situation_to_its_trace() {
    use tandem_runtime::topology;

    let server = NatsServer::start();
    let (up, _stdout) = Up::start(&server, false);
    let link = "http://localhost:16686/trace/{trace_id}";
    let env = [("TANDEM_TRACE_URL", link)];
    let submit = |report: &str, json: bool| {
        let mut args = vec!["submit", "-", "--wait"];
        if json {
            args.push("--json");
        }
        let mut child = Command::new(TANDEM)
            .args(&args)
            .args(["--nats-url", &server.url()])
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run tandem submit");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(report.as_bytes())
            .expect("write stdin");
        let output = child.wait_with_output().expect("tandem submit");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    // Accepted: the trace id in the JSON line is the trace leadership's determination continues.
    let line = submit(&unhcr_report("u-trace-1", "BGD-TRACE"), true);
    let accepted: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(accepted["status"], "ACCEPTED", "{line}");
    let first_trace = accepted["trace_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        first_trace.len() == 32 && first_trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let determined = runtime.block_on(async {
        let js = server.jetstream().await;
        js.get_stream(topology::EVENTS_STREAM)
            .await
            .expect("TANDEM_EVENTS")
            .get_last_raw_message_by_subject("tandem.leadership.determined.BGD")
            .await
            .expect("the determination event")
    });
    assert_eq!(
        determined.headers.get("ce-subject").map(|v| v.as_str()),
        Some("BGD-TRACE")
    );
    assert_eq!(traceparent_trace_id(&determined.headers), first_trace);

    // Watch shows the next determination with its trace, which submit printed in words.
    let mut watch = Command::new(TANDEM)
        .args(["watch", "--nats-url", &server.url()])
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tandem watch");
    let mut watched = BufReader::new(watch.stdout.take().expect("stdout"));
    let mut watch_said = BufReader::new(watch.stderr.take().expect("stderr"));
    read_until(&mut watch_said, "watching");
    let text = submit(&unhcr_report("u-trace-2", "BGD-OTHER"), false);
    let second_trace = text
        .split_whitespace()
        .skip_while(|word| *word != "trace")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(
        text.starts_with("ACCEPTED  u-trace-2 (BGD-OTHER, from unhcr) trace ")
            && text.contains(&format!(
                "trace {second_trace} http://localhost:16686/trace/{second_trace}"
            )),
        "{text}"
    );
    assert_ne!(second_trace, first_trace, "one trace per report");
    let watched = read_until(&mut watched, "determined BGD-OTHER");
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        watched.contains(&format!("trace {second_trace}")),
        "{watched}"
    );

    // A rejected report's trace, from its outcome on TANDEM_REJECTIONS.
    let rejected = submit(
        r#"{"report_id": "i-trace-bad", "situation_id": "BGD-TRACE", "reporting_agency": "AGENCY_IOM"}"#,
        true,
    );
    let rejected: serde_json::Value = serde_json::from_str(rejected.trim()).expect("one JSON line");
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    let rejected_trace = rejected["trace_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(rejected_trace.len(), 32, "{rejected}");

    let trace = |id: &str| {
        let output = tandem_with(&server, &["trace", id], &env);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, text, _) = trace("u-trace-1");
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        text,
        format!(
            "report u-trace-1 accepted (BGD-TRACE, from UNHCR): trace {first_trace} http://localhost:16686/trace/{first_trace}\n"
        )
    );
    let (_, text, _) = trace("i-trace-bad");
    assert!(
        text.starts_with("report i-trace-bad rejected (BGD-TRACE, from IOM): ")
            && text.contains(&rejected_trace),
        "{text}"
    );
    // BGD-TRACE's determination is no longer the last of its country; BGD-OTHER's is.
    let (_, text, _) = trace("BGD-TRACE");
    assert!(
        text.starts_with("situation BGD-TRACE determination 1: ")
            && text.contains(&format!(
                "trace {first_trace} http://localhost:16686/trace/{first_trace}"
            )),
        "{text}"
    );
    let output = tandem_with(&server, &["trace", "BGD-OTHER", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        json["traces"][0]["determination_id"], "BGD-OTHER/1",
        "{json}"
    );
    assert_eq!(
        json["traces"][0]["trace_id"],
        second_trace.as_str(),
        "{json}"
    );
    assert_eq!(
        json["traces"][0]["trace_url"],
        serde_json::Value::Null,
        "no link without TANDEM_TRACE_URL"
    );

    let get = tandem_with(&server, &["situation", "get", "BGD-TRACE"], &[]);
    let get = String::from_utf8_lossy(&get.stdout);
    assert!(get.contains(&format!("  trace {first_trace}\n")), "{get}");

    let (code, text, said) = trace("no-such-thing");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        said.contains("no situation and no report no-such-thing"),
        "{said}"
    );
    assert!(up.stop().success());
}
