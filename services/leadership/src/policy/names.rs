//! Names: the policy file's short names for groups and agencies, and the small agency sets (bit
//! masks) the engine works with. Enum values in words are in `tandem_i18n::words`.
//!
//! The policy file says `refugee` and `unhcr` rather than `POPULATION_GROUP_REFUGEE` and
//! `AGENCY_UNHCR` because people edit it; the mapping is the proto name's suffix in lower case,
//! so it cannot drift from the contract.

use tandem_i18n::{Lang, words::word};
use tandem_proto::v1::{Agency, PopulationGroup};

/// Number of slots in arrays indexed by a `PopulationGroup` value (0 = unspecified … 10).
pub(crate) const GROUP_SLOTS: usize = 11;

/// The population groups a report can carry, in enum order.
pub(crate) use tandem_proto::words::POPULATION_GROUPS as GROUPS;

/// The group a raw enum value names, when it is one reports can carry.
pub(crate) fn group_from_i32(value: i32) -> Option<PopulationGroup> {
    match PopulationGroup::try_from(value) {
        Ok(PopulationGroup::Unspecified) | Err(_) => None,
        Ok(group) => Some(group),
    }
}

/// The policy file's name of a group (`asylum_seeker`).
pub(crate) fn group_key(group: PopulationGroup) -> String {
    group
        .as_str_name()
        .trim_start_matches("POPULATION_GROUP_")
        .to_ascii_lowercase()
}

/// The group a policy-file name stands for.
pub(crate) fn group_from_key(key: &str) -> Option<PopulationGroup> {
    GROUPS.into_iter().find(|group| group_key(*group) == key)
}

/// The policy file's names of every group, for error messages.
pub(crate) fn group_keys() -> String {
    GROUPS.map(group_key).join(", ")
}

/// A set of agencies: bit `n` stands for the `Agency` with value `n`. Iterating the bits from
/// low to high gives the agencies sorted by enum value, which is the order the contract wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Agencies(u8);

impl Agencies {
    /// No agency.
    pub(crate) const NONE: Agencies = Agencies(0);
    /// IOM alone.
    pub(crate) const IOM: Agencies = Agencies(1 << Agency::Iom as u8);
    /// UNHCR alone.
    pub(crate) const UNHCR: Agencies = Agencies(1 << Agency::Unhcr as u8);
    /// A partner organisation alone.
    pub(crate) const PARTNER: Agencies = Agencies(1 << Agency::Partner as u8);
    /// IOM and UNHCR together.
    pub(crate) const JOINT: Agencies = Agencies(Self::IOM.0 | Self::UNHCR.0);

    /// The agency a raw enum value names, unless it is unspecified or unknown.
    pub(crate) fn of(value: i32) -> Agencies {
        match Agency::try_from(value) {
            Ok(Agency::Iom) => Self::IOM,
            Ok(Agency::Unhcr) => Self::UNHCR,
            Ok(Agency::Partner) => Self::PARTNER,
            Ok(Agency::Unspecified) | Err(_) => Self::NONE,
        }
    }

    /// Both sets together.
    pub(crate) fn with(self, other: Agencies) -> Agencies {
        Agencies(self.0 | other.0)
    }

    /// Whether every agency of `other` is in the set.
    pub(crate) fn contains(self, other: Agencies) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Replaces `out` with the agencies, sorted by enum value.
    pub(crate) fn write_into(self, out: &mut Vec<i32>) {
        out.clear();
        for agency in [Agency::Iom, Agency::Unhcr, Agency::Partner] {
            if self.0 & (1 << agency as u8) != 0 {
                out.push(agency as i32);
            }
        }
    }

    /// The set a list of raw values names, or `None` when the list holds a value that is not a
    /// known agency (the caller then cannot compare sets and must say "different").
    pub(crate) fn from_values(values: &[i32]) -> Option<Agencies> {
        values.iter().try_fold(Self::NONE, |set, value| {
            let agency = Self::of(*value);
            (!agency.is_empty()).then_some(set.with(agency))
        })
    }

    /// The set in words in `lang`: `UNHCR`, `IOM and UNHCR`, `IOM, UNHCR and the partner
    /// organisation`; `OIM et HCR`, `OIM y ACNUR`.
    pub(crate) fn write_words(self, out: &mut String, lang: Lang) {
        let names = [
            (Self::IOM, word(lang, Agency::Iom)),
            (Self::UNHCR, word(lang, Agency::Unhcr)),
            (Self::PARTNER, lang.text("agencies-partner-organisation")),
        ];
        let count = self.0.count_ones() as usize;
        let mut written = 0;
        for (agency, name) in names {
            if self.0 & agency.0 == 0 {
                continue;
            }
            if written > 0 && written + 1 == count {
                out.push(' ');
                out.push_str(&lang.text("agencies-and"));
                out.push(' ');
            } else if written > 0 {
                out.push_str(", ");
            }
            out.push_str(&name);
            written += 1;
        }
        if written == 0 {
            out.push_str(&lang.text("agencies-none"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_round_trip() {
        for group in GROUPS {
            assert_eq!(group_from_key(&group_key(group)), Some(group));
        }
        assert_eq!(group_key(PopulationGroup::AsylumSeeker), "asylum_seeker");
        assert_eq!(group_from_key("unspecified"), None);
        assert_eq!(group_from_i32(0), None);
        assert_eq!(group_from_i32(99), None);
    }

    #[test]
    fn agency_sets_are_sorted_and_worded() {
        let all = Agencies::PARTNER.with(Agencies::IOM).with(Agencies::UNHCR);
        let mut values = vec![7, 7, 7, 7];
        all.write_into(&mut values);
        assert_eq!(values, vec![1, 2, 3]);
        Agencies::UNHCR.write_into(&mut values);
        assert_eq!(values, vec![2]);
        let words = |set: Agencies, lang| {
            let mut words = String::new();
            set.write_words(&mut words, lang);
            words
        };
        assert_eq!(
            words(all, Lang::En),
            "IOM, UNHCR and the partner organisation"
        );
        assert_eq!(words(Agencies::JOINT, Lang::En), "IOM and UNHCR");
        assert_eq!(words(Agencies::UNHCR, Lang::En), "UNHCR");
        assert_eq!(
            words(all, Lang::Fr),
            "OIM, HCR et l’organisation partenaire"
        );
        assert_eq!(words(Agencies::JOINT, Lang::Es), "OIM y ACNUR");
        assert_eq!(words(Agencies::NONE, Lang::Es), "ningún organismo");
        assert_eq!(Agencies::from_values(&[2, 1, 2]), Some(Agencies::JOINT));
        assert_eq!(Agencies::from_values(&[0]), None);
        assert_eq!(Agencies::from_values(&[7]), None);
    }
}
