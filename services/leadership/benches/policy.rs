//! Throughput of the leadership policy engine (target in docs/performance.md: ≥ 1,000,000
//! determinations/s on one core). Run with `cargo bench -p tandem-leadership --bench policy`
//! (add `-- --quick` for a short run); criterion prints the rate as `thrpt: … Kelem/s` or
//! `Melem/s`, one element being one determination.
//!
//! The situation is a realistic one: a cross-border mixed movement reported by IOM, UNHCR and a
//! partner (three reports, six population groups, one IOM/UNHCR discrepancy), with a previous
//! determination so that hysteresis, `changed` and the sequence are all exercised.
//!
//! Benchmarks: `determine` (a fresh determination each time: about 35 heap blocks, which the
//! contract's strings and lists require, and every rationale text in English, French and
//! Spanish), `determine_english_only` (the same under the policy without its translations: the
//! cost of the other two languages is the difference), `clone_output` (allocating and freeing such a determination and nothing else: the floor for
//! `determine`), and `reconcile` alone.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tandem_leadership::policy::{Policy, determine, reconcile};
use tandem_proto::Timestamp;
use tandem_proto::v1::{
    Agency, Driver, Phase, PopulationFigure, PopulationGroup, Scope, SituationReport,
};

fn figure(group: PopulationGroup, count: u64) -> PopulationFigure {
    PopulationFigure {
        group: group as i32,
        count,
        as_of: "2024-05-01".to_owned(),
        source: "registration".to_owned(),
        ..Default::default()
    }
}

fn report(
    agency: Agency,
    org: &str,
    id: &str,
    seconds: i64,
    population: Vec<PopulationFigure>,
) -> SituationReport {
    SituationReport {
        report_id: id.to_owned(),
        situation_id: "pan-darien-2024".to_owned(),
        revision: 3,
        reporting_agency: agency as i32,
        reporter_org: org.to_owned(),
        reported_at: Some(Timestamp { seconds, nanos: 0 }),
        country: "PAN".to_owned(),
        admin1_pcode: "PA05".to_owned(),
        location_name: "Darién".to_owned(),
        scope: Scope::CrossBorder as i32,
        driver: Driver::Mixed as i32,
        phase: Phase::Emergency as i32,
        on_the_move: true,
        population,
        ..Default::default()
    }
}

fn situation() -> Vec<SituationReport> {
    use PopulationGroup::*;
    vec![
        report(
            Agency::Iom,
            "",
            "dtm-r12",
            1_714_600_000,
            vec![
                figure(Migrant, 41_200),
                figure(Refugee, 9_800),
                figure(AsylumSeeker, 12_000),
                figure(HostCommunity, 30_000),
            ],
        ),
        report(
            Agency::Unhcr,
            "",
            "unhcr-pan-0501",
            1_714_610_000,
            vec![
                figure(Refugee, 14_300),
                figure(AsylumSeeker, 11_500),
                figure(OtherInNeedOfProtection, 2_100),
                figure(Stateless, 40),
            ],
        ),
        report(
            Agency::Partner,
            "hias",
            "hias-0502",
            1_714_620_000,
            vec![figure(Migrant, 39_000), figure(ReturnedRefugee, 350)],
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default_v1();
    let reports = situation();
    let at = Timestamp {
        seconds: 1_714_630_000,
        nanos: 0,
    };
    let previous = determine(&policy, &reports, None, at);

    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Elements(1));
    let english_only = Policy::from_toml(
        &include_str!("../../../deploy/policy/leadership-v1.toml")
            .lines()
            .filter(|line| {
                !["languages", "text_fr", "text_es"]
                    .iter()
                    .any(|key| line.starts_with(key))
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("the shipped policy without its translations loads");
    for (name, policy) in [
        ("determine", &policy),
        ("determine_english_only", &english_only),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                determine(
                    black_box(policy),
                    black_box(&reports),
                    black_box(Some(&previous)),
                    black_box(at),
                )
            })
        });
    }
    // The floor: only allocating and freeing a determination of the same shape (about 35 heap
    // blocks: strings and vectors the contract requires), with no policy work at all.
    let output = determine(&policy, &reports, Some(&previous), at);
    group.bench_function("clone_output", |b| b.iter(|| black_box(&output).clone()));
    group.bench_function("reconcile", |b| {
        b.iter(|| reconcile(black_box(&policy), black_box(&reports)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
