//! Policy files: the shipped v1 loads; a malformed file and inconsistent files are refused with
//! messages that name every problem; an edited, valid policy changes the outcome and is recorded.

use tandem_leadership::policy::{Policy, PolicyError, determine};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Classification, PopulationFigure, PopulationGroup, Scope, SituationReport,
};

const V1: &str = include_str!("../../../deploy/policy/leadership-v1.toml");

/// The shipped file with `from` replaced by `to` (asserting that `from` occurs).
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = V1.to_owned();
    for (from, to) in edits {
        assert!(
            text.contains(from),
            "the v1 file no longer contains {from:?}"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

fn refused(text: &str) -> PolicyError {
    match Policy::from_toml(text) {
        Ok(policy) => panic!("accepted a bad policy, version {}", policy.version()),
        Err(error) => error,
    }
}

#[test]
fn the_shipped_policy_loads() {
    let policy = Policy::from_toml(V1).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(policy.version(), "v1");
    assert_eq!(Policy::default_v1().version(), "v1");
}

#[test]
fn a_malformed_file_is_refused_with_its_position() {
    let error = refused("version = \"v1\"\n[thresholds\nrefugee = 0.8\n");
    assert!(matches!(error, PolicyError::Syntax { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("the policy file is not valid TOML: "),
        "{message}"
    );
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn refugee_threshold_not_above_migrant_threshold_is_refused() {
    let error = refused(&edited(&[
        ("refugee = 0.80", "refugee = 0.20"),
        ("migrant = 0.20", "migrant = 0.80"),
    ]));
    assert_eq!(
        error.to_string(),
        "the policy file is refused, 1 problem(s):\n  - thresholds.refugee: the refugee threshold (0.20) must be above the migrant threshold (0.80)"
    );
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = edited(&[
        ("version = \"v1\"", "version = \"v 2\"\nowner = \"someone\""),
        ("refugee = 0.80", "refugee = 1.5"),
        (
            "discrepancy_tolerance = 0.25",
            "discrepancy_tolerance = 0.1234567",
        ),
        (
            "migrant = [\"migrant\"]",
            "migrant = [\"migrant\", \"refugee\", \"tourist\"]",
        ),
        ("idp = \"iom\"", "idp = \"partner\""),
        ("returned_idp = \"iom\"\n", ""),
        ("phase = [\"iom\", \"unhcr\"]", "phase = [\"iom\", \"dtm\"]"),
        ("on_the_move = [\"iom\", \"unhcr\"]", "on_the_move = []"),
        ("{share} ≥ refugee threshold", "{shar} ≥ refugee threshold"),
        (
            "[rules.cccm_disaster]\nclause = \"IASC cluster approach\"\n",
            "[rules.cccm_disaster]\nclause = 3\n",
        ),
    ]);
    let without_discrepancy_rule = {
        let start = text
            .find("[rules.discrepancy]")
            .unwrap_or_else(|| panic!("rule present"));
        text[..start].to_owned()
    };
    let error = refused(&without_discrepancy_rule);
    let problems: Vec<String> = error.problems().iter().map(|p| p.to_string()).collect();
    let expected = [
        "owner: unknown key; expected one of: version, languages, thresholds, populations, authority, facts, rules, operations, override",
        "version: `v 2` must be 1–64 of A–Z, a–z, 0–9, `.`, `_`, `-`",
        "thresholds.refugee: is 1.50, but a protection share must lie strictly between 0 and 1",
        "thresholds.discrepancy_tolerance: must be a decimal between 0 and 1 with at most six decimal places (compared exactly)",
        "populations.migrant: refugee is already counted in another set; the sets P, M and D must not overlap",
        "populations.migrant: \"tourist\" is not a population group; expected one of: refugee, asylum_seeker, other_in_need_of_protection, stateless, migrant, idp, returned_refugee, returned_idp, host_community, undetermined",
        "authority.idp: is \"partner\", but the authoritative agency must be \"iom\" or \"unhcr\"",
        "authority: every counted group needs an authoritative agency (\"iom\" or \"unhcr\"); missing: returned_idp",
        "facts.phase: \"dtm\" is not an organisation; expected \"iom\", \"unhcr\" or \"partner\"",
        "facts.on_the_move: must name at least one organisation: \"iom\", \"unhcr\" or \"partner\"",
        "rules.cccm_disaster.clause: must be a string, not integer",
        "rules.refugee_situation.text: unknown placeholder {shar}; this rule may use {share}, {protection}, {migrants}, {refugee_threshold}, {migrant_threshold}",
        "rules.discrepancy: required section is missing",
        "rules.override: required section is missing",
        "rules.undetermined_majority: required section is missing",
        "rules.authority_yielded: required section is missing",
        "rules.solutions_progress: required section is missing",
        "rules.operation_bound: required section is missing",
    ];
    for line in expected {
        assert!(
            problems.iter().any(|problem| problem == line),
            "missing problem {line:?} in:\n{}",
            problems.join("\n")
        );
    }
    assert_eq!(problems.len(), expected.len(), "{}", problems.join("\n"));
    // The message lists every problem, one per line.
    let message = error.to_string();
    assert!(message.starts_with("the policy file is refused, 18 problem(s):\n  - "));
    assert_eq!(message.lines().count(), 19);
}

#[test]
fn hysteresis_must_keep_the_moved_boundaries_apart() {
    // 0.20 + 0.30 = 0.50 is not below 0.80 − 0.30 = 0.50.
    let error = refused(&edited(&[("hysteresis = 0.05", "hysteresis = 0.30")]));
    assert!(
        error.to_string().contains(
            "hysteresis 0.30 is too large: the moved boundaries cross (migrant threshold + hysteresis = 0.50 must stay below refugee threshold − hysteresis = 0.50)"
        ),
        "{error}"
    );
    // Also: migrant − hysteresis < 0.
    assert!(
        error
            .to_string()
            .contains("could never become a migrant situation")
    );
    // Just inside: accepted.
    assert!(Policy::from_toml(&edited(&[("hysteresis = 0.05", "hysteresis = 0.19")])).is_ok());
    // No hysteresis at all is a valid choice.
    assert!(Policy::from_toml(&edited(&[("hysteresis = 0.05", "hysteresis = 0")])).is_ok());
    // Negative hysteresis is not.
    let negative = refused(&edited(&[("hysteresis = 0.05", "hysteresis = -0.05")]));
    assert_eq!(negative.problems()[0].key, "thresholds.hysteresis");
}

#[test]
fn rule_texts_only_take_placeholders_that_mean_something_for_them() {
    let error = refused(&edited(&[(
        "IOM leads the CCCM cluster.",
        "IOM leads the CCCM cluster at share {share}.",
    )]));
    assert_eq!(
        error.problems()[0].to_string(),
        "rules.cccm_disaster.text: placeholder {share} means nothing for this rule; it may use {displaced}, {driver}"
    );
    let error = refused(&edited(&[(
        "IOM leads the CCCM cluster.",
        "IOM leads the CCCM cluster {.",
    )]));
    assert!(
        error.problems()[0]
            .message
            .contains("does not open a placeholder")
    );
}

#[test]
fn an_edited_policy_changes_the_outcome_and_is_recorded() {
    let v2 = Policy::from_toml(&edited(&[
        ("version = \"v1\"", "version = \"v2-pilot\""),
        ("refugee = 0.80", "refugee = 0.70"),
        (
            "refugee situation; UNHCR leads under the refugee coordination model.",
            "refugee situation (pilot wording).",
        ),
    ]))
    .unwrap_or_else(|error| panic!("{error}"));
    let report = SituationReport {
        report_id: "u-1".to_owned(),
        situation_id: "s".to_owned(),
        reporting_agency: Agency::Unhcr as i32,
        scope: Scope::CrossBorder as i32,
        on_the_move: true,
        population: vec![
            PopulationFigure {
                group: PopulationGroup::Refugee as i32,
                count: 75,
                ..Default::default()
            },
            PopulationFigure {
                group: PopulationGroup::Migrant as i32,
                count: 25,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let now = Timestamp::default();
    let under_v1 = determine(
        &Policy::default_v1(),
        std::slice::from_ref(&report),
        None,
        now,
    );
    let under_v2 = determine(&v2, &[report], None, now);
    assert_eq!(under_v1.classification(), Classification::MixedMovement);
    assert_eq!(under_v2.classification(), Classification::RefugeeSituation);
    assert_eq!(under_v2.policy_version, "v2-pilot");
    assert_eq!(
        under_v2.rationale[0].text,
        "Protection share 0.75 ≥ refugee threshold 0.70 (75 in UNHCR's mandate population, 25 migrants): refugee situation (pilot wording)."
    );
}

/// The tripartite arrangement of the policy file's example, as an override.
const TRIPARTITE: &str = r#"
[[override]]
situation = "BGD-ROHINGYA"
reference = "Joint Response Plan coordination arrangement, 2018"
since = 2018-03-01
[override.functions]
strategic_planning = ["unhcr", "Resident Coordinator", "iom"]
data_management = ["iom"]
engagement_with_states = ["unhcr"]
"#;

#[test]
fn an_override_splits_functions_and_names_its_reference() {
    use tandem_proto::v1::{Arrangement, LeadershipFunction as F};
    let policy =
        Policy::from_toml(&format!("{V1}{TRIPARTITE}")).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        policy.overrides().collect::<Vec<_>>(),
        [(
            "BGD-ROHINGYA",
            "Joint Response Plan coordination arrangement, 2018"
        )]
    );
    let refugees = SituationReport {
        report_id: "unhcr-bgd-1".into(),
        situation_id: "BGD-ROHINGYA".into(),
        revision: 1,
        reporting_agency: Agency::Unhcr as i32,
        country: "BGD".into(),
        scope: Scope::CrossBorder as i32,
        population: vec![PopulationFigure {
            group: PopulationGroup::Refugee as i32,
            count: 1_000_000,
            ..Default::default()
        }],
        ..Default::default()
    };
    // 2019-01-01: the override is in force.
    let at = Timestamp {
        seconds: 1_546_300_800,
        nanos: 0,
    };
    let d = determine(&policy, std::slice::from_ref(&refugees), None, at);
    assert_eq!(d.classification(), Classification::RefugeeSituation);
    assert_eq!(d.arrangement(), Arrangement::RefugeeCoordinationModel);
    let holders = |function: F| {
        d.functions
            .iter()
            .find(|f| f.function == function as i32)
            .map(|f| (f.agencies.clone(), f.actors.clone()))
            .unwrap_or_default()
    };
    let (iom, unhcr) = (Agency::Iom as i32, Agency::Unhcr as i32);
    assert_eq!(
        holders(F::StrategicPlanning),
        (vec![iom, unhcr], vec!["Resident Coordinator".to_owned()])
    );
    assert_eq!(holders(F::DataManagement), (vec![iom], vec![]));
    assert_eq!(holders(F::EngagementWithStates), (vec![unhcr], vec![]));
    // Functions the override does not name follow the classification.
    assert_eq!(holders(F::ResourceMobilization), (vec![unhcr], vec![]));
    assert_eq!(d.lead_agencies, [iom, unhcr]);
    assert_eq!(d.rationale[0].rule_id, "override");
    assert!(
        d.rationale[0].text.contains(
            "Joint Response Plan coordination arrangement, 2018, in force since 2018-03-01"
        ),
        "{}",
        d.rationale[0].text
    );
    // The day before it starts, and for another situation, the classification alone decides.
    let before = Timestamp {
        seconds: 1_519_862_400 - 1,
        nanos: 0,
    };
    let earlier = determine(&policy, std::slice::from_ref(&refugees), None, before);
    assert_eq!(holders_of(&earlier, F::DataManagement), vec![unhcr]);
    let elsewhere = SituationReport {
        situation_id: "BGD-OTHER".into(),
        ..refugees
    };
    let other = determine(&policy, &[elsewhere], None, at);
    assert_eq!(holders_of(&other, F::DataManagement), vec![unhcr]);
}

fn holders_of(
    d: &tandem_proto::v1::LeadershipDetermination,
    function: tandem_proto::v1::LeadershipFunction,
) -> Vec<i32> {
    d.functions
        .iter()
        .find(|f| f.function == function as i32)
        .map(|f| f.agencies.clone())
        .unwrap_or_default()
}

#[test]
fn a_malformed_override_is_refused_with_every_problem() {
    let bad = TRIPARTITE
        .replace("since = 2018-03-01", "since = \"March 2018\"")
        .replace("data_management = [\"iom\"]", "data_managment = [\"iom\"]")
        .replace(
            "engagement_with_states = [\"unhcr\"]",
            "engagement_with_states = []",
        );
    let error = refused(&format!("{V1}{bad}{TRIPARTITE}"));
    let problems: Vec<String> = error.problems().iter().map(|p| p.to_string()).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("override[0].since: must be a date")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p
                .starts_with("override[0].functions.data_managment: unknown leadership function")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p
            .starts_with("override[0].functions.engagement_with_states: must be a non-empty list")),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    let twice = refused(&format!("{V1}{TRIPARTITE}{TRIPARTITE}"));
    assert_eq!(
        twice.problems()[0].to_string(),
        "override[1].situation: BGD-ROHINGYA has another override already; one per situation"
    );
}

#[test]
fn operations_and_country_overrides_are_checked_with_every_problem() {
    let in_peru = TRIPARTITE.replace(
        "situation = \"BGD-ROHINGYA\"",
        "situation = \"BGD-ROHINGYA\"\ncountry = \"PER\"",
    );
    // The situation's override and one for its Peru operation may stand together.
    Policy::from_toml(&format!("{V1}{TRIPARTITE}{in_peru}")).expect("two overrides, two scopes");
    let bad = edited(&[("classify = \"regional\"", "classify = \"separately\"")]);
    let lowercase = in_peru.replace("\"PER\"", "\"per\"");
    let error = refused(&format!("{bad}{in_peru}{in_peru}{lowercase}"));
    let problems: Vec<String> = error.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        [
            "override[1].situation: BGD-ROHINGYA has another override for PER already; one per country operation",
            "override[2].country: must be the ISO 3166-1 alpha-3 code of a country operation, e.g. \"PER\"",
            "operations.classify: \"separately\" is not a way to classify operations; expected \"regional\" (the regional arrangement binds them) or \"own\" (each on its own figures)",
        ],
    );
}
