//! What a change does to a situation's record, as a pure function: the service loads the
//! record, asks [`next`], and writes the answer with compare-and-set.

use tandem_proto::{
    Timestamp,
    v1::{LeadershipRecord, SituationReport},
};

use crate::policy::{Policy, determine, same_outcome};

/// Something that may call for a new determination.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// An accepted report.
    Report(&'a SituationReport),
    /// The policy may have changed: determine again, keeping the result only if the outcome
    /// (classification, arrangement, leads, functions) differs.
    Reevaluate,
}

/// The record after `change`, or `None` when it calls for no new determination: the report is
/// already reflected (a redelivery) or superseded by a newer revision from the same
/// organisation, or a re-evaluation finds the same outcome.
pub fn next(
    policy: &Policy,
    record: Option<&LeadershipRecord>,
    change: Change<'_>,
    now: Timestamp,
) -> Option<LeadershipRecord> {
    let previous = record.and_then(|r| r.determination.as_ref());
    let mut reports = record.map(|r| r.reports.clone()).unwrap_or_default();
    match change {
        Change::Report(report) => {
            let same_organisation = |held: &SituationReport| {
                held.reporting_agency == report.reporting_agency
                    && held.reporter_org == report.reporter_org
            };
            match reports.iter_mut().find(|held| same_organisation(held)) {
                Some(held) if held.revision >= report.revision => return None,
                Some(held) => *held = report.clone(),
                None => reports.push(report.clone()),
            }
            let determination = determine(policy, &reports, previous, now);
            Some(LeadershipRecord {
                determination: Some(determination),
                reports,
                published: false,
            })
        }
        Change::Reevaluate => {
            let previous = previous?;
            let determination = determine(policy, &reports, Some(previous), now);
            if same_outcome(previous, &determination) {
                return None;
            }
            Some(LeadershipRecord {
                determination: Some(determination),
                reports,
                published: false,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use tandem_proto::v1::{Agency, PopulationFigure, PopulationGroup, Scope};

    use super::*;

    fn report(agency: Agency, revision: u32, refugees: u64, migrants: u64) -> SituationReport {
        SituationReport {
            report_id: format!("{}-{revision}", agency.as_str_name()),
            situation_id: "S".into(),
            revision,
            reporting_agency: agency as i32,
            reported_at: Some(Timestamp {
                seconds: 1_700_000_000 + i64::from(revision),
                nanos: 0,
            }),
            country: "COL".into(),
            scope: Scope::CrossBorder as i32,
            population: vec![
                PopulationFigure {
                    group: PopulationGroup::Refugee as i32,
                    count: refugees,
                    ..Default::default()
                },
                PopulationFigure {
                    group: PopulationGroup::Migrant as i32,
                    count: migrants,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn each_new_revision_is_one_more_step_and_redeliveries_none() {
        let policy = Policy::default_v1();
        let first = next(
            &policy,
            None,
            Change::Report(&report(Agency::Iom, 1, 10, 90)),
            Timestamp::default(),
        );
        let first = first.expect("a first determination");
        assert_eq!(first.determination.as_ref().map(|d| d.sequence), Some(1));
        let again = next(
            &policy,
            Some(&first),
            Change::Report(&report(Agency::Iom, 1, 10, 90)),
            Timestamp::default(),
        );
        assert!(again.is_none(), "a redelivery is not a new step");
        let older = next(
            &policy,
            Some(&first),
            Change::Report(&report(Agency::Iom, 0, 10, 90)),
            Timestamp::default(),
        );
        assert!(older.is_none(), "a superseded revision is not a new step");
        let unhcr = next(
            &policy,
            Some(&first),
            Change::Report(&report(Agency::Unhcr, 1, 90, 10)),
            Timestamp::default(),
        );
        let unhcr = unhcr.expect("another organisation's report is a new step");
        assert_eq!(unhcr.reports.len(), 2);
        assert_eq!(unhcr.determination.as_ref().map(|d| d.sequence), Some(2));
    }

    #[test]
    fn reevaluation_with_the_same_policy_changes_nothing() {
        let policy = Policy::default_v1();
        let record = next(
            &policy,
            None,
            Change::Report(&report(Agency::Iom, 1, 50, 50)),
            Timestamp::default(),
        );
        let record = record.expect("determined");
        assert!(
            next(
                &policy,
                Some(&record),
                Change::Reevaluate,
                Timestamp::default()
            )
            .is_none()
        );
        assert!(next(&policy, None, Change::Reevaluate, Timestamp::default()).is_none());
    }
}
