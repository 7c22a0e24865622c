//! The leadership policy engine: policy file in, determinations out, nothing else.
//!
//! Map of the module:
//!
//! - `load`: [`Policy`], [`PolicyError`], [`PolicyProblem`] — reading and validating a policy
//!   file (`deploy/policy/leadership-v1.toml` is the default); every problem is listed at once.
//! - `reconcile`: [`reconcile`] and [`Reconciled`] — several organisations' reports on one
//!   situation become one set of figures (each dated, sourced and broken down by origin; per-area
//!   figures summed when a report gives no total), with discrepancies between IOM and UNHCR,
//!   the authoritative figures that yielded to newer ones ([`Yield`]) and, in the solutions
//!   phase, progress against the IASC durable-solutions criteria.
//! - `engine`: [`determine`] and [`same_outcome`] — the rules (designation, no figures, internal,
//!   cross-border with hysteresis), the function assignments and the rationale.
//! - `operations`: regional situations — the situation as a whole on the regional totals and
//!   one determination per country operation, bound by the regional arrangement or classified
//!   on its own figures (`[operations] classify`); [`MAX_OPERATIONS`].
//! - `text`: the rules' ids, the placeholders of their rationale texts, and the parsed texts.
//! - `fixed`: exact decimal comparison and printing, so that a share of exactly 0.80 is a refugee
//!   situation and a printed number never contradicts the comparison beside it.
//! - `names`: policy-file names of groups and agencies, words for enum values, agency sets.
//!
//! # The rules
//!
//! First match wins (rule 1 only changes who leads, so it combines with the others):
//!
//! | rule | when | classification | arrangement | leads | functions |
//! |---|---|---|---|---|---|
//! | 1 `designation` | a designation is in force (recorded by IOM or UNHCR, not revoked) | as rules 2–4 | `DESIGNATED` | the designated | all to the designated |
//! | `undetermined_majority` | cross-border, U / (P + M + U) > `thresholds.undetermined_majority`, U = the undetermined when counted in neither P nor M | `MIXED_MOVEMENT` | `JOINT_PLATFORM` | IOM + UNHCR | joint |
//! | 2 `no_figures` | P + M + D = 0 | `PENDING_JOINT_ASSESSMENT` | `JOINT_ASSESSMENT` | IOM + UNHCR | joint |
//! | `unknown_scope` | no scope (intake refuses this) | `PENDING_JOINT_ASSESSMENT` | `JOINT_ASSESSMENT` | IOM + UNHCR | joint |
//! | 3 `idp_durable_solutions` | internal, phase `SOLUTIONS` | `IDP_DURABLE_SOLUTIONS` | `JOINT_SOLUTIONS_SUPPORT` | IOM + UNHCR | joint |
//! | 3 `idp_cluster` + `cccm_*` | internal, otherwise | `IDP_SITUATION` | `CLUSTER_SYSTEM` | cluster holders | see below |
//! | 2 `no_cross_border_figures` | cross-border, P + M = 0 | `PENDING_JOINT_ASSESSMENT` | `JOINT_ASSESSMENT` | IOM + UNHCR | joint |
//! | 4 `refugee_situation` | share ≥ refugee threshold | `REFUGEE_SITUATION` | `REFUGEE_COORDINATION_MODEL` | UNHCR | UNHCR |
//! | 4 `migrant_situation` | share ≤ migrant threshold | `MIGRANT_SITUATION` | `IOM_LED_RESPONSE` | IOM | IOM |
//! | 4 `mixed_movement` | in between, on the move | `MIXED_MOVEMENT` | `JOINT_PLATFORM` | IOM + UNHCR | joint |
//! | 4 `respective_mandates` | in between, not on the move | `RESPECTIVE_MANDATES` | `RESPECTIVE_MANDATES` | IOM + UNHCR | joint |
//!
//! A policy `[[override]]` for the situation then assigns the functions it names (rationale
//! entry `override`, first after any designation entries); the leads become the agencies
//! holding any function, and other named actors are listed in the function's `actors`.
//!
//! In a regional situation each country operation bound by the regional arrangement takes the
//! regional decision of rules 2–4 in place of its own, under rule `operation_bound`; the
//! designation (its country's, else the situation's) and the override (likewise) then apply
//! as above.
//!
//! # Choices where docs/design.md is silent
//!
//! Each with its reason:
//!
//! - **Cluster system functions.** Protection cluster → UNHCR; CCCM cluster → IOM for a
//!   disaster, else UNHCR; data management joint (DTM and UNHCR statistics together, framework
//!   area 3). Strategic planning, engagement with States, resource mobilisation and inclusive
//!   coordination go to the cluster lead agencies (the leads): under the cluster approach the
//!   cluster leads carry these for their clusters under the Humanitarian Coordinator, and giving
//!   them to an agency that holds no cluster would make it lead without a cluster.
//! - **Respective mandates and joint assessment.** Every FoE function is joint: each agency
//!   exercises it for its own mandate population, or they assess together.
//! - **Designation in force.** The newest report's, when it is an IOM or UNHCR report that
//!   designates a known agency or revokes; otherwise the previous determination's (so a later
//!   report without `designated_leads` leaves it in force); without a previous determination,
//!   the newest IOM or UNHCR report that designates or revokes. Partner reports never
//!   designate or revoke. The determination carries it in `designation`. In a regional
//!   situation the same rule runs once for the whole (reports without `designation_country`)
//!   and once per operation (reports naming its country, and the operation's own designation
//!   in the previous determination); a revocation ends only the designation of what it names,
//!   so revoking the whole's leaves a country's own in force. Elsewhere a
//!   `designation_country` (which intake refuses) is ignored.
//! - **Designation.** Applies to the functions the classification brings (the five FoE functions,
//!   plus the two clusters for an IDP situation). Unknown or unspecified values in
//!   `designated_leads` are ignored; a designation with no known agency left is no designation.
//!   A designation naming only `AGENCY_PARTNER` is honoured like any other (it is a formal act
//!   of the Secretary-General or the host State, which the framework does not override), and
//!   the `designation_partner_only` rule adds an entry saying so, because the contract cannot
//!   name the partner and coordinators must look at the report.
//! - **Hysteresis** applies only when the previous classification is one of the four
//!   cross-border ones and the new determination reaches rule 4; its entry is written whenever
//!   the boundaries moved (hysteresis above 0), whether or not the move changed the outcome.
//! - **Rationale order**: designation entries, then the classification rules in the order they
//!   were evaluated, then `solutions_progress` (in the solutions phase, when progress is
//!   reported), then one `authority_yielded` entry per group whose authoritative figure yielded,
//!   then one `discrepancy` entry per discrepancy (the data checks do not depend on the
//!   classification, so they come last).
//! - **Undetermined majority** comes before the no-figures rules, so that a cross-border
//!   situation counting only people of undetermined status is a mixed movement rather than a
//!   joint assessment; exactly the threshold is not a majority. It does not depend on
//!   `on_the_move`: people whose status cannot be told apart are a mixed flow by definition. A
//!   policy that counts the undetermined in P or M has said how they count, and the rule is
//!   then left out.
//! - **Yield** is measured between the two figures' `as_of` dates, never against the clock, so a
//!   replay gives the same determination on any day; only IOM and UNHCR figures take part (a
//!   partner's newer figure does not unseat an agency's), and a figure without a readable date
//!   never yields nor makes another yield.
//! - **Solutions progress**: per criterion, the share with the latest `as_of` among IOM's and
//!   UNHCR's reports, or among partners' where neither agency gives the criterion (so a partner
//!   cannot displace an agency's survey by dating its own later, as with figures); on the same
//!   date, the most recently accepted report's. The weakest criterion is the lowest share, the first in criterion order
//!   among equals. Without any progress reported, there is no summary and no entry.
//! - **Empty input** (no reports) is a `no_figures` determination; the situation id and country
//!   then come from `previous`, if any.
//! - **A report without a scope** (intake refuses these; the engine still answers) gets a joint
//!   assessment under its own rule, `unknown_scope`, rather than a guess at a cross-border rule.
//! - **Exact thresholds.** Policy decimals may have at most six places and are compared as
//!   integers (`P · 10⁶ ≥ t · (P + M)`), so 0.80 and 0.20 exactly fall where a coordinator
//!   expects. Rationale texts print the share with two places, or more when two would put it on
//!   the wrong side of a threshold (`0.7999`, never a contradictory `0.80 < 0.80`).
//! - **Reconciliation details.** Reports come oldest first in the order intake accepted them,
//!   and only that order decides recency (`reported_at` is the reporter's clock); within one
//!   report the first figure of a repeated group counts. A fact no allowed organisation reported
//!   is unknown. Figures of uncounted groups (host communities) are
//!   listed among the reconciled figures, so the data service can publish them, and IOM/UNHCR
//!   discrepancies are checked for every group both report.
//! - **`changed`** compares lead agencies as sets, so a previous determination stored with
//!   unsorted or repeated leads is not a change by itself.
//!
//! # Guarantees
//!
//! Everything here is deterministic and total: the same input gives the same output whatever the
//! order of the reports, and no input makes it panic.
//!
//! ```
//! use tandem_leadership::policy::{Policy, determine};
//! use tandem_proto::Timestamp;
//! use tandem_proto::v1::{Agency, Classification, PopulationFigure, PopulationGroup, Scope, SituationReport};
//!
//! let report = SituationReport {
//!     report_id: "unhcr-1".into(),
//!     situation_id: "col-2024".into(),
//!     revision: 1,
//!     reporting_agency: Agency::Unhcr as i32,
//!     reported_at: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
//!     country: "COL".into(),
//!     scope: Scope::CrossBorder as i32,
//!     population: vec![
//!         PopulationFigure { group: PopulationGroup::Refugee as i32, count: 800, ..Default::default() },
//!         PopulationFigure { group: PopulationGroup::Migrant as i32, count: 200, ..Default::default() },
//!     ],
//!     ..Default::default()
//! };
//! let policy = Policy::default_v1();
//! let determination = determine(&policy, &[report], None, Timestamp::default());
//! assert_eq!(determination.classification(), Classification::RefugeeSituation);
//! assert_eq!(determination.lead_agencies, vec![Agency::Unhcr as i32]);
//! assert_eq!(determination.rationale[0].text,
//!     "Protection share 0.80 ≥ refugee threshold 0.80 (800 in UNHCR's mandate population, 200 migrants): refugee situation; UNHCR leads under the refugee coordination model.");
//! ```

mod engine;
mod fixed;
mod load;
pub(crate) mod names;
mod operations;
mod reconcile;
mod text;

pub use engine::{determine, same_outcome};
pub use load::{Policy, PolicyError, PolicyProblem};
pub use operations::{MAX_OPERATIONS, declares as declares_regional};
pub use reconcile::{Facts, Reconciled, Yield, reconcile};
