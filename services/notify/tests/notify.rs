//! Notify over a real nats-server, with an in-process webhook receiver and SMTP server: the
//! stories of docs/design.md ("Notifications"), told as a coordinator would see them.

mod common;

use std::{collections::HashMap, time::Duration};

use common::*;
use tandem_i18n::Lang;
use tandem_notify::{
    NotifyAgency,
    directory::{Directory, LiveDirectory},
    inbox,
    store::RecordState,
};
use tandem_proto::v1::{Channel, NotificationKind, NotificationState, PopulationGroup};
use tandem_runtime::Shutdown;

const UNHCR_SECRET: &str = "whsec_dW5oY3Itd2ViaG9vay1zZWNyZXQtOTg3NjU0MzIxMA==";

fn directory(hooks: &Hooks) -> String {
    format!(
        r#"
- id: iom-col-cc
  name: Ana Pérez
  agency: AGENCY_IOM
  role: COUNTRY_COORDINATOR
  countries: [COL]
  channels:
    - nats: {{}}
    - webhook: {{url: "{iom}", secret: "{IOM_SECRET}"}}
    - email: {{address: "ana.perez@iom.example.org"}}
- id: unhcr-col-cc
  name: Luis Gómez
  agency: unhcr
  role: ROLE_COUNTRY_COORDINATOR
  countries: [COL, VEN]
  channels:
    - nats: {{}}
    - webhook: {{url: "{unhcr}", secret: "{UNHCR_SECRET}"}}
- id: iom-per-cc
  name: Someone Else
  agency: iom
  role: COUNTRY_COORDINATOR
  countries: [PER]
  channels: [{{nats: {{}}}}]
- id: iom-col-data
  name: Data Person
  agency: iom
  role: DATA_FOCAL_POINT
  countries: [COL]
  channels: [{{nats: {{}}}}]
- id: unhcr-col-data
  name: Data Persona
  agency: unhcr
  role: DATA_FOCAL_POINT
  countries: [COL]
  channels: [{{nats: {{}}}}]
"#,
        iom = hooks.url("iom-col-cc"),
        unhcr = hooks.url("unhcr-col-cc"),
    )
}

fn count_by_recipient(notifications: &[tandem_proto::v1::Notification]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for n in notifications {
        *counts.entry(n.recipient_id.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn a_mixed_movement_reaches_both_agencies_country_coordinators_once_each_signed() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    let smtp = Smtp::start().await;
    world.import(&directory(&hooks)).await;
    let mut iom_config = world.config(NotifyAgency::Iom, 600);
    smtp.configure(&mut iom_config);
    let iom = world.start_notify(iom_config);
    let unhcr = world.start_notify(world.config(NotifyAgency::Unhcr, 600));

    world
        .publish(&determination("COL-2026-01", 1, "COL", true))
        .await;

    let statuses = eventually("five deliveries", WAIT, || async {
        let statuses = world.statuses().await;
        let delivered = statuses
            .iter()
            .filter(|s| s.state() == NotificationState::Delivered)
            .count();
        (delivered == 5).then_some(statuses)
    })
    .await;
    world.settled(NotifyAgency::Iom).await;
    world.settled(NotifyAgency::Unhcr).await;

    let out = world.out().await;
    assert_eq!(
        count_by_recipient(&out),
        HashMap::from([("iom-col-cc".into(), 1), ("unhcr-col-cc".into(), 1)])
    );
    for n in &out {
        assert_eq!(n.kind(), NotificationKind::DeterminationChanged);
        assert!(n.agency_leads, "both co-lead a joint platform");
        assert!(n.summary.contains("mixed movement"), "{}", n.summary);
        assert!(n.summary.contains("co-leads"), "{}", n.summary);
        assert!(n.summary.contains("FoE B.1"), "{}", n.summary);
        assert_eq!(
            n.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
            "the report's trace"
        );
    }
    for (hook, secret) in [("iom-col-cc", IOM_SECRET), ("unhcr-col-cc", UNHCR_SECRET)] {
        let received = hooks.received(hook);
        assert_eq!(received.len(), 1, "{hook} got it once");
        let post = &received[0];
        assert_eq!(post.header("content-type"), "application/json");
        assert_eq!(
            reference_verify(secret, post, Duration::ZERO),
            Ok(()),
            "{hook}: the Standard Webhooks reference library verifies it"
        );
        let notification = post.notification();
        assert_eq!(post.header("webhook-id"), notification.notification_id);
        assert_eq!(post.header("idempotency-key"), notification.notification_id);
        assert_eq!(notification.recipient_id, hook);
    }
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].recipients, ["ana.perez@iom.example.org"]);
    assert!(mails[0].data.contains("text/plain") && mails[0].data.contains("text/html"));
    assert!(mails[0].data.contains("tandem notifications ack iom.ntf-"));
    assert!(
        statuses
            .iter()
            .all(|s| s.state() == NotificationState::Delivered),
        "{statuses:?}"
    );
    iom.stop().await;
    unhcr.stop().await;
}

#[tokio::test]
async fn an_unchanged_redetermination_sends_nothing() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    world.import(&directory(&hooks)).await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 600));
    world.publish(&determination("COL-1", 1, "COL", true)).await;
    world.settled(NotifyAgency::Iom).await;
    assert_eq!(world.out().await.len(), 1);

    world
        .publish(&determination("COL-1", 2, "COL", false))
        .await;
    world.settled(NotifyAgency::Iom).await;
    assert_eq!(world.out().await.len(), 1, "nothing new was sent");
    assert_eq!(hooks.received("iom-col-cc").len(), 1);
    iom.stop().await;
}

#[tokio::test]
async fn a_new_discrepancy_reaches_both_data_focal_points_once() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    world.import(&directory(&hooks)).await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 600));
    let unhcr = world.start_notify(world.config(NotifyAgency::Unhcr, 600));

    // Leadership marks each discrepancy new or known; the last determination arrives first,
    // as it may when an instance dies holding the others.
    let mut more = determination("COL-D", 3, "COL", false);
    more.discrepancies = vec![
        discrepancy(PopulationGroup::Migrant, false),
        discrepancy(PopulationGroup::Refugee, true),
    ];
    world.publish(&more).await;
    let mut first = determination("COL-D", 1, "COL", false);
    first.discrepancies = vec![discrepancy(PopulationGroup::Migrant, true)];
    world.publish(&first).await;
    let mut same = determination("COL-D", 2, "COL", false);
    same.discrepancies = vec![discrepancy(PopulationGroup::Migrant, false)];
    world.publish(&same).await;
    world.settled(NotifyAgency::Iom).await;
    world.settled(NotifyAgency::Unhcr).await;

    let out = world.out().await;
    assert_eq!(
        count_by_recipient(&out),
        HashMap::from([("iom-col-data".into(), 2), ("unhcr-col-data".into(), 2)])
    );
    for n in &out {
        assert_eq!(n.kind(), NotificationKind::Discrepancy);
        let groups: Vec<_> = n.discrepancies.iter().map(|d| d.group()).collect();
        match n.determination_id.as_str() {
            "COL-D/1" => assert_eq!(groups, [PopulationGroup::Migrant]),
            "COL-D/3" => assert_eq!(groups, [PopulationGroup::Refugee], "only the new one"),
            other => panic!("unexpected notification for {other}"),
        }
        assert!(
            n.summary.contains("IOM 1000 vs UNHCR 2000"),
            "{}",
            n.summary
        );
    }
    iom.stop().await;
    unhcr.stop().await;
}

#[tokio::test]
async fn without_a_country_coordinator_the_regional_one_is_told_else_hq() {
    let world = World::start().await;
    world
        .import(
            r#"[
              {"id": "iom-americas", "name": "R", "agency": "iom", "role": "REGIONAL_COORDINATOR",
               "countries": ["COL", "PER"], "channels": [{"nats": {}}]},
              {"id": "iom-hq", "name": "H", "agency": "iom", "role": "HQ", "channels": [{"nats": {}}]}
            ]"#,
        )
        .await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 600));
    world.publish(&determination("COL-F", 1, "COL", true)).await;
    world.publish(&determination("UKR-F", 1, "UKR", true)).await;
    world.settled(NotifyAgency::Iom).await;

    let out = world.out().await;
    let by_situation: HashMap<_, _> = out
        .iter()
        .map(|n| (n.situation_id.as_str(), n.recipient_id.as_str()))
        .collect();
    assert_eq!(out.len(), 2);
    assert_eq!(by_situation["COL-F"], "iom-americas");
    assert_eq!(by_situation["UKR-F"], "iom-hq");
    iom.stop().await;
}

#[tokio::test]
async fn directory_changes_reach_a_running_notifier_and_only_its_own_agencys() {
    let world = World::start().await;
    let directory = Directory::open(&world.js, &Default::default())
        .await
        .expect("directory bucket");
    let live = LiveDirectory::start(&world.js, NotifyAgency::Iom, Shutdown::new());
    let ids = || async {
        let entries = live.entries().await.expect("followed");
        entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    };
    assert!(ids().await.is_empty(), "an empty directory is read at once");

    let entry = |id: &str, agency: &str| {
        format!(
            r#"[{{"id": "{id}", "name": "N", "agency": "{agency}", "role": "HQ", "channels": [{{"nats": {{}}}}]}}]"#
        )
    };
    world.import(&entry("unhcr-hq", "unhcr")).await;
    world.import(&entry("iom-hq", "iom")).await;
    // The UNHCR entry was stored first: once the IOM one is seen, it would have been too.
    eventually("the new IOM entry", WAIT, || async {
        (ids().await == ["iom-hq"]).then_some(())
    })
    .await;
    world.import(&entry("iom-hq-2", "iom")).await;
    assert!(directory.remove("iom-hq").await.expect("removed"));
    eventually("the removal", WAIT, || async {
        (ids().await == ["iom-hq-2"]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_webhook_failing_twice_with_503_is_delivered_exactly_once() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    hooks.script("flaky", &[503, 503]);
    world
        .import(&one_webhook("flaky", &hooks.url("flaky")))
        .await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 600));
    world.publish(&determination("COL-W", 1, "COL", true)).await;

    let delivered = world.status_in(NotificationState::Delivered, WAIT).await;
    world.settled(NotifyAgency::Iom).await;
    let received = hooks.received("flaky");
    assert_eq!(received.len(), 3, "two 503s, then the one accepted");
    let keys: Vec<String> = received
        .iter()
        .map(|r| r.header("idempotency-key"))
        .collect();
    assert!(keys.iter().all(|k| *k == delivered.notification_id));
    assert_eq!(delivered.attempts, 3);
    assert_eq!(delivered.channel(), Channel::Webhook);
    let statuses = world.statuses().await;
    assert_eq!(statuses.len(), 1, "one status: delivered, {statuses:?}");
    iom.stop().await;
}

#[tokio::test]
async fn a_webhook_answering_400_is_not_retried_and_reported_failed() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    hooks.script("broken", &[400, 400, 400]);
    world
        .import(&one_webhook("broken", &hooks.url("broken")))
        .await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 600));
    world.publish(&determination("COL-B", 1, "COL", true)).await;

    let failed = world.status_in(NotificationState::Failed, WAIT).await;
    world.settled(NotifyAgency::Iom).await;
    assert_eq!(failed.reason, "rejected by receiver");
    assert_eq!(failed.attempts, 1);
    assert_eq!(hooks.received("broken").len(), 1, "no retry after a 400");
    iom.stop().await;
}

/// Publishes a determination on `situation` (its country coordinator in [`TIERS`] is told)
/// that nobody acknowledges, and waits until its notification has escalated twice, to HQ.
///
/// The marker for "no escalation happened" in place of a fixed sleep: the timer escalates, each
/// tick, everything due, and an instance's ticks run one after another. A notification sent
/// before the marker's was due no later, so its escalation would have been published by the
/// tick that escalated the marker to the regional coordinator, which ended before the tick
/// that escalated it to HQ. Once this returns, an escalation of an earlier notification that
/// is not in `world.out()` never happened.
async fn marker_escalated_to_hq(world: &World, situation: &str) {
    world
        .publish(&determination(situation, 1, "COL", true))
        .await;
    eventually("the marker's escalation to HQ", WAIT, || async {
        world
            .out()
            .await
            .into_iter()
            .find(|n| n.situation_id == situation && n.escalation_tier == 2)
    })
    .await;
}

#[tokio::test]
async fn an_acknowledgement_stops_escalation() {
    let world = World::start().await;
    world.import(TIERS).await;
    let iom = world.start_notify(world.config(NotifyAgency::Iom, 2));
    world.publish(&determination("COL-A", 1, "COL", true)).await;
    let first = eventually("the notification", WAIT, || async {
        world.out().await.into_iter().next()
    })
    .await;

    let outcome = inbox::acknowledge(&world.js, &first.notification_id, WAIT)
        .await
        .expect("ack");
    assert!(
        matches!(outcome, inbox::AckOutcome::Acknowledged(_)),
        "{outcome:?}"
    );
    let again = inbox::acknowledge(&world.js, &first.notification_id, WAIT)
        .await
        .expect("ack");
    assert!(matches!(again, inbox::AckOutcome::AlreadyAcknowledged(_)));

    marker_escalated_to_hq(&world, "COL-MARKER").await;
    let out: Vec<_> = world
        .out()
        .await
        .into_iter()
        .filter(|n| n.situation_id == "COL-A")
        .collect();
    assert_eq!(out.len(), 1, "no escalation after the ack: {out:?}");
    let acknowledged = world
        .statuses()
        .await
        .into_iter()
        .filter(|s| s.state() == NotificationState::Acknowledged)
        .count();
    assert_eq!(acknowledged, 1);
    let pending = inbox::list(&world.js, true).await.expect("list");
    assert!(
        pending
            .iter()
            .all(|r| r.notification.situation_id == "COL-MARKER"),
        "only the marker's notifications are pending: {pending:?}"
    );
    iom.stop().await;
}

#[tokio::test]
async fn without_an_ack_it_escalates_once_per_tier_also_across_a_restart() {
    let world = World::start().await;
    world.import(TIERS).await;
    let config = world.config(NotifyAgency::Iom, 2);
    let iom = world.start_notify(config.clone());
    world.publish(&determination("COL-E", 1, "COL", true)).await;
    let first = eventually("the first notification", WAIT, || async {
        world.out().await.into_iter().next()
    })
    .await;
    assert_eq!(first.recipient_id, "cc");
    // Stopped before the deadline: the timer lives in KV, not in this instance.
    iom.stop().await;
    let iom = world.start_notify(config.clone());

    let regional = world.first_to("rc").await;
    assert_eq!(regional.escalation_tier, 1);
    assert_eq!(regional.escalates_notification_id, first.notification_id);
    assert!(regional.summary.contains("ESCALATION"));
    iom.stop().await;
    let iom = world.start_notify(config);

    let hq = eventually("the escalation to HQ", WAIT, || async {
        world
            .out()
            .await
            .into_iter()
            .find(|n| n.recipient_id == "hq")
    })
    .await;
    assert_eq!(hq.escalation_tier, 2);
    assert_eq!(hq.escalates_notification_id, regional.notification_id);
    // HQ is the last tier: once its deadline passes, the chain ends.
    let records = eventually("HQ's deadline to pass", WAIT, || async {
        let records = inbox::list(&world.js, false).await.expect("list");
        records
            .iter()
            .all(|r| r.state != RecordState::Pending)
            .then_some(records)
    })
    .await;
    assert_eq!(records.len(), 3);
    let out = world.out().await;
    assert_eq!(
        count_by_recipient(&out),
        HashMap::from([("cc".into(), 1), ("rc".into(), 1), ("hq".into(), 1)])
    );
    let escalated = world
        .statuses()
        .await
        .into_iter()
        .filter(|s| s.state() == NotificationState::Escalated)
        .count();
    assert_eq!(escalated, 2, "one escalation per tier");
    iom.stop().await;
}

#[tokio::test]
async fn two_instances_per_agency_deliver_each_notification_once() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    world.import(&directory(&hooks)).await;
    world
        .import(r#"[{"id": "iom-rc", "name": "R", "agency": "iom", "role": "REGIONAL_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]}]"#)
        .await;
    let instances: Vec<Notify> = [
        NotifyAgency::Iom,
        NotifyAgency::Iom,
        NotifyAgency::Unhcr,
        NotifyAgency::Unhcr,
    ]
    .into_iter()
    .map(|agency| world.start_notify(world.config(agency, 2)))
    .collect();
    let situations = 12;
    for i in 0..situations {
        world
            .publish(&determination(&format!("COL-{i}"), 1, "COL", true))
            .await;
    }
    // Every IOM country-coordinator notification escalates (2 s) to the regional coordinator,
    // with both IOM instances' timers racing for it.
    let out = eventually("every notification and escalation", WAIT, || async {
        let out = world.out().await;
        (out.iter().filter(|n| n.recipient_id == "iom-rc").count() >= situations).then_some(out)
    })
    .await;
    world.settled(NotifyAgency::Iom).await;
    world.settled(NotifyAgency::Unhcr).await;
    let out = {
        let _ = out;
        world.out().await
    };
    assert_eq!(
        count_by_recipient(&out),
        HashMap::from([
            ("iom-col-cc".into(), situations),
            ("unhcr-col-cc".into(), situations),
            ("iom-rc".into(), situations),
        ])
    );
    let mut ids: Vec<_> = out.iter().map(|n| n.notification_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), out.len(), "every notification published once");
    for hook in ["iom-col-cc", "unhcr-col-cc"] {
        let mut keys: Vec<_> = hooks
            .received(hook)
            .iter()
            .map(|r| r.header("idempotency-key"))
            .collect();
        assert_eq!(keys.len(), situations, "{hook}");
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), situations, "{hook} got each notification once");
    }
    let mut delivered: HashMap<(String, i32), usize> = HashMap::new();
    for status in world.statuses().await {
        if status.state() == NotificationState::Delivered {
            *delivered
                .entry((status.notification_id, status.channel))
                .or_default() += 1;
        }
    }
    assert!(delivered.values().all(|count| *count == 1), "{delivered:?}");
    for instance in instances {
        instance.stop().await;
    }
}

/// The text a reader sees of a page: without its style sheet and tags (whose attribute names,
/// `for` or `lang`, are English words).
fn visible_text(html: &str) -> String {
    let html = match (html.find("<style>"), html.find("</style>")) {
        (Some(start), Some(end)) => format!("{}{}", &html[..start], &html[end..]),
        _ => html.to_string(),
    };
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[tokio::test]
async fn the_ack_link_acknowledges_with_a_valid_token_only_in_the_recipients_language() {
    let world = World::start().await;
    let smtp = Smtp::start().await;
    world.import(TIERS).await;
    // ONE_MAILBOX's coordinator, who reads French in Paris.
    world
        .import(
            r#"[{"id": "cc", "name": "C", "agency": "iom", "role": "COUNTRY_COORDINATOR",
                 "countries": ["COL"], "lang": "fr", "tz": "Europe/Paris",
                 "channels": [{"email": {"address": "cc@iom.example.org"}}]}]"#,
        )
        .await;
    let mut config = world.config(NotifyAgency::Iom, 2);
    smtp.configure(&mut config);
    let port = serve_ack_links(&mut config);
    let iom = world.start_notify(config);
    world.publish(&determination("COL-L", 1, "COL", true)).await;
    let mail = eventually("the e-mail", WAIT, || async {
        smtp.mails().into_iter().next()
    })
    .await;
    // Undo quoted-printable soft breaks and escapes to read the link as a person would see it.
    let text = mail.data.replace("=\n", "").replace("=3D", "=");
    // The ack link (the inbox link comes first).
    let start = text
        .find(&format!("http://127.0.0.1:{port}/ack/"))
        .expect("the mail has the link");
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let id = link
        .split("/ack/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .expect("id in the link")
        .to_string();

    let http = reqwest::Client::new();
    let page = http.get(&link).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("content-language", "fr"),
    ] {
        assert_eq!(headers.get(name).map(|v| v.to_str().unwrap()), Some(value));
    }
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let body = page.text().await.expect("body");
    assert!(body.contains("<html lang=\"fr\">"), "{body}");
    assert!(body.contains("<form method=\"post\""), "{body}");
    assert!(body.contains("Accuser réception"), "{body}");
    let text = visible_text(&body);
    let untranslated = tandem_testkit::browser::untranslated(Lang::Fr, &["Ack", "Inbox"], &text);
    assert!(untranslated.is_empty(), "{untranslated:?} in {text}");
    // `?lang=` switches the page.
    let english = http
        .get(format!("{link}&lang=en"))
        .send()
        .await
        .expect("page in English");
    assert!(
        english
            .text()
            .await
            .expect("body")
            .contains("<html lang=\"en\">")
    );
    // A token that is not this link's — forged, or the real one with a digit changed — is
    // refused, and its page says so in the reader's language.
    let token = link.split("token=").nth(1).expect("token").to_string();
    let last = if token.ends_with('0') { '1' } else { '0' };
    let tampered = format!(
        "http://127.0.0.1:{port}/ack/{id}?token={}{last}",
        &token[..token.len() - 1]
    );
    let forged = format!("http://127.0.0.1:{port}/ack/{id}?token={}", "0".repeat(64));
    for bad in [&tampered, &forged] {
        assert_eq!(http.post(bad).send().await.expect("bad").status(), 403);
        let page = http
            .get(bad)
            .header("accept-language", "es")
            .send()
            .await
            .expect("bad page");
        assert_eq!(page.status(), 403);
        assert!(page.headers().contains_key("content-security-policy"));
        let body = page.text().await.expect("body");
        assert!(
            body.contains("Este enlace de acuse de recibo no es válido"),
            "{body}"
        );
        assert!(!body.contains(&token), "the refusal echoes no token");
    }
    assert_eq!(
        inbox::list(&world.js, true).await.expect("list").len(),
        1,
        "neither the page nor a forged token acknowledged it"
    );
    let done = http.post(&link).send().await.expect("ack");
    assert_eq!(done.status(), 200);
    let body = done.text().await.expect("body");
    assert!(
        body.contains(&format!("Réception de la notification {id} confirmée")),
        "{body}"
    );
    world.wait_all_acknowledged().await;
    marker_escalated_to_hq(&world, "COL-MARKER").await;
    let escalated: Vec<_> = world
        .out()
        .await
        .into_iter()
        .filter(|n| n.situation_id == "COL-L" && n.escalation_tier > 0)
        .collect();
    assert!(escalated.is_empty(), "no escalation: {escalated:?}");
    // The first notification's e-mail and the marker's.
    assert_eq!(smtp.mails().len(), 2);
    iom.stop().await;
}

#[tokio::test]
async fn a_delivery_left_unfinished_by_a_crashed_instance_is_finished_by_another_once() {
    let world = World::start().await;
    let hooks = Hooks::start().await;
    hooks.script("after-crash", &[503, 503, 503, 503]);
    world
        .import(&one_webhook("after-crash", &hooks.url("after-crash")))
        .await;
    let mut config = world.config(NotifyAgency::Iom, 600);
    config.webhook.backoff_base_ms = 1_000;
    config.webhook.backoff_max_ms = 1_000;
    config.claim_lease_secs = 2;
    let crashing = world.start_notify(config.clone());
    world.publish(&determination("COL-C", 1, "COL", true)).await;
    eventually("the first attempt", WAIT, || async {
        (!hooks.received("after-crash").is_empty()).then_some(())
    })
    .await;
    // Dies mid-retry, its claim still "sending" and the determination unacknowledged: the
    // server still counts the delivery to the dead instance as unacknowledged.
    crashing.task.abort();
    let consumer = tandem_testkit::consumer_info(
        &world.js,
        tandem_runtime::topology::EVENTS_STREAM,
        "tandem-notify-iom",
    )
    .await;
    assert!(
        consumer.num_ack_pending > 0,
        "the crash hit no work in flight: the determination was already acknowledged"
    );
    let survivor = world.start_notify(config);

    let delivered = world.status_in(NotificationState::Delivered, WAIT).await;
    world.settled(NotifyAgency::Iom).await;
    let received = hooks.received("after-crash");
    assert_eq!(
        received.last().map(|r| r.header("idempotency-key")),
        Some(delivered.notification_id.clone())
    );
    assert!(
        received
            .iter()
            .all(|r| r.header("idempotency-key") == delivered.notification_id),
        "every attempt, before and after the crash, carries the same key"
    );
    let statuses = world.statuses().await;
    assert_eq!(statuses.len(), 1, "delivered once: {statuses:?}");
    crashing.shutdown.trigger();
    survivor.stop().await;
}
