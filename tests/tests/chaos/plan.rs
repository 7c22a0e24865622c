//! The plan of a run, drawn from the seed: the reports (valid, invalid, undecodable, stale,
//! designating and revoking, on a thousand situations in ten countries), how they are published,
//! and the directory of focal points the notifications go to.

use super::*;

/// Countries of the situations, with their ISO2 (P-codes start with it).
pub(crate) const COUNTRIES: [(&str, &str); 10] = [
    ("COL", "CO"),
    ("PER", "PE"),
    ("ECU", "EC"),
    ("VEN", "VE"),
    ("BRA", "BR"),
    ("MEX", "MX"),
    ("LBY", "LY"),
    ("SDN", "SD"),
    ("BGD", "BD"),
    ("UKR", "UA"),
];

/// Reporting organisations as subject tokens.
pub(crate) const ORGS: [&str; 3] = ["iom", "unhcr", "partner.nrc"];

/// What a report is meant to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intent {
    /// A new revision from its organisation.
    Valid,
    /// A revision not newer than one its organisation sent before.
    Stale,
    /// Breaks a rule: rejected with this reason code.
    Invalid(&'static str),
    /// Not a protobuf message at all.
    Undecodable,
}

/// One report as published.
pub(crate) struct Planned {
    pub(crate) org: &'static str,
    pub(crate) report_id: String,
    pub(crate) situation: String,
    pub(crate) intent: Intent,
    pub(crate) payload: Bytes,
}

impl Planned {
    pub(crate) fn msg_id(&self) -> String {
        format!("{}:{}", self.org, self.report_id)
    }
}

/// What stays the same across a situation's reports, and its rough figures.
pub(crate) struct SituationPlan {
    pub(crate) id: String,
    pub(crate) country: usize,
    pub(crate) scope: Scope,
    pub(crate) driver: Driver,
    pub(crate) phase: Phase,
    pub(crate) on_the_move: bool,
    pub(crate) refugees: u64,
    pub(crate) migrants: u64,
    pub(crate) idps: u64,
    /// IOM reports refugees too, sometimes far from UNHCR's figure: discrepancies.
    pub(crate) discrepant: bool,
    /// The last revision sent by each organisation of [`ORGS`].
    pub(crate) sent: [u32; 3],
}

/// Draws `count` reports on `count / 10` situations: about 92% new revisions, 4% stale
/// revisions, 3.5% invalid ones of four kinds and 0.5% undecodable bytes, from IOM, UNHCR and
/// a partner, with figures that keep most situations' classification but move some across the
/// thresholds, small counts for the disclosure rule, and discrepancies on some situations.
///
/// About ten reports per situation over the window: with many more, a situation whose report
/// was in a killed leadership instance falls behind for good while the window lasts (each
/// later report waits for its predecessor and is retried up to `ack_wait` apart, one step per
/// retry, while new ones keep coming), and the drain after the chaos takes most of a minute.
pub(crate) fn plan_reports(count: usize, rng: &mut StdRng) -> Vec<Planned> {
    let mut situations: Vec<SituationPlan> = (0..(count / 10).max(1))
        .map(|index| {
            let kind = rng.random_range(0..100);
            let (scope, refugees, migrants, idps) = match kind {
                0..35 => (
                    Scope::CrossBorder,
                    rng.random_range(50_000..500_000),
                    rng.random_range(1_000..50_000),
                    0,
                ),
                35..70 => (
                    Scope::CrossBorder,
                    rng.random_range(1_000..50_000),
                    rng.random_range(50_000..500_000),
                    0,
                ),
                70..90 => {
                    let both = rng.random_range(20_000..200_000);
                    (
                        Scope::CrossBorder,
                        both,
                        both * rng.random_range(5..20) / 10,
                        0,
                    )
                }
                _ => (Scope::Internal, 0, 0, rng.random_range(10_000..1_000_000)),
            };
            SituationPlan {
                id: format!("CHAOS-{index:05}"),
                country: rng.random_range(0..COUNTRIES.len()),
                scope,
                driver: [
                    Driver::Conflict,
                    Driver::Disaster,
                    Driver::Economic,
                    Driver::Mixed,
                ][rng.random_range(0..4)],
                phase: [Phase::Emergency, Phase::Protracted, Phase::Solutions]
                    [rng.random_range(0..3)],
                on_the_move: rng.random_bool(0.5),
                refugees,
                migrants,
                idps,
                discrepant: rng.random_bool(0.15),
                sent: [0; 3],
            }
        })
        .collect();
    // Reported times: one per report, 10 ms apart in publication order, ending a minute ago.
    let start =
        SystemTime::now() - Duration::from_secs(60) - Duration::from_millis(10 * count as u64);
    (0..count)
        .map(|index| {
            let situation = rng.random_range(0..situations.len());
            let plan = &mut situations[situation];
            let org_index = match rng.random_range(0..10) {
                0..4 => 0,
                4..8 => 1,
                _ => 2,
            };
            let org = ORGS[org_index];
            let report_id = format!("chaos-{index}");
            let roll = rng.random_range(0..1000);
            let intent = match roll {
                0..5 => Intent::Undecodable,
                5..14 => Intent::Invalid("REQUIRED"),
                14..23 => Intent::Invalid("UNKNOWN_CODE"),
                23..31 => Intent::Invalid("PERSONAL_DATA"),
                31..40 => Intent::Invalid("DUPLICATE_GROUP"),
                40..80 if plan.sent[org_index] > 1 => Intent::Stale,
                _ => Intent::Valid,
            };
            if intent == Intent::Undecodable {
                // Field 1 with wire type 7, which does not exist: no decoder accepts it.
                let mut bytes = vec![0x0f, 0xff];
                bytes.extend_from_slice(&(index as u64).to_le_bytes());
                return Planned {
                    org,
                    report_id,
                    situation: plan.id.clone(),
                    intent,
                    payload: bytes.into(),
                };
            }
            let revision = match intent {
                Intent::Valid => {
                    plan.sent[org_index] += 1;
                    plan.sent[org_index]
                }
                Intent::Stale => rng.random_range(1..=plan.sent[org_index]),
                Intent::Invalid("REQUIRED") => 0,
                // A rule broken elsewhere: the revision would be new, but is not used up.
                _ => plan.sent[org_index] + 1,
            };
            if rng.random_bool(0.05) {
                plan.on_the_move = !plan.on_the_move;
            }
            let (country, iso2) = COUNTRIES[plan.country];
            let reported_at =
                timestamp::from_system_time(start + Duration::from_millis(10 * index as u64));
            let mut report = SituationReport {
                report_id: report_id.clone(),
                situation_id: plan.id.clone(),
                revision,
                reporting_agency: match org {
                    "iom" => Agency::Iom,
                    "unhcr" => Agency::Unhcr,
                    _ => Agency::Partner,
                } as i32,
                reporter_org: if org_index == 2 {
                    "nrc".into()
                } else {
                    String::new()
                },
                reported_at: Some(reported_at),
                country: country.into(),
                scope: plan.scope as i32,
                driver: plan.driver as i32,
                phase: plan.phase as i32,
                on_the_move: plan.on_the_move,
                population: figures(plan, org_index, rng),
                ..Default::default()
            };
            if rng.random_bool(0.5) {
                let admin1 = format!("{iso2}{:02}", rng.random_range(1..30));
                if rng.random_bool(0.5) {
                    report.admin2_pcode = format!("{admin1}{:03}", rng.random_range(1..200));
                }
                report.admin1_pcode = admin1;
            }
            // Only IOM and UNHCR record designations, each with its reference, and revoke them;
            // a designation stays in force through the reports between.
            if report.reporting_agency != Agency::Partner as i32 {
                if rng.random_bool(0.02) {
                    report.designated_leads = [
                        vec![Agency::Unhcr as i32],
                        vec![Agency::Iom as i32],
                        vec![Agency::Iom as i32, Agency::Unhcr as i32],
                    ][rng.random_range(0..3)]
                    .clone();
                    report.designation_reference = "SG decision of 12 April 2018".into();
                } else if rng.random_bool(0.03) {
                    report.revoke_designation = true;
                }
            }
            match intent {
                Intent::Invalid("UNKNOWN_CODE") => report.country = "QQQ".into(),
                Intent::Invalid("PERSONAL_DATA") => {
                    report.notes = "call the focal point: jane.doe@example.org".into();
                }
                Intent::Invalid("DUPLICATE_GROUP") => {
                    let first = report.population[0].clone();
                    report.population.push(first);
                }
                _ => {}
            }
            Planned {
                org,
                report_id,
                situation: plan.id.clone(),
                intent,
                payload: report.encode_to_vec().into(),
            }
        })
        .collect()
}

/// The figures organisation `org_index` reports on `plan`: each within 20% of the situation's.
pub(crate) fn figures(
    plan: &SituationPlan,
    org_index: usize,
    rng: &mut StdRng,
) -> Vec<PopulationFigure> {
    let mut vary = |count: u64| count * rng.random_range(80..=120) / 100;
    let mut groups: Vec<(PopulationGroup, u64)> = Vec::new();
    match org_index {
        0 => {
            if plan.scope == Scope::Internal {
                groups.push((PopulationGroup::Idp, vary(plan.idps)));
            } else {
                groups.push((PopulationGroup::Migrant, vary(plan.migrants)));
            }
            if plan.discrepant {
                groups.push((PopulationGroup::Refugee, vary(plan.refugees * 7 / 10)));
            }
        }
        1 => {
            if plan.scope == Scope::Internal {
                groups.push((PopulationGroup::Idp, vary(plan.idps * 9 / 10)));
            } else {
                groups.push((PopulationGroup::Refugee, vary(plan.refugees)));
                groups.push((PopulationGroup::AsylumSeeker, vary(plan.refugees / 10)));
            }
        }
        _ => {
            // Small counts, published as `*` and left out of totals.
            groups.push((PopulationGroup::HostCommunity, rng.random_range(1..2_000)));
            groups.push((PopulationGroup::ReturnedRefugee, rng.random_range(1..12)));
            if rng.random_bool(0.3) {
                groups.push((PopulationGroup::Stateless, rng.random_range(1..6)));
            }
        }
    }
    groups
        .into_iter()
        .map(|(group, count)| PopulationFigure {
            group: group as i32,
            count,
            as_of: "2025-06-01".into(),
            source: String::new(),
            ..Default::default()
        })
        .collect()
}

/// Publishes every report on its organisation's intake subject, paced evenly over `window`,
/// in pipelined batches (all of a batch sent, then its acks awaited). A publish that is not
/// acknowledged (the server is being restarted) is sent again with the same `Nats-Msg-Id`, so
/// the stream stores each report once whatever got through before. Returns how many sends
/// were retried.
pub(crate) async fn publish_reports(
    js: jetstream::Context,
    reports: Arc<Vec<Planned>>,
    window: Duration,
) -> u64 {
    pub(crate) const BATCH: usize = 100;
    let started = tokio::time::Instant::now();
    let batches = reports.len().div_ceil(BATCH);
    let mut retried = 0;
    for (number, batch) in reports.chunks(BATCH).enumerate() {
        // The offered load: batch `number` is due at its share of the window.
        tokio::time::sleep_until(started + window.mul_f64(number as f64 / batches as f64)).await;
        let mut unacked: Vec<&Planned> = batch.iter().collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut last_error = String::new();
        while !unacked.is_empty() {
            let mut acks = Vec::new();
            let mut failed = Vec::new();
            for report in unacked {
                let mut headers = HeaderMap::new();
                headers.insert(envelope::MSG_ID, report.msg_id().as_str());
                let message = PublishMessage::build()
                    .headers(headers)
                    .payload(report.payload.clone());
                match js
                    .send_publish(topology::intake_subject(report.org), message)
                    .await
                {
                    Ok(ack) => acks.push((report, ack)),
                    Err(error) => {
                        last_error = error.to_string();
                        failed.push(report);
                    }
                }
            }
            // Awaited together: an ack future's timeout starts when it is first polled, so
            // awaiting a batch whose acks were lost one by one would take 5 s per report.
            let (sent, acks): (Vec<&Planned>, Vec<_>) = acks.into_iter().unzip();
            for (report, result) in sent.into_iter().zip(
                futures::future::join_all(
                    acks.into_iter().map(std::future::IntoFuture::into_future),
                )
                .await,
            ) {
                if let Err(error) = result {
                    last_error = error.to_string();
                    failed.push(report);
                }
            }
            assert!(
                failed.is_empty() || tokio::time::Instant::now() < deadline,
                "{} reports could not be stored within 60 s, e.g. {} ({last_error}; connection {:?})",
                failed.len(),
                failed[0].msg_id(),
                js.client().connection_state()
            );
            if !failed.is_empty() {
                retried += failed.len() as u64;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            unacked = failed;
        }
    }
    retried
}

/// Focal points, NATS channel only. Every fall-back is exercised: two country coordinators
/// for one country, countries with only a regional coordinator, countries with only HQ.
pub(crate) const DIRECTORY: &str = r#"[
  {"id": "iom-cc-col", "name": "Chaos IOM Colombia", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "iom-cc-per-lby", "name": "Chaos IOM Peru and Libya", "agency": "iom", "role": "COUNTRY_COORDINATOR", "countries": ["PER", "LBY"], "channels": [{"nats": {}}]},
  {"id": "iom-data-americas", "name": "Chaos IOM data Americas", "agency": "iom", "role": "DATA_FOCAL_POINT", "countries": ["COL", "VEN", "PER", "ECU", "BRA", "MEX"], "channels": [{"nats": {}}]},
  {"id": "iom-regional-bgd-sdn", "name": "Chaos IOM regional", "agency": "iom", "role": "REGIONAL_COORDINATOR", "countries": ["BGD", "SDN"], "channels": [{"nats": {}}]},
  {"id": "iom-hq", "name": "Chaos IOM HQ", "agency": "iom", "role": "HQ", "countries": [], "channels": [{"nats": {}}]},
  {"id": "unhcr-cc-col", "name": "Chaos UNHCR Colombia", "agency": "unhcr", "role": "COUNTRY_COORDINATOR", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "unhcr-cc-col-ven", "name": "Chaos UNHCR Colombia and Venezuela", "agency": "unhcr", "role": "COUNTRY_COORDINATOR", "countries": ["COL", "VEN"], "channels": [{"nats": {}}]},
  {"id": "unhcr-cc-ukr", "name": "Chaos UNHCR Ukraine", "agency": "unhcr", "role": "COUNTRY_COORDINATOR", "countries": ["UKR"], "channels": [{"nats": {}}]},
  {"id": "unhcr-data-col", "name": "Chaos UNHCR data Colombia", "agency": "unhcr", "role": "DATA_FOCAL_POINT", "countries": ["COL"], "channels": [{"nats": {}}]},
  {"id": "unhcr-regional-americas", "name": "Chaos UNHCR regional Americas", "agency": "unhcr", "role": "REGIONAL_COORDINATOR", "countries": ["ECU", "PER", "BRA", "MEX"], "channels": [{"nats": {}}]},
  {"id": "unhcr-hq", "name": "Chaos UNHCR HQ", "agency": "unhcr", "role": "HQ", "countries": [], "channels": [{"nats": {}}]}
]"#;

/// One focal point as this test reads the directory (not through notify's types).
pub(crate) struct FocalPoint {
    pub(crate) id: String,
    pub(crate) agency: String,
    pub(crate) role: String,
    pub(crate) countries: Vec<String>,
}

pub(crate) fn focal_points() -> Vec<FocalPoint> {
    let entries: Vec<Value> = serde_json::from_str(DIRECTORY).expect("directory JSON");
    entries
        .iter()
        .map(|entry| FocalPoint {
            id: entry["id"].as_str().unwrap_or_default().into(),
            agency: entry["agency"].as_str().unwrap_or_default().into(),
            role: entry["role"].as_str().unwrap_or_default().into(),
            countries: entry["countries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(String::from))
                .collect(),
        })
        .collect()
}

/// Who of `agency` is told something addressed to `role` in `country` (docs/design.md,
/// "Notifications": missing a focal point for a country falls back to the regional
/// coordinator, then HQ; an empty country list covers every country).
pub(crate) fn expected_recipients<'a>(
    directory: &'a [FocalPoint],
    agency: &str,
    role: &str,
    country: &str,
) -> Vec<&'a str> {
    for candidate in [role, "REGIONAL_COORDINATOR", "HQ"] {
        let found: Vec<&str> = directory
            .iter()
            .filter(|p| {
                p.agency == agency
                    && p.role == candidate
                    && (p.countries.is_empty() || p.countries.iter().any(|c| c == country))
            })
            .map(|p| p.id.as_str())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}
