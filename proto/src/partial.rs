//! Partial decoders: the one or two fields a consumer needs to place a message among those in
//! hand, read without decoding (and allocating) the whole message, which its handler decodes
//! once. Their tag numbers must match `proto/tandem/v1/*.proto`; each is tested against the
//! encoding of the full message, so a renumbered field fails the tests rather than misplacing
//! messages.

/// Field 2 of a `SituationReport`: the situation it is about (intake's ordering key).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReportSituation {
    /// `SituationReport.situation_id`.
    #[prost(string, tag = "2")]
    pub situation_id: String,
}

/// Field 3 of a `SituationAccepted`: its number among the situation's acceptances
/// (leadership's order).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AcceptedNumber {
    /// `SituationAccepted.situation_sequence`.
    #[prost(uint64, tag = "3")]
    pub situation_sequence: u64,
}

/// Fields 1 and 2 of a `LeadershipDetermination`: its situation and its step there (notify's
/// order).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeterminationStep {
    /// `LeadershipDetermination.situation_id`.
    #[prost(string, tag = "1")]
    pub situation_id: String,
    /// `LeadershipDetermination.sequence`.
    #[prost(uint64, tag = "2")]
    pub sequence: u64,
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::{
        timestamp,
        v1::{Agency, Classification, LeadershipDetermination, SituationAccepted, SituationReport},
    };

    /// A report with every kind of field set, so that a partial decoder reading the wrong tag
    /// would find a value of some other field, or a wire type it cannot read.
    fn full_report() -> SituationReport {
        SituationReport {
            report_id: "iom-r-17".into(),
            situation_id: "S-COL-0042".into(),
            revision: 3,
            reporting_agency: Agency::Iom as i32,
            reporter_org: "iom".into(),
            country: "COL".into(),
            reported_at: Some(timestamp::now()),
            location_name: "Cúcuta".into(),
            on_the_move: true,
            notes: "a full report".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_situation_of_a_full_report_is_read_alone() {
        let report = full_report();
        let partial = ReportSituation::decode(report.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(partial.situation_id, report.situation_id);
    }

    #[test]
    fn the_number_of_a_full_acceptance_is_read_alone() {
        let accepted = SituationAccepted {
            report: Some(full_report()),
            accepted_at: Some(timestamp::now()),
            situation_sequence: 41,
        };
        let partial = AcceptedNumber::decode(accepted.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(partial.situation_sequence, 41);
    }

    #[test]
    fn the_step_of_a_full_determination_is_read_alone() {
        let determination = LeadershipDetermination {
            situation_id: "S-COL-0042".into(),
            sequence: 7,
            determination_id: "S-COL-0042/7".into(),
            country: "COL".into(),
            classification: Classification::MixedMovement as i32,
            ..Default::default()
        };
        let partial =
            DeterminationStep::decode(determination.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(
            partial,
            DeterminationStep {
                situation_id: determination.situation_id.clone(),
                sequence: 7,
            }
        );
    }
}
