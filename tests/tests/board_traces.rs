//! The board links each determination to its trace (docs/design.md, "Pages"): with
//! `TANDEM_TRACE_URL` set, a situation page links every determination of its history to the
//! dashboard's page of the trace its event carried on `TANDEM_EVENTS`, and the history JSON
//! names the same trace; unset, the page has no such link (the JSON still names the trace).

use tandem_i18n::{FluentValue, Lang};
use tandem_proto::{
    subjects,
    v1::{Agency, PopulationGroup},
};
use tandem_runtime::envelope;
use tandem_testkit::{
    DEADLINE, TestStack, clients::Outcome, eventually, reports::Report, stream_messages,
};

const SITUATION: &str = "COL-TRACE-2026";
const DASHBOARD: &str = "http://jaeger.test:16686/trace/";

/// A stack (with `env` for every service) where one report on [`SITUATION`] was determined
/// and published; the trace ids on the determinations' `traceparent` headers, in order.
async fn determined(env: &[(&str, &str)]) -> (TestStack, Vec<String>) {
    let mut builder = TestStack::builder().intake().leadership().publish();
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    let stack = builder.start().await;
    let report = Report::new(Agency::Iom, "col-trace-r1", SITUATION, 1)
        .country("COL")
        .figures(
            "2026-03-01",
            "DTM Colombia",
            &[(PopulationGroup::Refugee, 12_000)],
        )
        .build();
    let outcome = stack.submit("iom", &report).await;
    assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");
    let dataset = stack.dataset();
    eventually("the determination in the history", DEADLINE, || async {
        let history = dataset.history(SITUATION).await.ok()??;
        (!history.is_empty()).then_some(())
    })
    .await;
    let traces: Vec<String> = stream_messages(&stack.js, "TANDEM_EVENTS")
        .await
        .iter()
        .filter(|m| subjects::is_determined_subject(&m.subject))
        .map(|m| envelope::trace_id(Some(&m.headers)).expect("a traceparent"))
        .collect();
    assert_eq!(traces.len(), 1, "one determination");
    (stack, traces)
}

/// The situation page's HTML.
async fn page(stack: &TestStack) -> String {
    let port = stack
        .dataset()
        .addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let response = tandem_testkit::http_get(port, &format!("/situations/{SITUATION}?lang=en"))
        .await
        .expect("the page");
    let status = response.lines().next().unwrap_or_default();
    assert!(status.contains(" 200 "), "{response}");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_situation_page_links_each_determination_to_the_trace_its_event_carried() {
    let template = format!("{DASHBOARD}{{trace_id}}");
    let (stack, traces) = determined(&[("TANDEM_TRACE_URL", &template)]).await;
    let trace = &traces[0];
    assert!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace}"
    );

    let history = stack
        .dataset()
        .history(SITUATION)
        .await
        .expect("the history")
        .expect("a history");
    assert_eq!(history[0].trace_id.as_deref(), Some(trace.as_str()));

    let body = page(&stack).await;
    let link = format!("href=\"{DASHBOARD}{trace}\"");
    assert_eq!(
        body.matches(&link).count(),
        1,
        "one link to {trace}:\n{body}"
    );
    let determined = history[0]
        .determination
        .determined_at
        .as_ref()
        .expect("a time")
        .seconds;
    let day = time::OffsetDateTime::from_unix_timestamp(determined)
        .expect("a time")
        .date()
        .to_string();
    let label = Lang::En.text_with("board-trace-link", &[("date", FluentValue::from(day))]);
    assert!(
        body.contains(&format!("{link} aria-label=\"{label}\"")),
        "the link says what it leads to:\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_dashboard_the_page_has_no_trace_link_but_the_history_names_the_trace() {
    let (stack, traces) = determined(&[]).await;
    let history = stack
        .dataset()
        .history(SITUATION)
        .await
        .expect("the history")
        .expect("a history");
    assert_eq!(history[0].trace_id.as_deref(), Some(traces[0].as_str()));
    let body = page(&stack).await;
    assert!(!body.contains(&traces[0]), "no trace on the page:\n{body}");
    assert!(!body.contains("aria-label=\"Trace"), "{body}");
}
