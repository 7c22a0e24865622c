//! The invariants of the module doc of `main.rs`, checked against what the streams and the
//! data API hold after the run.

use super::*;

impl Check {
    /// For situations with accepted reports that no determination step reflects, what the
    /// server holds under leadership's record, read three ways: a KV get (direct get), the
    /// stream's last message of the key's subject, and the key's whole history through a
    /// consumer. Tells a record the server lost from one it cannot find.
    pub(crate) async fn diagnose_unreflected(&mut self, js: &jetstream::Context) {
        let situations: BTreeSet<String> = self
            .violations
            .iter()
            .filter(|v| v.contains("has no determination step"))
            .filter_map(|v| v.split(':').next().map(str::to_string))
            .take(5)
            .collect();
        if situations.is_empty() {
            return;
        }
        let bucket = topology::LEADERSHIP_BUCKET;
        let (Ok(kv), Ok(stream)) = (
            js.get_key_value(bucket).await,
            js.get_stream(format!("KV_{bucket}")).await,
        ) else {
            return;
        };
        for situation in situations {
            let key = tandem_leadership::situations::record_key(&situation);
            let get = match kv.entry(&key).await {
                Ok(Some(entry)) => format!("revision {}", entry.revision),
                Ok(None) => "none".to_string(),
                Err(error) => format!("error {error}"),
            };
            let last = match stream
                .get_last_raw_message_by_subject(&format!("$KV.{bucket}.{key}"))
                .await
            {
                Ok(message) => format!("sequence {}", message.sequence),
                Err(error) => format!("error {error}"),
            };
            // Every message of the key, not only the last: a consumer delivering all of them.
            let history = tokio::time::timeout(Duration::from_secs(10), async {
                match kv.history(&key).await {
                    Ok(entries) => {
                        let revisions: Vec<u64> = entries
                            .filter_map(|entry| async move { entry.ok().map(|e| e.revision) })
                            .collect()
                            .await;
                        format!("{revisions:?}")
                    }
                    Err(error) => format!("error {error}"),
                }
            })
            .await
            .unwrap_or_else(|_| "no answer within 10 s".to_string());
            // First, so that the panic message, which shows the first 40, holds them.
            self.violations.insert(
                0,
                format!(
                "diagnosis {situation}: leadership's record by KV get: {get}; by last message of \
                 its subject: {last}; its history: {history}"
            ),
            );
        }
    }
}

/// Violations found, and the loss and duplication counts of the summary.
#[derive(Default)]
pub(crate) struct Check {
    pub(crate) violations: Vec<String>,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
}

/// An accepted report, as announced.
pub(crate) struct Acceptance {
    pub(crate) event_sequence: u64,
    pub(crate) situation_sequence: u64,
    pub(crate) report: SituationReport,
}

/// What invariant 1 established.
#[derive(Default)]
pub(crate) struct Outcomes {
    /// Every acceptance, per situation.
    pub(crate) accepted: Vec<Acceptance>,
    pub(crate) rejected: usize,
    pub(crate) rejected_as_meant: usize,
    pub(crate) stale: usize,
    pub(crate) reordered: usize,
}

/// What invariant 2 established.
#[derive(Default)]
pub(crate) struct Steps {
    /// Determinations per situation, by sequence.
    pub(crate) by_situation: BTreeMap<String, BTreeMap<u64, LeadershipDetermination>>,
    pub(crate) count: usize,
    pub(crate) situations: usize,
    /// The stream sequence of the last determination: the dataset must have applied it.
    pub(crate) last_event_sequence: u64,
    /// Per situation, what this test's reading of the policy gives for each accepted report,
    /// by situation sequence.
    pub(crate) modelled: BTreeMap<String, BTreeMap<u64, Modelled>>,
}

/// How often the modelled steps met the policy's rules that depend on earlier reports or on
/// who reported: for the summary, and to tell a run that never exercised them.
#[derive(Debug, Default)]
pub(crate) struct PolicyCases {
    /// Steps with a designation in force.
    pub(crate) under: usize,
    /// Steps whose designation was in force at the previous step and stayed.
    pub(crate) carried: usize,
    /// Steps that ended a designation in force.
    pub(crate) revoked: usize,
    /// Steps without any IOM or UNHCR report, so without scope.
    pub(crate) partner_only: usize,
}

impl Steps {
    pub(crate) fn policy_cases(&self) -> PolicyCases {
        let mut cases = PolicyCases::default();
        for modelled in self.modelled.values() {
            let mut before: Option<&Modelled> = None;
            for step in modelled.values() {
                let was = before.and_then(|b| b.designation.as_ref());
                cases.under += usize::from(step.designation.is_some());
                cases.carried += usize::from(was.is_some() && was == step.designation.as_ref());
                cases.revoked += usize::from(was.is_some() && step.designation.is_none());
                cases.partner_only += usize::from(!step.facts_known);
                before = Some(step);
            }
        }
        cases
    }
}

/// What invariant 3 counted.
#[derive(Default)]
pub(crate) struct Notified {
    pub(crate) delivered: usize,
    pub(crate) changed: usize,
    pub(crate) discrepancy: usize,
}

/// (agency, partner name, report id, revision): how a determination names a report.
pub(crate) type ReportKey = (i32, String, String, u32);

pub(crate) fn report_key(report: &SituationReport) -> ReportKey {
    (
        report.reporting_agency,
        report.reporter_org.clone(),
        report.report_id.clone(),
        report.revision,
    )
}

impl Check {
    pub(crate) fn violation(&mut self, text: String) {
        self.violations.push(text);
    }

    /// Invariant 1: every stored report has exactly one outcome, the one it was meant to get.
    pub(crate) fn one_outcome_per_report(
        &mut self,
        reports: &[Planned],
        intake: &[jetstream::Message],
        events: &[jetstream::Message],
    ) -> Outcomes {
        let planned: HashMap<String, usize> = reports
            .iter()
            .enumerate()
            .map(|(index, report)| (report.msg_id(), index))
            .collect();
        // Intake's outcome id of each stored message → planned report.
        let mut stored: HashMap<String, usize> = HashMap::new();
        let mut times_stored = vec![0u32; reports.len()];
        for message in intake {
            let id = envelope::header(message.headers.as_ref(), envelope::MSG_ID).unwrap_or("");
            let outcome_id = message
                .info()
                .map(|i| topology::intake_outcome_id(i.stream, i.stream_sequence))
                .unwrap_or_default();
            match planned.get(id) {
                Some(index) => {
                    stored.insert(outcome_id, *index);
                    times_stored[*index] += 1;
                }
                None => self.violation(format!(
                    "an intake stream holds a report nobody sent: {id:?}"
                )),
            }
        }
        for (index, times) in times_stored.iter().enumerate() {
            if *times != 1 {
                self.violation(format!(
                    "report {} is stored {times} times in its intake stream",
                    reports[index].msg_id()
                ));
                if *times == 0 {
                    self.lost += 1;
                } else {
                    self.duplicated += u64::from(times - 1);
                }
            }
        }

        let mut outcomes = Outcomes::default();
        let mut answers: Vec<Vec<Result<u64, SituationRejected>>> = vec![Vec::new(); reports.len()];
        let mut accepted_by_report: HashMap<usize, Acceptance> = HashMap::new();
        for message in events {
            let accepted = message.subject.starts_with("tandem.situation.accepted.");
            let rejected = message.subject.starts_with("tandem.situation.rejected.");
            if !accepted && !rejected {
                continue;
            }
            let id = envelope::header(message.headers.as_ref(), envelope::MSG_ID).unwrap_or("");
            let Some(index) = stored.get(id).copied() else {
                self.violation(format!(
                    "an outcome names no stored report: {id:?} on {}",
                    message.subject
                ));
                continue;
            };
            let report = &reports[index];
            let event_sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            if accepted {
                let Ok(event) = SituationAccepted::decode(message.payload.clone()) else {
                    self.violation(format!(
                        "undecodable SituationAccepted for {}",
                        report.msg_id()
                    ));
                    continue;
                };
                let announced = event.report.unwrap_or_default();
                if announced.report_id != report.report_id
                    || announced.situation_id != report.situation
                {
                    self.violation(format!(
                        "the acceptance of {} carries report {} of {}",
                        report.msg_id(),
                        announced.report_id,
                        announced.situation_id
                    ));
                }
                answers[index].push(Ok(event_sequence));
                accepted_by_report.insert(
                    index,
                    Acceptance {
                        event_sequence,
                        situation_sequence: event.situation_sequence,
                        report: announced,
                    },
                );
            } else {
                let Ok(event) = SituationRejected::decode(message.payload.clone()) else {
                    self.violation(format!(
                        "undecodable SituationRejected for {}",
                        report.msg_id()
                    ));
                    continue;
                };
                let expected_id = if report.intent == Intent::Undecodable {
                    ""
                } else {
                    report.report_id.as_str()
                };
                if event.report_id != expected_id {
                    self.violation(format!(
                        "the rejection of {} names report {:?}",
                        report.msg_id(),
                        event.report_id
                    ));
                }
                answers[index].push(Err(event));
            }
        }

        // Accepted revisions per (situation, organisation), to judge stale rejections.
        let mut newest_accepted: HashMap<(String, &str), u32> = HashMap::new();
        for (index, acceptance) in &accepted_by_report {
            let report = &reports[*index];
            let newest = newest_accepted
                .entry((report.situation.clone(), report.org))
                .or_default();
            *newest = (*newest).max(acceptance.report.revision);
        }
        for (index, report) in reports.iter().enumerate() {
            match answers[index].len() {
                0 => {
                    if times_stored[index] > 0 {
                        self.lost += 1;
                        self.violation(format!("report {} has no outcome", report.msg_id()));
                    }
                    continue;
                }
                1 => {}
                n => {
                    self.duplicated += n as u64 - 1;
                    self.violation(format!("report {} has {n} outcomes", report.msg_id()));
                }
            }
            match (&answers[index][0], report.intent) {
                (Ok(_), Intent::Valid | Intent::Stale) => {}
                (Ok(_), intent) => self.violation(format!(
                    "report {} was accepted though {intent:?}",
                    report.msg_id()
                )),
                (Err(rejection), intent) => {
                    outcomes.rejected += 1;
                    let codes: Vec<&str> =
                        rejection.reasons.iter().map(|r| r.code.as_str()).collect();
                    match intent {
                        Intent::Invalid(code) if codes.contains(&code) => {
                            outcomes.rejected_as_meant += 1
                        }
                        Intent::Undecodable if codes == ["UNDECODABLE"] => {
                            outcomes.rejected_as_meant += 1
                        }
                        Intent::Valid | Intent::Stale if codes == ["STALE_REVISION"] => {
                            outcomes.stale += 1;
                            if intent == Intent::Valid {
                                outcomes.reordered += 1;
                            }
                            // Stale only against an accepted revision at least as new.
                            let revision = SituationReport::decode(report.payload.clone())
                                .map(|r| r.revision)
                                .unwrap_or(0);
                            let newest = newest_accepted
                                .get(&(report.situation.clone(), report.org))
                                .copied()
                                .unwrap_or(0);
                            if newest < revision {
                                self.violation(format!(
                                    "report {} (revision {revision}) was rejected as stale, but the newest accepted revision of {} on {} is {newest}",
                                    report.msg_id(),
                                    report.org,
                                    report.situation
                                ));
                            }
                        }
                        intent => self.violation(format!(
                            "report {} ({intent:?}) was rejected with {codes:?}",
                            report.msg_id()
                        )),
                    }
                }
            }
        }
        outcomes.accepted = accepted_by_report.into_values().collect();
        outcomes.accepted.sort_by_key(|a| a.event_sequence);
        outcomes
    }

    /// Part of invariant 2: `determination` says what the policy, as this test reads it, gives.
    pub(crate) fn as_modelled(
        &mut self,
        situation: &str,
        determination: &LeadershipDetermination,
        model: &Modelled,
    ) {
        let found = Modelled {
            decided: Decided {
                classification: determination.classification(),
                arrangement: determination.arrangement(),
                leads: determination.lead_agencies.iter().copied().collect(),
            },
            changed: determination.changed,
            discrepancies: determination
                .discrepancies
                .iter()
                .map(|d| d.group)
                .collect(),
            country: determination.country.clone(),
            designation: determination
                .designation
                .as_ref()
                .map(|d| d.leads.iter().copied().collect()),
            // A determination does not say this; it is not compared.
            facts_known: model.facts_known,
        };
        if (
            &found.decided,
            found.changed,
            &found.discrepancies,
            &found.country,
            &found.designation,
        ) != (
            &model.decided,
            model.changed,
            &model.discrepancies,
            &model.country,
            &model.designation,
        ) {
            self.violation(format!(
                "{situation}: determination {} is {found:?}, the policy gives {model:?}",
                determination.sequence
            ));
        }
    }

    /// Invariant 2: per situation, acceptances are numbered 1..n and each is one determination
    /// step, resting on exactly the latest accepted revision of each organisation.
    pub(crate) fn one_step_per_acceptance(
        &mut self,
        outcomes: &Outcomes,
        events: &[jetstream::Message],
    ) -> Steps {
        let mut steps = Steps::default();
        let mut acceptances: BTreeMap<&str, BTreeMap<u64, &Acceptance>> = BTreeMap::new();
        for acceptance in &outcomes.accepted {
            let numbered = acceptances
                .entry(&acceptance.report.situation_id)
                .or_default();
            if numbered
                .insert(acceptance.situation_sequence, acceptance)
                .is_some()
            {
                self.duplicated += 1;
                self.violation(format!(
                    "two acceptances of {} carry number {}",
                    acceptance.report.situation_id, acceptance.situation_sequence
                ));
            }
        }
        let mut determinations: BTreeMap<String, BTreeMap<u64, LeadershipDetermination>> =
            BTreeMap::new();
        for message in events {
            if !message.subject.starts_with("tandem.leadership.determined.") {
                continue;
            }
            let Ok(determination) = LeadershipDetermination::decode(message.payload.clone()) else {
                self.violation(format!("undecodable determination on {}", message.subject));
                continue;
            };
            steps.count += 1;
            steps.last_event_sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            let situation = determination.situation_id.clone();
            let sequence = determination.sequence;
            if determinations
                .entry(situation.clone())
                .or_default()
                .insert(sequence, determination)
                .is_some()
            {
                self.duplicated += 1;
                self.violation(format!(
                    "situation {situation} has determination {sequence} twice"
                ));
            }
        }
        for (situation, numbered) in &acceptances {
            let count = numbered.len() as u64;
            if numbered.keys().copied().ne(1..=count) {
                self.violation(format!(
                    "the acceptances of {situation} are numbered {:?}, not 1..={count}",
                    numbered.keys().collect::<Vec<_>>()
                ));
            }
            let mut revisions: HashMap<(i32, &str), u32> = HashMap::new();
            let mut latest: BTreeMap<(i32, &str), ReportKey> = BTreeMap::new();
            // Each organisation's latest accepted revision, with the number of its acceptance.
            let mut held: BTreeMap<(i32, &str), (u64, &SituationReport)> = BTreeMap::new();
            let mut modelled: BTreeMap<u64, Modelled> = BTreeMap::new();
            let steps_of = determinations.get(*situation);
            for (number, acceptance) in numbered {
                let report = &acceptance.report;
                let org = (report.reporting_agency, report.reporter_org.as_str());
                if let Some(before) = revisions.insert(org, report.revision)
                    && before >= report.revision
                {
                    self.violation(format!(
                        "{situation}: revision {} of {org:?} accepted as number {number} after revision {before}",
                        report.revision
                    ));
                }
                latest.insert(org, report_key(report));
                held.insert(org, (*number, report));
                let mut in_order: Vec<(u64, &SituationReport)> = held.values().copied().collect();
                in_order.sort_by_key(|(number, _)| *number);
                let in_order: Vec<&SituationReport> =
                    in_order.into_iter().map(|(_, r)| r).collect();
                let model = model_step(&in_order, modelled.values().next_back());
                let determination = steps_of.and_then(|s| s.get(number));
                if let Some(determination) = determination {
                    self.as_modelled(situation, determination, &model);
                }
                modelled.insert(*number, model);
                let Some(determination) = determination else {
                    self.lost += 1;
                    self.violation(format!(
                        "{situation}: accepted report {} (number {number}) has no determination step {number}",
                        report.report_id
                    ));
                    continue;
                };
                let expected: BTreeSet<&ReportKey> = latest.values().collect();
                let based_on: Vec<ReportKey> = determination
                    .based_on
                    .iter()
                    .map(|r| {
                        (
                            r.reporting_agency,
                            r.reporter_org.clone(),
                            r.report_id.clone(),
                            r.revision,
                        )
                    })
                    .collect();
                if based_on.iter().collect::<BTreeSet<_>>() != expected
                    || based_on.len() != expected.len()
                {
                    self.violation(format!(
                        "{situation}: determination {number} rests on {based_on:?}, expected {expected:?}"
                    ));
                }
            }
            steps.modelled.insert(situation.to_string(), modelled);
            if let Some(steps_of) = steps_of
                && let Some(extra) = steps_of.keys().find(|n| !numbered.contains_key(n))
            {
                self.duplicated += 1;
                self.violation(format!(
                    "{situation}: determination {extra} reflects no accepted report ({} accepted)",
                    numbered.len()
                ));
            }
        }
        for situation in determinations.keys() {
            if !acceptances.contains_key(situation.as_str()) {
                self.violation(format!(
                    "determinations of {situation}, which has no accepted report"
                ));
            }
        }
        steps.situations = determinations.len();
        steps.by_situation = determinations;
        steps
    }

    /// Invariant 3: every notification docs/design.md's rules call for was delivered once, over
    /// NATS, and nothing else was.
    pub(crate) fn notified_once(
        &mut self,
        steps: &Steps,
        notify: &[jetstream::Message],
    ) -> Notified {
        let directory = focal_points();
        // (determination id, kind, agency, recipient) → how often expected (always 1).
        let mut expected: BTreeSet<(String, i32, String, String)> = BTreeSet::new();
        // Determination id → its discrepancy groups and its predecessor's, for messages.
        let mut history: HashMap<String, String> = HashMap::new();
        for (situation, modelled) in &steps.modelled {
            let mut groups_before: BTreeSet<i32> = BTreeSet::new();
            for (sequence, step) in modelled {
                // docs/design.md: a determination's id is `<situation_id>/<sequence>`.
                let determination_id = format!("{situation}/{sequence}");
                let groups = &step.discrepancies;
                let fresh = groups.difference(&groups_before).next().is_some();
                history.insert(
                    determination_id.clone(),
                    format!("discrepancy groups {groups_before:?} before, {groups:?} here"),
                );
                for agency in ["iom", "unhcr"] {
                    let mut tell = |role: &str, kind: NotificationKind| {
                        for recipient in
                            expected_recipients(&directory, agency, role, &step.country)
                        {
                            expected.insert((
                                determination_id.clone(),
                                kind as i32,
                                agency.to_string(),
                                recipient.to_string(),
                            ));
                        }
                    };
                    if step.changed {
                        tell(
                            "COUNTRY_COORDINATOR",
                            NotificationKind::DeterminationChanged,
                        );
                    }
                    if fresh {
                        tell("DATA_FOCAL_POINT", NotificationKind::Discrepancy);
                    }
                }
                groups_before = groups.clone();
            }
        }

        let mut notified = Notified::default();
        let mut seen: BTreeMap<(String, i32, String, String), Vec<String>> = BTreeMap::new();
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut delivered: BTreeMap<(String, i32), usize> = BTreeMap::new();
        for message in notify {
            if let Some(rest) = message.subject.strip_prefix("tandem.notify.out.") {
                let Ok(notification) = Notification::decode(message.payload.clone()) else {
                    self.violation(format!("undecodable notification on {}", message.subject));
                    continue;
                };
                let agency = match notification.recipient_agency() {
                    Agency::Iom => "iom",
                    Agency::Unhcr => "unhcr",
                    _ => "?",
                };
                if rest != format!("{agency}.{}", notification.recipient_id) {
                    self.violation(format!(
                        "notification {} for {agency}/{} was sent on {}",
                        notification.notification_id, notification.recipient_id, message.subject
                    ));
                }
                if notification.escalation_tier > 0 {
                    self.violation(format!(
                        "notification {} is an escalation, and nothing here waits for one",
                        notification.notification_id
                    ));
                }
                *ids.entry(notification.notification_id.clone()).or_default() += 1;
                seen.entry((
                    notification.determination_id.clone(),
                    notification.kind,
                    agency.to_string(),
                    notification.recipient_id.clone(),
                ))
                .or_default()
                .push(notification.notification_id);
            } else if message.subject.starts_with("tandem.notify.status.") {
                let Ok(status) = NotificationStatus::decode(message.payload.clone()) else {
                    self.violation(format!("undecodable status on {}", message.subject));
                    continue;
                };
                if status.state() == NotificationState::Delivered {
                    *delivered
                        .entry((status.notification_id.clone(), status.channel))
                        .or_default() += 1;
                } else {
                    self.violation(format!(
                        "notification {} has status {:?} on {:?}: {}",
                        status.notification_id,
                        status.state(),
                        status.channel(),
                        status.reason
                    ));
                }
            }
        }
        let describe =
            |(determination, kind, agency, recipient): &(String, i32, String, String)| {
                let kind = NotificationKind::try_from(*kind)
                    .unwrap_or(NotificationKind::Unspecified)
                    .as_str_name()
                    .trim_start_matches("NOTIFICATION_KIND_");
                let context = history.get(determination).map_or("", String::as_str);
                format!(
                    "{kind} of determination {determination} to {agency}/{recipient} ({context})"
                )
            };
        for (key, notifications) in &seen {
            if notifications.len() > 1 {
                self.duplicated += notifications.len() as u64 - 1;
                self.violation(format!(
                    "{} was notified {} times",
                    describe(key),
                    notifications.len()
                ));
            }
            if !expected.contains(key) {
                self.duplicated += 1;
                self.violation(format!(
                    "{} was notified, and the rules call for no such notification",
                    describe(key)
                ));
            }
        }
        for key in &expected {
            if !seen.contains_key(key) {
                self.lost += 1;
                self.violation(format!("{} was never notified", describe(key)));
            }
        }
        let keys_of: HashMap<&str, &(String, i32, String, String)> = seen
            .iter()
            .flat_map(|(key, ids)| ids.iter().map(move |id| (id.as_str(), key)))
            .collect();
        for (id, times) in &ids {
            let statuses = delivered
                .get(&(id.clone(), tandem_proto::v1::Channel::Nats as i32))
                .copied()
                .unwrap_or(0);
            if *times != 1 || statuses != 1 {
                self.violation(format!(
                    "notification {id}, {}: published {times} times, {statuses} DELIVERED statuses over NATS",
                    keys_of.get(id.as_str()).map(|key| describe(key)).unwrap_or_default()
                ));
            }
        }
        for (id, _) in delivered.keys() {
            if !ids.contains_key(id) {
                self.violation(format!(
                    "notification {id} is DELIVERED but was never published"
                ));
            }
        }
        notified.delivered = seen.values().map(Vec::len).sum();
        notified.changed = seen
            .keys()
            .filter(|k| k.1 == NotificationKind::DeterminationChanged as i32)
            .count();
        notified.discrepancy = seen
            .keys()
            .filter(|k| k.1 == NotificationKind::Discrepancy as i32)
            .count();
        notified
    }

    /// Invariant 4: each publish instance serves exactly the rows computed here from the
    /// latest accepted revisions. Returns the number of rows.
    pub(crate) fn dataset_as_computed(
        &mut self,
        outcomes: &Outcomes,
        steps: &Steps,
        datasets: &[(String, Value)],
    ) -> usize {
        // The latest accepted revision of each organisation per situation, with the stream
        // sequence of its acceptance (publish breaks equal report times by it).
        let mut latest: BTreeMap<&str, BTreeMap<(i32, &str), &Acceptance>> = BTreeMap::new();
        for acceptance in &outcomes.accepted {
            let report = &acceptance.report;
            let slot = latest
                .entry(&report.situation_id)
                .or_default()
                .entry((report.reporting_agency, report.reporter_org.as_str()))
                .or_insert(acceptance);
            if slot.report.revision < report.revision {
                *slot = acceptance;
            }
        }
        let mut expected_rows: BTreeMap<String, Value> = BTreeMap::new();
        for (situation, reports) in &latest {
            let (Some(final_step), Some(model)) = (
                steps
                    .by_situation
                    .get(*situation)
                    .and_then(|d| d.values().next_back()),
                steps
                    .modelled
                    .get(*situation)
                    .and_then(|m| m.values().next_back()),
            ) else {
                continue; // Reported in invariant 2.
            };
            let mut in_order: Vec<&Acceptance> = reports.values().copied().collect();
            in_order.sort_by_key(|a| a.situation_sequence);
            let figures = reconciled_figures(in_order.iter().map(|a| &a.report));
            let final_figures: BTreeMap<i32, u64> = final_step
                .figures
                .iter()
                .map(|f| (f.group, f.count))
                .collect();
            let reconciled: BTreeMap<i32, u64> =
                figures.iter().map(|(g, c)| (*g as i32, *c)).collect();
            if final_figures != reconciled {
                self.violation(format!(
                    "{situation}: the final determination's figures {final_figures:?} are not the reconciled {figures:?}"
                ));
            }
            expected_rows.insert(
                situation.to_string(),
                expected_row(situation, reports, final_step, model, &figures),
            );
        }
        for (label, dataset) in datasets {
            let rows: BTreeMap<String, &Value> = dataset["situations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    (
                        row["situation_id"].as_str().unwrap_or_default().to_string(),
                        row,
                    )
                })
                .collect();
            for (situation, expected) in &expected_rows {
                match rows.get(situation) {
                    None => {
                        self.lost += 1;
                        self.violation(format!("{label}: the dataset has no row for {situation}"));
                    }
                    Some(row) if *row != expected => self.violation(format!(
                        "{label}: row {situation} is\n    {row}\n  computed from the reports:\n    {expected}"
                    )),
                    Some(_) => {}
                }
            }
            for situation in rows.keys().filter(|s| !expected_rows.contains_key(*s)) {
                self.violation(format!(
                    "{label}: the dataset has a row for {situation}, which has no accepted report"
                ));
            }
        }
        expected_rows.len()
    }

    /// Invariant 5: no durable consumer has anything pending or unacknowledged, and nothing
    /// was dead-lettered.
    pub(crate) fn nothing_in_flight(
        &mut self,
        consumers: &[(String, String, u64, usize)],
        dead_letters: &[jetstream::Message],
    ) {
        for (stream, consumer, pending, unacked) in consumers {
            if *pending != 0 || *unacked != 0 {
                self.violation(format!(
                    "consumer {consumer} on {stream}: {pending} pending, {unacked} unacknowledged"
                ));
            }
        }
        for expected in [
            "tandem-intake-iom",
            "tandem-intake-unhcr",
            "tandem-intake-partners",
            "tandem-leadership",
            "tandem-notify-iom",
            "tandem-notify-unhcr",
        ] {
            if !consumers.iter().any(|(_, name, _, _)| name == expected) {
                self.violation(format!("durable consumer {expected} does not exist"));
            }
        }
        for message in dead_letters {
            let letter =
                tandem_proto::v1::DeadLetter::decode(message.payload.clone()).unwrap_or_default();
            self.violation(format!(
                "dead letter on {} from {}: {} (after {} deliveries, {} #{})",
                message.subject,
                letter.service,
                letter.error,
                letter.deliveries,
                letter.stream,
                letter.stream_sequence
            ));
        }
    }
}
