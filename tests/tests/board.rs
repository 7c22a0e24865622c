//! The public situation board as its readers meet it: in a real browser (headless Chromium,
//! see `tandem_testkit::browser`) the board lists the demo's situations, its filters narrow
//! them, a situation page draws its charts, French and Spanish pages show no English message,
//! and axe-core finds no serious accessibility violation on a phone or a desktop. Over plain
//! HTTP: the pages' security headers, the language from `Accept-Language`, and the answers to
//! unknown situations, unknown filters and hostile addresses.

use std::time::{Duration, SystemTime};

use fantoccini::Locator;
use tandem_i18n::Lang;
use tandem_proto::{
    timestamp,
    v1::{Agency, PopulationGroup, SituationReport},
};
use tandem_testkit::{
    DEADLINE, TestStack,
    browser::{Browser, DESKTOP, PHONE, untranslated},
    clients::Outcome,
    eventually,
    reports::Report,
};

/// The demo's reports (deploy/demo), with the organisation that submits each.
const DEMO: [(&str, &str); 11] = [
    (
        "iom",
        include_str!("../../deploy/demo/01-iom-colombia.json"),
    ),
    (
        "unhcr",
        include_str!("../../deploy/demo/02-unhcr-colombia.json"),
    ),
    (
        "unhcr",
        include_str!("../../deploy/demo/03-unhcr-bangladesh.json"),
    ),
    ("iom", include_str!("../../deploy/demo/04-iom-libya.json")),
    (
        "iom",
        include_str!("../../deploy/demo/05-iom-mozambique.json"),
    ),
    (
        "iom",
        include_str!("../../deploy/demo/06-iom-pakistan.json"),
    ),
    (
        "partner.nrc",
        include_str!("../../deploy/demo/07-partner-ukraine.json"),
    ),
    (
        "iom",
        include_str!("../../deploy/demo/09-iom-panama-darien.json"),
    ),
    (
        "unhcr",
        include_str!("../../deploy/demo/10-unhcr-costa-rica-darien.json"),
    ),
    (
        "iom",
        include_str!("../../deploy/demo/11-iom-colombia-darien.json"),
    ),
    (
        "iom",
        include_str!("../../deploy/demo/12-iom-iraq-solutions.json"),
    ),
];

/// The demo's situations, as the board lists them (by id).
const SITUATIONS: [&str; 8] = [
    "AMERICAS-NORTH-2026",
    "BGD-ROHINGYA",
    "COL-VEN-2026",
    "IRQ-IDP-2026",
    "LBY-MIGRATION",
    "MOZ-CABO-DELGADO",
    "PAK-FLOODS-2026",
    "UKR-DNIPRO-SOLUTIONS",
];

/// The sections of the Fluent files whose messages the board shows.
const SECTIONS: [&str; 3] = ["Board", "Page", "Words"];

/// A stack with the demo's situations published, Libya's reported twice more so that its page
/// has a history to chart (the last report, with 400,000 refugees among 703,000 migrants, turns
/// the migrant situation into a mixed movement); the board's base URL.
async fn demo_board() -> (TestStack, String) {
    let stack = TestStack::builder()
        .intake()
        .leadership()
        .publish()
        .start()
        .await;
    for (org, text) in DEMO {
        let mut report: SituationReport = serde_json::from_str(text).expect("a demo report");
        report.reported_at = Some(timestamp::from_system_time(
            SystemTime::now() - Duration::from_secs(60),
        ));
        let outcome = stack.submit(org, &report).await;
        assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");
    }
    for (revision, refugees) in [(2, 30_000), (3, 400_000)] {
        let report = Report::new(
            Agency::Iom,
            &format!("lby-r{revision}"),
            "LBY-MIGRATION",
            revision,
        )
        .country("LBY")
        .figures(
            "2026-03-01",
            "DTM Libya",
            &[
                (
                    PopulationGroup::Migrant,
                    700_000 + u64::from(revision) * 1_000,
                ),
                (PopulationGroup::Refugee, refugees),
            ],
        )
        .build();
        let outcome = stack.submit("iom", &report).await;
        assert!(matches!(outcome, Outcome::Accepted(..)), "{outcome:?}");
    }
    let dataset = stack.dataset();
    eventually("the demo's situations published", DEADLINE, || async {
        let json = dataset.situations().await.ok()?;
        (json["count"] == SITUATIONS.len()).then_some(())
    })
    .await;
    eventually(
        "Libya's three determinations in its history",
        DEADLINE,
        || async {
            let history = dataset.history("LBY-MIGRATION").await.ok()??;
            (history.len() >= 3).then_some(())
        },
    )
    .await;
    let base = format!("http://{}", dataset.addr);
    (stack, base)
}

/// The situation ids the board's table lists.
async fn listed(browser: &Browser) -> Vec<String> {
    let ids = browser
        .eval("return [...document.querySelectorAll('tbody th[scope=row] a')].map(a => a.textContent)")
        .await;
    serde_json::from_value(ids).expect("a list of ids")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_lists_filters_and_charts_the_demos_situations_accessibly_on_a_phone_and_a_desktop()
 {
    let (_stack, base) = demo_board().await;
    let browser = Browser::start(DESKTOP).await;

    browser.open(&format!("{base}/")).await;
    assert_eq!(browser.html_lang().await, "en");
    assert_eq!(listed(&browser).await, SITUATIONS);

    // The filters are a plain form: choose a country, submit, and only its situations remain.
    let client = browser.client();
    client
        .find(Locator::Css("select[name=country]"))
        .await
        .expect("a country filter")
        .select_by_value("COL")
        .await
        .expect("COL is offered");
    client
        .find(Locator::Css("form.filters button[type=submit]"))
        .await
        .expect("the filters' button")
        .click()
        .await
        .expect("the button can be clicked");
    eventually("the board filtered by country", DEADLINE, || async {
        let url = client.current_url().await.ok()?;
        url.query()?.contains("country=COL").then_some(())
    })
    .await;
    // The regional situation over Panama, Costa Rica and Colombia is found under each.
    assert_eq!(
        listed(&browser).await,
        ["AMERICAS-NORTH-2026", "COL-VEN-2026"]
    );
    browser.open(&format!("{base}/?country=CRI")).await;
    assert_eq!(listed(&browser).await, ["AMERICAS-NORTH-2026"]);
    let countries = browser
        .eval("return document.querySelector('tbody td').textContent")
        .await;
    assert_eq!(countries, "COL, CRI, PAN");

    // UNHCR leads Bangladesh's refugees and Mozambique's IDPs alone.
    browser.open(&format!("{base}/?lead=IOM")).await;
    assert_eq!(
        listed(&browser).await,
        [
            "AMERICAS-NORTH-2026",
            "COL-VEN-2026",
            "IRQ-IDP-2026",
            "LBY-MIGRATION",
            "PAK-FLOODS-2026",
            "UKR-DNIPRO-SOLUTIONS"
        ]
    );
    browser
        .open(&format!(
            "{base}/?classification=CLASSIFICATION_REFUGEE_SITUATION"
        ))
        .await;
    assert_eq!(listed(&browser).await, ["BGD-ROHINGYA"]);

    // A situation page from the board's link: its figures over time, one point per
    // determination and group, and its classification as bands.
    browser.open(&format!("{base}/")).await;
    client
        .find(Locator::LinkText("LBY-MIGRATION"))
        .await
        .expect("a link to Libya's page")
        .click()
        .await
        .expect("the link can be followed");
    eventually("Libya's page open", DEADLINE, || async {
        let url = client.current_url().await.ok()?;
        url.path()
            .ends_with("/situations/LBY-MIGRATION")
            .then_some(())
    })
    .await;
    let drawn = browser
        .eval(
            "return {
               points: document.querySelectorAll('#figures-chart circle.point').length,
               lines: document.querySelectorAll('#figures-chart polyline').length,
               bands: [...document.querySelectorAll('#classification-chart rect.band')].map(r => r.getAttribute('fill')),
               title: document.querySelector('#figures-chart title').textContent,
               rows: document.querySelectorAll('details tbody tr').length,
             }",
        )
        .await;
    // Three determinations of migrants, asylum seekers in the first, refugees in the last two
    // (a single point draws no line).
    assert_eq!(drawn["points"], 6, "{drawn}");
    assert_eq!(drawn["lines"], 2, "{drawn}");
    assert_eq!(drawn["rows"], 3, "{drawn}");
    assert_eq!(drawn["title"], "People by group over time");
    let bands = drawn["bands"].as_array().expect("bands");
    assert_eq!(bands.len(), 3, "{drawn}");
    assert_ne!(bands[0], bands[2], "the classification changed: {drawn}");
    let texts = browser.visible_texts().await;
    for expected in [
        "Who leads and why",
        "migrant situation",
        "mixed movement",
        "IOM",
    ] {
        assert!(
            texts.contains(expected),
            "{expected:?} not on the page:\n{texts}"
        );
    }

    // A regional situation's page: each country operation, how it is classified, who leads.
    browser
        .open(&format!("{base}/situations/AMERICAS-NORTH-2026"))
        .await;
    let operations = browser
        .eval(
            "const table = [...document.querySelectorAll('table')]
               .find(t => t.caption && t.caption.textContent === 'Country operations');
             return table ? [...table.querySelectorAll('tbody tr')]
               .map(tr => [...tr.children].map(c => c.textContent)) : null;",
        )
        .await;
    let operations: Vec<Vec<String>> =
        serde_json::from_value(operations.clone()).unwrap_or_else(|_| panic!("{operations}"));
    assert_eq!(
        operations.iter().map(|o| o[0].as_str()).collect::<Vec<_>>(),
        ["COL", "CRI", "PAN"],
        "{operations:?}"
    );
    assert!(
        operations.iter().all(|o| o.len() == 4 && !o[3].is_empty()),
        "each operation with its classification, arrangement and leads: {operations:?}"
    );

    // Accessible and usable at a phone's width: no serious violation, nothing wider than it.
    for (width, height) in [DESKTOP, PHONE] {
        client
            .set_window_size(width, height)
            .await
            .expect("the window can be resized");
        for path in [
            "/",
            "/situations/LBY-MIGRATION",
            "/situations/COL-VEN-2026?lang=es",
            "/situations/AMERICAS-NORTH-2026?lang=fr",
        ] {
            browser.open(&format!("{base}{path}")).await;
            let violations = browser.serious_violations().await;
            assert!(
                violations.is_empty(),
                "{path} at {width} px: {violations:#?}"
            );
            let overflow = browser
                .eval("return document.documentElement.scrollWidth - window.innerWidth")
                .await;
            assert!(
                overflow.as_i64().is_some_and(|o| o <= 0),
                "{path} is {overflow} px wider than a {width} px window"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_in_french_and_spanish_says_so_and_shows_no_english_message() {
    let (_stack, base) = demo_board().await;
    let browser = Browser::start(DESKTOP).await;
    for lang in [Lang::Fr, Lang::Es] {
        for path in [
            "/",
            "/situations/LBY-MIGRATION",
            "/situations/COL-VEN-2026",
            "/situations/NOWHERE",
        ] {
            let url = format!("{base}{path}?lang={}", lang.code());
            browser.open(&url).await;
            assert_eq!(browser.html_lang().await, lang.code(), "{url}");
            let texts = browser.visible_texts().await;
            let english = untranslated(lang, &SECTIONS, &texts);
            assert!(
                english.is_empty(),
                "{url} shows English: {english:#?}\n{texts}"
            );
        }
    }
    // The check finds English where there is some: the English board, read as French.
    browser.open(&format!("{base}/?lang=en")).await;
    let english = untranslated(Lang::Fr, &SECTIONS, &browser.visible_texts().await);
    assert!(english.len() > 10, "{english:?}");
}

/// `GET path` with `Accept-Language: accept`: the status, the headers (lower-case names) and
/// the body.
async fn get(base: &str, path: &str, accept: &str) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept-Language: {accept}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, value)| value.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_the_security_headers_speak_the_readers_language_and_refuse_what_they_do_not_know()
 {
    let (_stack, base) = demo_board().await;

    let (status, headers, body) = get(&base, "/", "es-CO,es;q=0.9").await;
    assert_eq!(status, 200);
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert_eq!(header(&headers, "content-language"), "es");
    assert!(header(&headers, "content-type").starts_with("text/html"));
    assert!(body.contains("<html lang=\"es\">"), "{body}");
    assert!(body.contains(&Lang::Es.text("board-title")));
    assert!(
        !body.contains("<script") && !body.contains("src=\"http"),
        "nothing runs or loads"
    );

    // `?lang=` wins over the browser's languages; a language tandem does not speak falls back
    // to them.
    let (_, _, body) = get(&base, "/?lang=fr", "es").await;
    assert!(body.contains("<html lang=\"fr\">"));
    let (status, headers, body) = get(&base, "/?lang=de", "de-DE,fr;q=0.8").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-language"), "fr");
    assert!(body.contains("<html lang=\"fr\">"));

    // An unknown situation: a 404 page in the reader's language, with the same headers.
    let (status, headers, body) = get(&base, "/situations/NOWHERE-2026", "fr").await;
    assert_eq!(status, 404);
    assert!(body.contains("<html lang=\"fr\">") && body.contains(&Lang::Fr.text("page-not-found")));
    assert!(header(&headers, "content-security-policy").contains("frame-ancestors 'none'"));

    // Hostile addresses: what a page repeats of its address is escaped, never markup.
    let (status, _, body) = get(
        &base,
        "/situations/%3Cscript%3Ealert(1)%3C%2Fscript%3E?lang=en",
        "en",
    )
    .await;
    assert_eq!(status, 404);
    assert!(!body.contains("<script>"), "{body}");
    let (status, _, body) = get(&base, "/?country=%22%3E%3Cimg%20src=x%3E", "en").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(&Lang::En.text("board-bad-request")), "{body}");
    assert!(
        !body.contains("<img src=x>") && !body.contains("\"><img"),
        "{body}"
    );
    for bad in [
        "/?contry=COL",
        "/?lead=PARTNER",
        "/?classification=refugees",
        "/?page=two",
        "/?lang=fr&lang=es",
    ] {
        let (status, _, body) = get(&base, bad, "en").await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _, _) = get(&base, "/situations/COL-VEN-2026?x=1", "en").await;
    assert_eq!(status, 400);

    // A situation page links its downloads, and a page past the last one shows the last.
    let (status, _, body) = get(&base, "/situations/COL-VEN-2026", "en").await;
    assert_eq!(status, 200);
    for link in [
        "/v1/situations/COL-VEN-2026/series.csv",
        "/v1/situations/COL-VEN-2026/history",
        "/v1/situations.csv",
        "/v1/datapackage.json",
    ] {
        assert!(
            body.contains(&format!("href=\"{link}\"")),
            "{link} not linked"
        );
    }
    let (status, _, body) = get(&base, "/?page=99", "en").await;
    assert_eq!(status, 200);
    assert!(body.contains("COL-VEN-2026"));
}
