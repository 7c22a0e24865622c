//! The publish service against a real nats-server: the HXL dataset, disclosure control in every
//! output, ETags, versions stored and announced, restarts, several instances and bad requests.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use tandem_proto::{
    timestamp,
    v1::{Agency, Discrepancy, PopulationGroup, RationaleEntry, ReportRef},
};
use tandem_publish::{chunks, client, dataset};
use tandem_runtime::topology;

const FAST: Duration = Duration::from_millis(300);

#[tokio::test]
async fn the_csv_has_an_hxl_row_and_one_row_per_situation_after_revisions_and_agencies() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;

    // COL-1: two IOM revisions, one UNHCR report, three determinations (one replayed, one
    // stale); COL-2: a partner report; PER-1 in another country.
    accept(&js, &report("iom-1", "COL-1", Agency::Iom, 1), "o1").await;
    determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 100)]),
    )
    .await;
    accept(&js, &report("unhcr-1", "COL-1", Agency::Unhcr, 1), "o2").await;
    // IOM's revision is accepted last: its P-codes are the situation's.
    let mut revised = report("iom-2", "COL-1", Agency::Iom, 2);
    revised.admin1_pcode = "CO08".into();
    revised.admin2_pcode = String::new();
    accept(&js, &revised, "o3").await;
    let latest = determination(
        "COL-1",
        3,
        &[
            (PopulationGroup::Migrant, 900),
            (PopulationGroup::Refugee, 600),
        ],
    );
    determine(&js, &latest).await;
    publish_determination(&js, &latest, "replayed-under-another-id").await;
    determine(
        &js,
        &determination("COL-1", 2, &[(PopulationGroup::Migrant, 7)]),
    )
    .await;
    accept(&js, &report("nrc-1", "COL-2", Agency::Partner, 1), "o4").await;
    determine(
        &js,
        &determination("COL-2", 1, &[(PopulationGroup::Idp, 50)]),
    )
    .await;
    let mut peru = determination("PER-1", 1, &[(PopulationGroup::Migrant, 10)]);
    peru.country = "PER".into();
    let last = determine(&js, &peru).await;
    publish.wait_applied(last).await;

    let csv = publish.body("/v1/situations.csv").await;
    let records = records(&csv);
    let headers: Vec<&str> = dataset::columns().iter().map(|c| c.name).collect();
    assert_eq!(records[0], headers);
    assert_eq!(records[1].len(), records[0].len());
    for tag in &records[1] {
        assert!(
            tag.starts_with('#') && tag.len() > 1,
            "untagged column: {tag:?}"
        );
    }
    let rows = &records[2..];
    assert_eq!(rows.len(), 3, "one row per situation: {csv}");
    let col1 = &rows[0];
    assert_eq!(cell(&records, col1, "situation_id"), "COL-1");
    assert_eq!(
        cell(&records, col1, "admin1_pcode"),
        "CO08",
        "the P-code of the report accepted last"
    );
    assert_eq!(cell(&records, col1, "admin2_pcode"), "");
    assert_eq!(
        cell(&records, col1, "migrants"),
        "900",
        "the newest determination"
    );
    assert_eq!(cell(&records, col1, "refugees"), "600");
    assert_eq!(cell(&records, col1, "idps"), "");
    assert_eq!(cell(&records, col1, "total"), "1500");
    assert_eq!(cell(&records, col1, "total_suppressed"), "false");
    assert_eq!(cell(&records, col1, "classification"), "mixed movement");
    assert_eq!(
        cell(&records, col1, "classification_code"),
        "CLASSIFICATION_MIXED_MOVEMENT"
    );
    assert_eq!(cell(&records, col1, "arrangement"), "joint platform");
    assert_eq!(
        cell(&records, col1, "arrangement_code"),
        "ARRANGEMENT_JOINT_PLATFORM"
    );
    assert_eq!(cell(&records, col1, "lead_agencies"), "IOM;UNHCR");
    assert_eq!(cell(&records, col1, "source_agencies"), "IOM;UNHCR");
    assert_eq!(cell(&records, col1, "last_reported"), "2026-01-01");
    assert_eq!(cell(&records, col1, "policy_version"), "foe-2019.1");
    assert_eq!(cell(&records, &rows[1], "source_agencies"), "PARTNER");
    assert_eq!(cell(&records, &rows[2], "country"), "PER");

    // The same rows as JSON, and filtered by country in both formats.
    let json = publish.json("/v1/situations").await;
    assert_eq!(json["count"], 3);
    assert_eq!(json["situations"][0]["situation_id"], "COL-1");
    assert_eq!(json["situations"][0]["migrants"], 900);
    assert_eq!(
        json["situations"][0]["source_agencies"],
        serde_json::json!(["IOM", "UNHCR"])
    );
    assert_eq!(json["situations"][0]["as_of"], "2026-01-01T00:00:03Z");
    let peru_csv = publish.body("/v1/situations.csv?country=per").await;
    assert_eq!(records_of(&peru_csv), vec!["PER-1"]);
    let colombia = publish.json("/v1/situations?country=COL").await;
    assert_eq!(colombia["count"], 2);
    let one = publish.json("/v1/situations/COL-2").await;
    assert_eq!(one["idps"], 50);
    publish.stop().await;
}

fn records_of(csv: &str) -> Vec<String> {
    records(csv)[2..].iter().map(|r| r[0].clone()).collect()
}

#[tokio::test]
async fn counts_of_one_to_four_are_suppressed_in_every_output_and_left_out_of_totals() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;

    accept(&js, &report("iom-1", "COL-9", Agency::Iom, 1), "o1").await;
    let figures = [
        (PopulationGroup::Refugee, 1),
        (PopulationGroup::AsylumSeeker, 4),
        (PopulationGroup::Migrant, 5),
        (PopulationGroup::Idp, 0),
    ];
    let last = determine(&js, &determination("COL-9", 1, &figures)).await;
    publish.wait_applied(last).await;

    let check_csv = |csv: &str| {
        let records = records(csv);
        let row = &records[2];
        assert_eq!(cell(&records, row, "refugees"), "*");
        assert_eq!(cell(&records, row, "asylum_seekers"), "*");
        assert_eq!(cell(&records, row, "migrants"), "5");
        assert_eq!(cell(&records, row, "idps"), "0");
        assert_eq!(cell(&records, row, "total"), "5");
        assert_eq!(cell(&records, row, "total_suppressed"), "true");
    };
    check_csv(&publish.body("/v1/situations.csv").await);
    for situation in [
        publish.json("/v1/situations").await["situations"][0].clone(),
        publish.json("/v1/situations/COL-9").await,
    ] {
        assert_eq!(situation["refugees"], "*");
        assert_eq!(situation["asylum_seekers"], "*");
        assert_eq!(situation["migrants"], 5);
        assert_eq!(situation["idps"], 0);
        assert_eq!(situation["total"], 5);
        assert_eq!(situation["total_suppressed"], true);
    }
    let announced = wait_announcements(&js, 1).await;
    let version = &announced[0].0;
    check_csv(&String::from_utf8(stored_version(&js, &version.object_key).await).expect("UTF-8"));
    check_csv(
        &publish
            .body(&format!("/v1/datasets/{}.csv", version.version))
            .await,
    );
    publish.stop().await;
}

#[tokio::test]
async fn notes_internal_ids_and_reporter_names_never_appear_in_any_output() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;

    let markers = [
        "plantednote",
        "plantedreportid",
        "plantedorg",
        "plantedsource",
        "plantedlocation",
        "plantedrationale",
    ];
    let mut planted = report("plantedreportid-1", "COL-7", Agency::Partner, 1);
    planted.reporter_org = "plantedorg".into();
    planted.notes = "plantednote: met the family near the bridge".into();
    planted.location_name = "plantedlocation".into();
    planted.population[0].source = "plantedsource".into();
    accept(&js, &planted, "o1").await;
    let mut determined = determination("COL-7", 1, &[(PopulationGroup::Migrant, 40)]);
    determined.figures[0].report_id = "plantedreportid-1".into();
    determined.based_on = vec![ReportRef {
        reporting_agency: Agency::Partner as i32,
        reporter_org: "plantedorg".into(),
        report_id: "plantedreportid-1".into(),
        revision: 1,
    }];
    determined.rationale = vec![RationaleEntry {
        rule_id: "plantedrationale".into(),
        clause: "plantedrationale".into(),
        text: "plantedrationale".into(),
        ..Default::default()
    }];
    determined.discrepancies = vec![Discrepancy {
        group: PopulationGroup::Migrant as i32,
        iom_count: 40,
        unhcr_count: 3,
        relative_difference: 0.9,
        new: true,
    }];
    let last = determine(&js, &determined).await;
    publish.wait_applied(last).await;
    let announced = wait_announcements(&js, 1).await;
    let version = &announced[0].0;

    let mut outputs = vec![
        publish.body("/v1/situations.csv").await,
        publish.body("/v1/situations.csv?country=COL").await,
        publish.body("/v1/situations").await,
        publish.body("/v1/situations/COL-7").await,
        publish.body("/v1/datasets").await,
        publish
            .body(&format!("/v1/datasets/{}.csv", version.version))
            .await,
        String::from_utf8(stored_version(&js, &version.object_key).await).expect("UTF-8"),
    ];
    outputs.extend(announced.iter().map(|(_, raw)| raw.clone()));
    for (index, output) in outputs.iter().enumerate() {
        let lower = output.to_lowercase();
        for marker in markers {
            assert!(
                !lower.contains(marker),
                "output {index} holds {marker}: {output}"
            );
        }
        assert!(
            !lower.contains("nrc"),
            "partners are published as PARTNER: {output}"
        );
    }
    assert!(outputs[3].contains("\"PARTNER\""));
    publish.stop().await;
}

#[tokio::test]
async fn etags_answer_304_until_the_data_changes() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let first = determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 10)]),
    )
    .await;
    publish.wait_applied(first).await;

    for path in [
        "/v1/situations.csv",
        "/v1/situations",
        "/v1/situations/COL-1",
    ] {
        let (status, headers, _) = publish.get(path).await;
        assert_eq!(status, StatusCode::OK);
        let etag = headers["etag"].to_str().expect("etag").to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert_eq!(headers["cache-control"], "public, no-cache");
        let (status, headers, body) = publish.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(body.is_empty());
        assert_eq!(headers["etag"].to_str().ok(), Some(etag.as_str()));
        let (status, _, _) = publish
            .get_with(path, &[("if-none-match", "\"stale\"")])
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    let (_, headers, _) = publish.get("/v1/situations.csv").await;
    let before = headers["etag"].to_str().expect("etag").to_string();
    let second = determine(
        &js,
        &determination("COL-1", 2, &[(PopulationGroup::Migrant, 20)]),
    )
    .await;
    publish.wait_applied(second).await;
    let (status, headers, _) = publish
        .get_with("/v1/situations.csv", &[("if-none-match", &before)])
        .await;
    assert_eq!(status, StatusCode::OK, "changed data is sent again");
    assert_ne!(headers["etag"].to_str().ok(), Some(before.as_str()));

    // A stored version is immutable: its ETag is its SHA-256.
    let announced = wait_announcements(&js, 1).await;
    let version = &announced[0].0;
    let path = format!("/v1/datasets/{}.csv", version.version);
    let (status, headers, _) = publish.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let etag = format!("\"{}\"", version.sha256);
    assert_eq!(headers["etag"].to_str().ok(), Some(etag.as_str()));
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap_or_default()
            .contains("immutable")
    );
    let (status, _, _) = publish.get_with(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    publish.stop().await;
}

#[tokio::test]
async fn a_version_is_stored_with_its_sha256_and_announced_once_per_change_window() {
    let (server, js) = server_with_events().await;
    let interval = Duration::from_millis(1500);
    let publish = Publish::start(&server, interval).await;

    // A burst of changes inside one window makes one version.
    let mut last = 0;
    for n in 1..=5 {
        let id = format!("COL-{n}");
        accept(
            &js,
            &report(&format!("r-{n}"), &id, Agency::Iom, 1),
            &format!("o{n}"),
        )
        .await;
        last = determine(
            &js,
            &determination(&id, 1, &[(PopulationGroup::Migrant, 100 * n)]),
        )
        .await;
    }
    let announced = wait_announcements(&js, 1).await;
    assert_eq!(announced.len(), 1, "{announced:?}");
    let first = &announced[0].0;
    assert_eq!(first.dataset, "situations");
    assert_eq!(
        first.version, last,
        "the version is the last change's stream sequence"
    );
    assert_eq!(first.rows, 5);
    let stored = stored_version(&js, &first.object_key).await;
    assert_eq!(dataset::sha256_hex(&stored), first.sha256);
    let current = publish.body("/v1/situations.csv").await;
    assert_eq!(
        stored,
        current.as_bytes(),
        "the version is the dataset as served"
    );
    let served = publish
        .body(&format!("/v1/datasets/{}.csv", first.version))
        .await;
    assert_eq!(served.as_bytes(), stored);
    let (_, raw) = &announced[0];
    assert!(
        raw.contains("ce-type: org.tandem.data.published.v1"),
        "{raw}"
    );
    assert!(raw.contains(&format!(
        "Nats-Msg-Id: dataset:situations:{last}:{}",
        first.sha256
    )));

    let versions = publish.json("/v1/datasets").await;
    assert_eq!(versions["versions"][0]["version"], first.version);
    assert_eq!(versions["versions"][0]["sha256"], first.sha256.as_str());

    // The next change opens the next window: a second version, no sooner than one interval.
    let next = determine(
        &js,
        &determination("COL-1", 2, &[(PopulationGroup::Migrant, 7)]),
    )
    .await;
    let announced = wait_announcements(&js, 2).await;
    assert_eq!(announced.len(), 2);
    let second = &announced[1].0;
    assert_eq!(second.version, next);
    let seconds = |d: &tandem_proto::v1::DatasetPublished| {
        d.published_at
            .as_ref()
            .and_then(timestamp::to_system_time)
            .expect("published_at")
    };
    let gap = seconds(second)
        .duration_since(seconds(first))
        .expect("in order");
    assert!(gap >= interval, "versions {gap:?} apart");
    let versions = publish.json("/v1/datasets").await;
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2));
    publish.stop().await;
}

#[tokio::test]
async fn storing_a_version_deletes_the_oldest_beyond_the_retention() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start_configured(&server, Duration::from_millis(200), |config| {
        config.versions_kept = 2;
    })
    .await;
    let mut announced = Vec::new();
    for n in 1..=3_u64 {
        let id = format!("KEEP-{n}");
        accept(&js, &report(&format!("k-{n}"), &id, Agency::Iom, 1), &id).await;
        determine(
            &js,
            &determination(&id, 1, &[(PopulationGroup::Migrant, 100 * n)]),
        )
        .await;
        announced = wait_announcements(&js, n as usize).await;
    }
    let versions: Vec<u64> = announced.iter().map(|(d, _)| d.version).collect();
    let listed = listed_versions(&publish).await;
    assert_eq!(listed, versions[1..], "the two newest are listed");
    let (status, _, _) = publish
        .get(&format!("/v1/datasets/{}.csv", versions[0]))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the oldest is no longer served"
    );
    let store = js
        .get_object_store(topology::DATA_OBJECT_STORE)
        .await
        .expect("object store");
    let oldest = store.info(&announced[0].0.object_key).await;
    assert!(
        oldest.as_ref().map_or(true, |info| info.deleted),
        "the oldest object is deleted: {oldest:?}"
    );
    for (kept, _) in &announced[1..] {
        let stored = stored_version(&js, &kept.object_key).await;
        assert_eq!(dataset::sha256_hex(&stored), kept.sha256);
    }
    publish.stop().await;
}

/// Situations enough for several chunks of the dataset's CSV.
const MANY: usize = 1_500;

fn many_id(n: usize) -> String {
    format!("MANY-{n:05}")
}

#[tokio::test]
async fn a_version_stores_only_the_chunk_that_changed_and_deletion_keeps_shared_chunks() {
    let (server, js) = server_with_events().await;
    // Stored before the service starts, so that its first version holds them all.
    for n in 0..MANY {
        determine(
            &js,
            &determination(&many_id(n), 1, &[(PopulationGroup::Idp, 100 + n as u64)]),
        )
        .await;
    }
    let publish = Publish::start_configured(&server, Duration::from_millis(200), |config| {
        config.versions_kept = 2;
    })
    .await;
    let first = wait_announcements(&js, 1).await.remove(0).0;
    assert_eq!(first.rows, MANY as u64);
    // The header rows, then a chunk ending after each row whose id ends one (and the rest).
    let ends = (0..MANY)
        .filter(|&n| chunks::ends_chunk(&many_id(n)))
        .count();
    let tail = usize::from(!chunks::ends_chunk(&many_id(MANY - 1)));
    let first_chunks = manifest(&js, &first.object_key).await;
    assert_eq!(first_chunks.len(), 1 + ends + tail);
    assert!(first_chunks.len() >= 3, "{first_chunks:?}");
    let stored_chunks = || async {
        let store = js
            .get_object_store(topology::DATA_OBJECT_STORE)
            .await
            .expect("object store");
        let mut names = Vec::new();
        let mut list = store.list().await.expect("list");
        while let Some(info) = futures::StreamExt::next(&mut list).await {
            let info = info.expect("object info");
            if info.name.starts_with("situations/chunks/") && !info.deleted {
                names.push(info.name);
            }
        }
        names.sort();
        names
    };
    assert_eq!(stored_chunks().await.len(), first_chunks.len());

    // One situation changes at a time, the first one and then the last: each version lists
    // the same chunks but that situation's, and stores that one alone.
    let mut versions = vec![first];
    let mut manifests = vec![first_chunks];
    for (changes, n) in [0, MANY - 1].into_iter().enumerate() {
        determine(
            &js,
            &determination(&many_id(n), 2, &[(PopulationGroup::Idp, 7)]),
        )
        .await;
        let version = wait_announcements(&js, changes + 2)
            .await
            .remove(changes + 1)
            .0;
        let chunks = manifest(&js, &version.object_key).await;
        let previous = manifests.last().expect("a manifest");
        let differing: Vec<usize> = (0..chunks.len())
            .filter(|&i| chunks[i] != previous[i])
            .collect();
        assert_eq!(chunks.len(), previous.len());
        assert_eq!(differing.len(), 1, "one chunk changed: {differing:?}");
        let csv = publish
            .body(&format!("/v1/datasets/{}.csv", version.version))
            .await;
        assert_eq!(dataset::sha256_hex(csv.as_bytes()), version.sha256);
        assert!(csv.contains(&format!("{},COL,", many_id(n))));
        versions.push(version);
        manifests.push(chunks);
    }

    // Two versions kept: the first one's manifest and the chunk only it listed are deleted,
    // the chunks it shared with the kept ones stay, and the kept ones read back intact.
    let listed = listed_versions(&publish).await;
    assert_eq!(listed, [versions[1].version, versions[2].version]);
    eventually(
        "the first version's manifest to be deleted",
        DEADLINE,
        || async { !is_stored(&js, &versions[0].object_key).await },
    )
    .await;
    let kept: std::collections::BTreeSet<&String> = manifests[1..].iter().flatten().collect();
    for chunk in &manifests[0] {
        assert_eq!(
            is_stored(&js, chunk).await,
            kept.contains(chunk),
            "{chunk} is stored exactly when a kept version lists it"
        );
    }
    assert_eq!(stored_chunks().await.len(), kept.len());
    for version in &versions[1..] {
        let csv = stored_version(&js, &version.object_key).await;
        assert_eq!(dataset::sha256_hex(&csv), version.sha256);
    }
    publish.stop().await;

    // Started again, with nothing in memory, it serves the kept versions from the store.
    let restarted = Publish::start_configured(&server, Duration::from_millis(200), |config| {
        config.versions_kept = 2;
    })
    .await;
    for version in &versions[1..] {
        let (status, headers, csv) = restarted
            .get(&format!("/v1/datasets/{}.csv", version.version))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(dataset::sha256_hex(csv.as_bytes()), version.sha256);
        assert_eq!(
            headers["etag"].to_str().ok(),
            Some(format!("\"{}\"", version.sha256).as_str())
        );
    }
    let (status, _, _) = restarted
        .get(&format!("/v1/datasets/{}.csv", versions[0].version))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    restarted.stop().await;
}

#[tokio::test]
async fn a_version_stored_before_chunks_is_served_and_deleted_whole() {
    let (server, js) = server_with_events().await;
    let version = determine(
        &js,
        &determination("OLD-1", 1, &[(PopulationGroup::Idp, 50)]),
    )
    .await;
    // As the service stored versions before chunks: one object holding the CSV, announced.
    let csv = b"situation_id\n#crisis+code\nOLD-1\n";
    let sha256 = dataset::sha256_hex(csv);
    let object_key = format!("situations/{version}.csv");
    let store =
        topology::ensure_object_store(&js, topology::DATA_OBJECT_STORE, &Default::default())
            .await
            .expect("object store");
    store
        .put(object_key.as_str(), &mut &csv[..])
        .await
        .expect("stored");
    let old = tandem_proto::v1::DatasetPublished {
        dataset: "situations".into(),
        version,
        rows: 1,
        sha256: sha256.clone(),
        object_key: object_key.clone(),
        published_at: Some(timestamp::now()),
    };
    tandem_runtime::envelope::Envelope {
        service: "publish",
        event: "data.published",
        subject: "situations",
        id: &format!("dataset:situations:{version}:{sha256}"),
    }
    .publish(
        &js,
        topology::DATA_PUBLISHED_SUBJECT.into(),
        prost::Message::encode_to_vec(&old).into(),
    )
    .await
    .expect("announced");

    let publish = Publish::start_configured(&server, Duration::from_millis(200), |config| {
        config.versions_kept = 1;
    })
    .await;
    wait_listed(&publish).await;
    let served = publish.body(&format!("/v1/datasets/{version}.csv")).await;
    assert_eq!(served.as_bytes(), csv);

    // A new version, in chunks, replaces it: the old object is deleted whole.
    determine(
        &js,
        &determination("OLD-1", 2, &[(PopulationGroup::Idp, 60)]),
    )
    .await;
    let new = wait_announcements(&js, 2).await.remove(1).0;
    assert!(new.object_key.ends_with(".manifest"), "{}", new.object_key);
    eventually(
        "the old version's object to be deleted",
        DEADLINE,
        || async { !is_stored(&js, &object_key).await },
    )
    .await;
    let stored = stored_version(&js, &new.object_key).await;
    assert_eq!(dataset::sha256_hex(&stored), new.sha256);
    publish.stop().await;
}

#[tokio::test]
async fn two_instances_serve_the_same_data_and_announce_a_version_once() {
    let (server, js) = server_with_events().await;
    let interval = Duration::from_millis(1000);
    let a = Publish::start(&server, interval).await;
    let b = Publish::start(&server, interval).await;
    let mut last = 0;
    for n in 1..=3 {
        last = determine(
            &js,
            &determination(&format!("COL-{n}"), 1, &[(PopulationGroup::Idp, 10 * n)]),
        )
        .await;
    }
    a.wait_applied(last).await;
    b.wait_applied(last).await;
    assert_eq!(
        a.body("/v1/situations.csv").await,
        b.body("/v1/situations.csv").await
    );
    let announced = wait_announcements(&js, 1).await;
    assert_eq!(announced[0].0.version, last);
    // Both instances have seen the announcement (or made the same one, which the stream
    // dropped as a duplicate) once each lists it.
    for instance in [&a, &b] {
        eventually("the version to be listed", DEADLINE, || async {
            instance.json("/v1/datasets").await["versions"]
                .as_array()
                .map(Vec::len)
                == Some(1)
        })
        .await;
    }
    assert_eq!(announcements(&js).await.len(), 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn the_state_after_a_restart_equals_the_state_before() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    accept(&js, &report("iom-1", "COL-1", Agency::Iom, 1), "o1").await;
    accept(&js, &report("unhcr-1", "COL-1", Agency::Unhcr, 2), "o2").await;
    determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Refugee, 3)]),
    )
    .await;
    determine(
        &js,
        &determination(
            "COL-1",
            2,
            &[
                (PopulationGroup::Refugee, 30),
                (PopulationGroup::Migrant, 2),
            ],
        ),
    )
    .await;
    let last = determine(
        &js,
        &determination("COL-2", 1, &[(PopulationGroup::Idp, 300)]),
    )
    .await;
    publish.wait_applied(last).await;
    let announced = wait_announcements(&js, 1).await;
    eventually("the version to be listed", DEADLINE, || async {
        publish.json("/v1/datasets").await["versions"]
            .as_array()
            .map(Vec::len)
            == Some(1)
    })
    .await;
    let paths = [
        "/v1/situations.csv",
        "/v1/situations",
        "/v1/situations/COL-1",
        "/v1/situations/COL-2",
        "/v1/datasets",
        &format!("/v1/datasets/{}.csv", announced[0].0.version),
    ];
    let mut before = Vec::new();
    for path in paths {
        before.push(publish.get(path).await);
    }
    publish.stop().await;

    let restarted = Publish::start(&server, FAST).await;
    for (path, (status, headers, body)) in paths.iter().zip(&before) {
        let (status_after, headers_after, body_after) = restarted.get(path).await;
        assert_eq!((status_after, &body_after), (*status, body), "{path}");
        assert_eq!(headers_after.get("etag"), headers.get("etag"), "{path}");
    }
    restarted.stop().await;
}

#[tokio::test]
async fn bad_requests_get_a_4xx_with_a_message() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let last = determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 10)]),
    )
    .await;
    publish.wait_applied(last).await;

    for (path, status) in [
        ("/v1/situations.csv?country=zz", StatusCode::BAD_REQUEST),
        ("/v1/situations?country=XYZ", StatusCode::BAD_REQUEST),
        ("/v1/situations?contry=COL", StatusCode::BAD_REQUEST),
        (
            "/v1/situations.csv?country=COL&country=PER",
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/situations/COL-1?country=COL", StatusCode::BAD_REQUEST),
        ("/v1/situations/bad%20id", StatusCode::BAD_REQUEST),
        (
            "/v1/situations/COL-1/history?country=COL",
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/situations/bad%20id/history", StatusCode::BAD_REQUEST),
        ("/v1/datasets?page=2", StatusCode::BAD_REQUEST),
        ("/v1/datasets/latest.csv", StatusCode::BAD_REQUEST),
        ("/v1/datasets/999999.csv", StatusCode::NOT_FOUND),
        ("/v1/situations/NOPE-1", StatusCode::NOT_FOUND),
        ("/v1/situations/NOPE-1/history", StatusCode::NOT_FOUND),
        ("/v2/situations", StatusCode::NOT_FOUND),
    ] {
        let (got, headers, body) = publish.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert!(error["error"].is_string(), "{path}: {body}");
        assert!(
            error["message"].as_str().is_some_and(|m| m.len() > 10),
            "{path}: {body}"
        );
    }
    let (_, _, body) = publish.get("/v1/situations.csv?country=zz").await;
    assert!(body.contains("alpha-3"), "{body}");

    // What `tandem data get` does: the data, or the service's message.
    let csv = client::fetch(&publish.base, Some("col"), client::Format::Csv)
        .await
        .expect("fetch");
    assert_eq!(records_of(&csv), vec!["COL-1"]);
    let error = client::fetch(&publish.base, Some("zz"), client::Format::Json)
        .await
        .expect_err("a bad country is refused");
    assert!(format!("{error:#}").contains("400"), "{error:#}");
    assert!(format!("{error:#}").contains("alpha-3"), "{error:#}");

    let openapi = publish.json("/openapi.json").await;
    assert!(openapi["paths"]["/v1/situations.csv"]["get"].is_object());
    publish.stop().await;
}

#[tokio::test]
async fn the_service_is_unready_until_its_state_is_rebuilt() {
    let (mut server, js) = server_with_events().await;
    accept(&js, &report("iom-1", "COL-1", Agency::Iom, 1), "o1").await;
    let last = determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 10)]),
    )
    .await;
    // NATS down: the API answers, but says it is not ready and serves no partial data.
    server.kill();
    let publish = Publish::spawn(&server, FAST).await;
    let (status, headers, body) = publish.get("/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    for path in [
        "/v1/situations.csv",
        "/v1/situations",
        "/v1/situations/COL-1",
        "/v1/situations/COL-1/history",
        "/v1/datasets",
    ] {
        let (status, headers, body) = publish.get(path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(headers["retry-after"], "1");
        assert!(body.contains("\"starting\""), "{body}");
    }

    server.restart();
    publish.wait_ready().await;
    let health = publish.json("/healthz").await;
    assert_eq!(
        health["version"], last,
        "ready means every stored event is applied"
    );
    assert_eq!(health["situations"], 1);
    publish.stop().await;
}

#[tokio::test]
async fn following_survives_a_nats_server_restart() {
    let (mut server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let first = determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 10)]),
    )
    .await;
    publish.wait_applied(first).await;

    server.restart();
    let js = server.jetstream().await;
    let second = determine(
        &js,
        &determination("COL-2", 1, &[(PopulationGroup::Migrant, 20)]),
    )
    .await;
    publish.wait_applied(second).await;
    let json = publish.json("/v1/situations").await;
    assert_eq!(json["count"], 2);
    publish.stop().await;
}

#[tokio::test]
async fn a_long_stream_is_rebuilt_in_order() {
    let (server, js) = server_with_events().await;
    // 500 situations, each with a report and three determinations: 2,000 events.
    let mut acks = Vec::new();
    for n in 0..500u64 {
        let id = format!("COL-{n:04}");
        let mut report = report(&format!("r-{n}"), &id, Agency::Iom, 1);
        report.notes = "plantednote".into();
        let event = tandem_proto::v1::SituationAccepted {
            report: Some(report),
            ..Default::default()
        };
        let subject = tandem_runtime::topology::accepted_subject("COL");
        acks.push(
            js.publish(subject, prost::Message::encode_to_vec(&event).into())
                .await
                .expect("publish"),
        );
        for sequence in 1..=3 {
            let subject = tandem_runtime::topology::determined_subject("COL");
            let determined = determination(&id, sequence, &[(PopulationGroup::Idp, n + sequence)]);
            acks.push(
                js.publish(subject, prost::Message::encode_to_vec(&determined).into())
                    .await
                    .expect("publish"),
            );
        }
    }
    for ack in acks {
        ack.await.expect("stored");
    }
    let started = std::time::Instant::now();
    let publish = Publish::start(&server, FAST).await;
    eprintln!("rebuilt 2,000 events in {:?}", started.elapsed());
    let json = publish.json("/v1/situations").await;
    assert_eq!(json["count"], 500);
    assert_eq!(
        json["situations"][499]["idps"],
        499 + 3,
        "the newest determination"
    );
    assert_eq!(json["version"], 2000);
    let csv = publish.body("/v1/situations.csv").await;
    assert_eq!(records(&csv).len(), 502);
    assert!(!csv.contains("plantednote"));
    // Rough cost of serving (printed, not asserted: the machine is shared).
    let started = std::time::Instant::now();
    for _ in 0..100 {
        publish.body("/v1/situations.csv").await;
    }
    eprintln!(
        "100 CSV downloads of 500 rows ({} bytes each) in {:?}",
        csv.len(),
        started.elapsed()
    );
    publish.stop().await;
}

/// The versions `/v1/datasets` lists, in its order.
async fn listed_versions(publish: &Publish) -> Vec<u64> {
    publish.json("/v1/datasets").await["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect()
}

/// Waits until the instance lists at least one stored version.
async fn wait_listed(publish: &Publish) {
    eventually("a version to be listed", DEADLINE, || async {
        publish.json("/v1/datasets").await["versions"]
            .as_array()
            .is_some_and(|versions| !versions.is_empty())
    })
    .await;
}

#[tokio::test]
async fn a_stored_version_is_answered_304_and_from_memory_while_nats_is_down() {
    let (mut server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let first = determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 10)]),
    )
    .await;
    publish.wait_applied(first).await;
    let version = wait_announcements(&js, 1).await.remove(0).0;
    let stored = stored_version(&js, &version.object_key).await;
    wait_listed(&publish).await;
    let path = format!("/v1/datasets/{}.csv", version.version);
    let etag = format!("\"{}\"", version.sha256);

    // Never read yet, and NATS is gone: the ETag known in memory answers alone.
    server.kill();
    let (status, headers, body) = publish.get_with(&path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers["etag"].to_str().ok(), Some(etag.as_str()));
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // Read once from the store, then served from memory while NATS is gone again.
    server.restart();
    eventually("the version to be readable again", DEADLINE, || async {
        publish.get(&path).await.0 == StatusCode::OK
    })
    .await;
    server.kill();
    let (status, headers, body) = publish.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_bytes(), stored.as_slice());
    assert_eq!(headers["etag"].to_str().ok(), Some(etag.as_str()));
    server.restart();
    publish.stop().await;
}

#[tokio::test]
async fn a_failure_inside_the_service_is_a_generic_500_with_the_detail_only_in_the_log() {
    let (server, js) = server_with_events().await;
    let publish = Publish::start(&server, FAST).await;
    let first = determine(
        &js,
        &determination("COL-1", 1, &[(PopulationGroup::Migrant, 10)]),
    )
    .await;
    publish.wait_applied(first).await;
    let version = wait_announcements(&js, 1).await.remove(0).0;
    wait_listed(&publish).await;
    // A stored chunk replaced behind the service's back: the version no longer matches the
    // announced SHA-256, which the service must not serve.
    let store = js
        .get_object_store(tandem_runtime::topology::DATA_OBJECT_STORE)
        .await
        .expect("object store");
    let chunks = manifest(&js, &version.object_key).await;
    let chunk = chunks.last().expect("a chunk");
    store
        .put(chunk.as_str(), &mut &b"forged,data\n"[..])
        .await
        .expect("replaced");

    let (status, headers, body) = publish
        .get(&format!("/v1/datasets/{}.csv", version.version))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(error["error"], "internal");
    let message = error["message"].as_str().expect("message");
    for detail in [
        version.object_key.as_str(),
        chunk.as_str(),
        version.sha256.as_str(),
        "SHA-256",
        "forged",
    ] {
        assert!(!message.contains(detail), "{message}");
    }
    publish.stop().await;
}
