//! A determination in three languages, as a coordinator in Bogotá reads it: leadership writes
//! the policy's rationale in English, French and Spanish into every determination, and
//! `tandem situation get` prints it in the language asked for (`--lang`, `TANDEM_LANG`, the
//! locale), with no sentence of the command line left in English.

use std::process::{Command, Output};

use tandem_proto::v1::{Agency, LeadershipDetermination, PopulationGroup};
use tandem_testkit::{DEADLINE, TestStack, eventually, reports::Report, services::binary};

/// `tandem situation get COL-2026-LANG` with `args` and `env`, the locale cleared first.
fn get(stack: &TestStack, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary("tandem"))
        .args([
            "situation",
            "get",
            "COL-2026-LANG",
            "--nats-url",
            &stack.server.url(),
        ])
        .args(args)
        .env_remove("TANDEM_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .envs(env.iter().copied())
        .output()
        .expect("tandem runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "tandem failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The English `## CLI` messages up to their first placeholder: what an English line of the
/// command line would start with.
fn english_cli_fragments() -> Vec<String> {
    let file = include_str!("../../services/i18n/locales/en/tandem.ftl");
    let section = file.split("\n## CLI").nth(1).expect("a ## CLI section");
    section
        .split("\n## ")
        .next()
        .unwrap_or(section)
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(_, text)| text.split('{').next().unwrap_or_default().trim().to_owned())
        .filter(|fragment| fragment.len() >= 4)
        .collect()
}

#[tokio::test]
async fn a_determination_carries_its_rationale_in_three_languages_and_the_cli_prints_the_readers() {
    let stack = TestStack::builder().intake().leadership().start().await;
    let report = Report::new(Agency::Unhcr, "unhcr-lang-1", "COL-2026-LANG", 1)
        .figures(
            "2026-11-01",
            "UNHCR registration",
            &[
                (PopulationGroup::Refugee, 12_500),
                (PopulationGroup::Migrant, 1_500),
            ],
        )
        .build();
    stack.submit("unhcr", &report).await;
    let determination: LeadershipDetermination =
        eventually("the determination of COL-2026-LANG", DEADLINE, || async {
            stack
                .record("COL-2026-LANG")
                .await
                .and_then(|record| record.determination)
        })
        .await;

    // Every entry has its English text and a French and a Spanish one, filled in.
    let entry = &determination.rationale[0];
    assert_eq!(entry.rule_id, "refugee_situation");
    assert!(
        entry
            .text
            .starts_with("Protection share 0.89 ≥ refugee threshold 0.80 (12,500")
    );
    assert_eq!(
        entry.texts.keys().map(String::as_str).collect::<Vec<_>>(),
        ["es", "fr"]
    );
    let spanish = &entry.texts["es"];
    assert!(
        spanish.starts_with(
            "Proporción de protección 0,89 ≥ umbral de refugiados 0,80 (12\u{202F}500 en la población bajo el mandato del ACNUR"
        ),
        "{spanish}"
    );
    assert!(
        entry.texts["fr"].contains("situation de réfugiés ; le HCR dirige"),
        "{}",
        entry.texts["fr"]
    );

    let printed = stdout(&get(&stack, &["--lang", "es"], &[]));
    assert!(
        printed.starts_with(
            "COL-2026-LANG (COL): situación de refugiados — ACNUR dirige (modelo de coordinación para refugiados)\n"
        ),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("por qué: {spanish} [FoE B.1 mixed movements]")),
        "{printed}"
    );
    for fragment in english_cli_fragments() {
        assert!(
            !printed.contains(&fragment),
            "English {fragment:?} in:\n{printed}"
        );
    }

    // TANDEM_LANG, then the locale, choose when --lang does not; --lang wins over both.
    let french = stdout(&get(&stack, &[], &[("TANDEM_LANG", "fr")]));
    assert!(french.contains("pourquoi : "), "{french}");
    assert!(french.contains(&entry.texts["fr"]), "{french}");
    let from_locale = stdout(&get(&stack, &[], &[("LANG", "es_CO.UTF-8")]));
    assert!(from_locale.contains(spanish.as_str()), "{from_locale}");
    let asked = stdout(&get(&stack, &["--lang", "en"], &[("TANDEM_LANG", "fr")]));
    assert!(asked.contains(&format!("why: {}", entry.text)), "{asked}");

    // --json is the same machine output in every language, texts included.
    let json = stdout(&get(&stack, &["--json", "--lang", "fr"], &[]));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(parsed["classification"], "CLASSIFICATION_REFUGEE_SITUATION");
    assert_eq!(parsed["rationale"][0]["texts"]["es"], spanish.as_str());

    // A language tandem does not speak is refused, saying which it speaks.
    let german = get(&stack, &["--lang", "de"], &[]);
    assert_eq!(german.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&german.stderr).contains("tandem speaks en, fr and es"),
        "{}",
        String::from_utf8_lossy(&german.stderr)
    );
}
