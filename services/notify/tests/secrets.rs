//! The directory is personal data: names, addresses, webhook URLs and secrets never appear in
//! logs (at debug level, and trace for tandem's own crates), in `tandem directory list`, or in
//! any event on any stream, across deliveries, a failure, an escalation and an ack.

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use tandem_notify::{NotifyAgency, directory, inbox};
use tandem_proto::v1::NotificationState;
use tandem_runtime::topology;

const SECRET: &str = "whsec_czNjcjN0LW5ldmVyLXNob3duLTAxMjM0NTY3ODk=";
const NAME: &str = "Zoë Confidential";
const ADDRESS: &str = "zoe.confidential@iom.example.org";
const PATH_TOKEN: &str = "pathtoken-7f3a9c";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str) {
    for private in [SECRET, NAME, ADDRESS, PATH_TOKEN] {
        assert!(!text.contains(private), "{what} contains {private:?}");
    }
}

#[tokio::test]
async fn directory_secrets_never_appear_in_logs_list_output_or_events() {
    let logs = Capture::default();
    tracing_subscriber::fmt()
        .with_env_filter("debug,tandem_notify=trace,tandem_runtime=trace")
        .with_writer(logs.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber");
    let world = World::start().await;
    let hooks = Hooks::start().await;
    let smtp = Smtp::start().await;
    hooks.script(PATH_TOKEN, &[503, 400]);
    world
        .import(&format!(
            r#"[
              {{"id": "iom-col-cc", "name": "{NAME}", "agency": "iom", "role": "COUNTRY_COORDINATOR",
                "countries": ["COL"], "channels": [
                  {{"nats": {{}}}},
                  {{"webhook": {{"url": "{}", "secret": "{SECRET}"}}}},
                  {{"email": {{"address": "{ADDRESS}"}}}}]}},
              {{"id": "iom-hq", "name": "{NAME} HQ", "agency": "iom", "role": "HQ",
                "channels": [{{"email": {{"address": "{ADDRESS}"}}}}]}}
            ]"#,
            hooks.url(PATH_TOKEN)
        ))
        .await;
    let mut config = world.config(NotifyAgency::Iom, 1);
    smtp.configure(&mut config);
    let iom = world.start_notify(config);

    world.publish(&determination("COL-S", 1, "COL", true)).await;
    // The webhook fails (503, then 400), e-mail and NATS deliver, then it escalates to HQ.
    let escalation = world
        .status_in(NotificationState::Escalated, Duration::from_secs(30))
        .await;
    eventually("the e-mail to HQ", Duration::from_secs(30), || async {
        (smtp.mails().len() == 2).then_some(())
    })
    .await;
    let ack = inbox::acknowledge(
        &world.js,
        &escalation.escalated_to_notification_id,
        Duration::from_secs(30),
    )
    .await
    .expect("ack");
    assert!(matches!(ack, inbox::AckOutcome::Acknowledged(_)), "{ack:?}");
    world.settled(NotifyAgency::Iom).await;
    assert!(
        world
            .statuses()
            .await
            .iter()
            .any(|s| s.state() == NotificationState::Failed
                && s.reason.contains("rejected by receiver")),
        "the webhook failure was reported"
    );
    iom.stop().await;

    let entries = directory::Directory::open(&world.js, &Default::default())
        .await
        .expect("directory")
        .entries()
        .await
        .expect("entries");
    assert_eq!(entries.len(), 2);
    let listed = directory::render_list(&entries);
    for private in [SECRET, ADDRESS, PATH_TOKEN] {
        assert!(
            !listed.contains(private),
            "list shows {private:?}:\n{listed}"
        );
    }
    assert!(listed.contains("webhook(127.0.0.1)"), "{listed}");

    for stream in [
        topology::NOTIFY_STREAM,
        topology::EVENTS_STREAM,
        topology::DLQ_STREAM,
    ] {
        for message in tandem_testkit::stream_messages(&world.js, stream).await {
            let headers = format!("{:?}", message.headers);
            let payload = String::from_utf8_lossy(&message.payload);
            assert_clean(
                &format!("event on {}", message.subject),
                &format!("{headers}{payload}"),
            );
        }
    }
    let records = inbox::list(&world.js, false).await.expect("records");
    assert_clean("notification records", &format!("{records:?}"));

    let logs = String::from_utf8_lossy(&logs.0.lock().expect("lock")).to_string();
    assert!(logs.contains("delivery failed"), "logs were captured");
    assert_clean("the logs", &logs);
}
