//! What a change does to a situation's record, as a pure function: the service loads the
//! record, asks [`next`], and writes the answer with compare-and-set.

use tandem_proto::{
    Timestamp,
    v1::{LeadershipRecord, SituationReport},
};

use crate::{
    policy::{self, Policy, determine, same_outcome},
    review::carry_over,
};

/// Something that may call for a new determination.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// An accepted report, the situation's accepted report number `situation_sequence` (0 for
    /// an unnumbered one, which is applied in whatever order it comes).
    Report {
        /// The report.
        report: &'a SituationReport,
        /// Its number among the situation's accepted reports.
        situation_sequence: u64,
        /// Apply it even though an earlier number is missing (waited for long enough).
        skip_gap: bool,
    },
    /// The policy may have changed: determine again, keeping the result only if the outcome
    /// (classification, arrangement, leads, functions) differs.
    Reevaluate,
}

/// An accepted report arrived before an earlier one of its situation was reflected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The number reflected so far.
    pub reflected: u64,
    /// The number that arrived.
    pub arrived: u64,
}

/// The record after `change`, or `None` when it calls for nothing: the report is already
/// reflected (a redelivery), or a re-evaluation finds the same outcome. A report superseded by
/// a newer revision from the same organisation (possible only after a skipped gap) advances
/// `accepted_through` without a new determination. `Err(Gap)` asks the caller to wait for the
/// reports before this one.
pub fn next(
    policy: &Policy,
    record: Option<&LeadershipRecord>,
    change: Change<'_>,
    now: Timestamp,
) -> Result<Option<LeadershipRecord>, Gap> {
    let previous = record.and_then(|r| r.determination.as_ref());
    let mut reports = record.map(|r| r.reports.clone()).unwrap_or_default();
    let reflected = record.map_or(0, |r| r.accepted_through);
    match change {
        Change::Report {
            report,
            situation_sequence,
            skip_gap,
        } => {
            // The latest report of each organisation, and in a regional situation of each
            // organisation per country (each country is an operation of its own).
            let regional = previous.is_some_and(|previous| previous.regional)
                || policy::declares_regional(report);
            let same_organisation = |held: &SituationReport| {
                held.reporting_agency == report.reporting_agency
                    && held.reporter_org == report.reporter_org
                    && (!regional || held.country == report.country)
            };
            if situation_sequence != 0 {
                if situation_sequence <= reflected {
                    // Reflected already, or superseded by a newer revision of its
                    // organisation; otherwise it is a predecessor that a skipped gap went past,
                    // and it still becomes a step of its own below.
                    if reports
                        .iter()
                        .any(|held| same_organisation(held) && held.revision >= report.revision)
                    {
                        return Ok(None);
                    }
                } else if situation_sequence > reflected + 1 && !skip_gap {
                    return Err(Gap {
                        reflected,
                        arrived: situation_sequence,
                    });
                }
            }
            let accepted_through = reflected.max(situation_sequence);
            if let Some(held) = reports.iter().position(same_organisation) {
                if reports[held].revision >= report.revision {
                    let advanced =
                        record
                            .filter(|_| situation_sequence != 0)
                            .map(|record| LeadershipRecord {
                                accepted_through,
                                ..record.clone()
                            });
                    return Ok(advanced);
                }
                reports.remove(held);
            }
            // The record keeps the reports in the order they were reflected, which is the order
            // intake accepted them: the engine reads the last as the most recent. (A
            // predecessor reflected after a skipped gap counts as the most recent; that only
            // happens when its delivery failed for longer than the consumer's retries.)
            reports.push(report.clone());
            let mut determination = determine(policy, &reports, previous, now);
            carry_over(&mut determination, previous);
            Ok(Some(LeadershipRecord {
                determination: Some(determination),
                reports,
                published: false,
                accepted_through,
                unpublished_reviews: Vec::new(),
            }))
        }
        Change::Reevaluate => {
            let Some(previous) = previous else {
                return Ok(None);
            };
            let mut determination = determine(policy, &reports, Some(previous), now);
            if same_outcome(previous, &determination) {
                return Ok(None);
            }
            carry_over(&mut determination, Some(previous));
            Ok(Some(LeadershipRecord {
                determination: Some(determination),
                reports,
                published: false,
                accepted_through: reflected,
                unpublished_reviews: Vec::new(),
            }))
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

    fn accepted(report: &SituationReport, situation_sequence: u64) -> Change<'_> {
        Change::Report {
            report,
            situation_sequence,
            skip_gap: false,
        }
    }

    fn sequence(record: &LeadershipRecord) -> u64 {
        record.determination.as_ref().map_or(0, |d| d.sequence)
    }

    #[test]
    fn each_accepted_report_is_one_step_in_order() {
        let policy = Policy::default_v1();
        let now = Timestamp::default();
        let iom = report(Agency::Iom, 1, 10, 90);
        let first = next(&policy, None, accepted(&iom, 1), now)
            .ok()
            .flatten()
            .expect("a first determination");
        assert_eq!((sequence(&first), first.accepted_through), (1, 1));
        assert_eq!(
            next(&policy, Some(&first), accepted(&iom, 1), now),
            Ok(None),
            "a redelivery is no new step"
        );

        let unhcr = report(Agency::Unhcr, 1, 90, 10);
        let iom2 = report(Agency::Iom, 2, 10, 90);
        assert_eq!(
            next(&policy, Some(&first), accepted(&iom2, 3), now),
            Err(Gap {
                reflected: 1,
                arrived: 3
            }),
            "report 3 waits for report 2"
        );
        let second = next(&policy, Some(&first), accepted(&unhcr, 2), now)
            .ok()
            .flatten()
            .expect("step 2");
        assert_eq!((sequence(&second), second.reports.len()), (2, 2));
        let third = next(&policy, Some(&second), accepted(&iom2, 3), now)
            .ok()
            .flatten()
            .expect("step 3");
        assert_eq!((sequence(&third), third.accepted_through), (3, 3));
    }

    /// IOM's revision 1 reflected as report 1, then `later` (accepted as report 3) going past
    /// the missing report 2 on its last delivery.
    fn past_a_gap(policy: &Policy, later: &SituationReport) -> LeadershipRecord {
        let now = Timestamp::default();
        let first = next(
            policy,
            None,
            accepted(&report(Agency::Iom, 1, 10, 90), 1),
            now,
        )
        .ok()
        .flatten()
        .expect("step 1");
        let skipped = Change::Report {
            report: later,
            situation_sequence: 3,
            skip_gap: true,
        };
        next(policy, Some(&first), skipped, now)
            .ok()
            .flatten()
            .expect("applied past the gap")
    }

    #[test]
    fn a_skipped_gap_is_filled_by_the_newer_report_and_the_late_one_only_advances() {
        let policy = Policy::default_v1();
        let now = Timestamp::default();
        let jumped = past_a_gap(&policy, &report(Agency::Iom, 3, 10, 90));
        assert_eq!((sequence(&jumped), jumped.accepted_through), (2, 3));
        assert_eq!(
            next(
                &policy,
                Some(&jumped),
                accepted(&report(Agency::Iom, 2, 10, 90), 2),
                now
            ),
            Ok(None)
        );
    }

    #[test]
    fn a_late_predecessor_from_another_organisation_is_still_reflected_once() {
        let policy = Policy::default_v1();
        let now = Timestamp::default();
        // UNHCR's report was accepted as number 2 but is late; IOM's number 3 went ahead.
        let jumped = past_a_gap(&policy, &report(Agency::Iom, 2, 10, 90));
        let unhcr = report(Agency::Unhcr, 1, 500, 10);
        let late = next(&policy, Some(&jumped), accepted(&unhcr, 2), now)
            .ok()
            .flatten()
            .expect("the late report is a step of its own");
        assert_eq!((sequence(&late), late.accepted_through), (3, 3));
        assert!(late.reports.iter().any(|r| r.report_id == unhcr.report_id));
        // Its redelivery changes nothing.
        assert_eq!(
            next(&policy, Some(&late), accepted(&unhcr, 2), now),
            Ok(None)
        );
    }

    #[test]
    fn unnumbered_reports_apply_in_any_order_and_older_revisions_are_superseded() {
        let policy = Policy::default_v1();
        let now = Timestamp::default();
        let newer = report(Agency::Iom, 2, 10, 90);
        let record = next(&policy, None, accepted(&newer, 0), now)
            .ok()
            .flatten()
            .expect("step 1");
        assert_eq!(
            next(
                &policy,
                Some(&record),
                accepted(&report(Agency::Iom, 1, 10, 90), 0),
                now
            ),
            Ok(None)
        );
    }

    #[test]
    fn reevaluation_with_the_same_policy_changes_nothing() {
        let policy = Policy::default_v1();
        let now = Timestamp::default();
        let record = next(
            &policy,
            None,
            accepted(&report(Agency::Iom, 1, 50, 50), 1),
            now,
        )
        .ok()
        .flatten()
        .expect("determined");
        assert_eq!(
            next(&policy, Some(&record), Change::Reevaluate, now),
            Ok(None)
        );
        assert_eq!(next(&policy, None, Change::Reevaluate, now), Ok(None));
    }

    #[test]
    fn a_regional_situation_keeps_each_organisations_latest_report_per_country() {
        let policy = Policy::default_v1();
        let now = Timestamp::default();
        let mut colombia = report(Agency::Iom, 1, 10, 90);
        colombia.regional = true;
        let first = next(&policy, None, accepted(&colombia, 1), now)
            .ok()
            .flatten()
            .expect("step 1");
        let mut ecuador = report(Agency::Iom, 2, 90, 10);
        ecuador.country = "ECU".into();
        let second = next(&policy, Some(&first), accepted(&ecuador, 2), now)
            .ok()
            .flatten()
            .expect("step 2");
        let held: Vec<&str> = second.reports.iter().map(|r| r.country.as_str()).collect();
        assert_eq!(
            held,
            ["COL", "ECU"],
            "IOM's Ecuador report does not replace Colombia's"
        );
        // A newer revision for Colombia replaces only Colombia's.
        let colombia = report(Agency::Iom, 3, 20, 80);
        let third = next(&policy, Some(&second), accepted(&colombia, 3), now)
            .ok()
            .flatten()
            .expect("step 3");
        let held: Vec<(&str, u32)> = third
            .reports
            .iter()
            .map(|r| (r.country.as_str(), r.revision))
            .collect();
        assert_eq!(held, [("ECU", 2), ("COL", 3)]);
    }
}
