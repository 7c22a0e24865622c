//! How a dataset version is laid out in object store `tandem-data`, pure: its CSV cut into
//! content-defined chunks of rows, each stored once under the name of its SHA-256, and a small
//! manifest per version listing its chunks in order. Concatenated in that order, the chunks are
//! the CSV whose SHA-256 `DatasetPublished.sha256` announces.
//!
//! A chunk ends after a row whose situation id hashes to a multiple of [`ROWS_PER_CHUNK`]
//! (and the header rows are a chunk of their own), so where chunks end depends on the ids
//! alone: a changed row changes only its own chunk, and an inserted one only the chunk it
//! falls in (or splits it in two). A new version therefore stores the chunks that changed and
//! a manifest, whatever the number of situations.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use crate::dataset::{DATASET, sha256_hex};

/// About this many rows make a chunk: at some hundred bytes a row, chunks of tens of kilobytes,
/// a few hundred of them at 100,000 situations, so that a manifest stays small too.
pub const ROWS_PER_CHUNK: u64 = 512;

/// The most chunks a manifest read back may list: far above any dataset the state can hold,
/// so that a damaged or forged manifest is refused rather than followed.
const MAX_CHUNKS: usize = 1 << 20;

/// Whether the chunk that holds the row of situation `id` ends with it. FNV-1a, a stable hash:
/// every instance and every release must cut the same rows into the same chunks, or unchanged
/// rows would be stored again.
pub fn ends_chunk(id: &str) -> bool {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % ROWS_PER_CHUNK == 0
}

/// What tells a chunk's content apart without reading it: its first row's situation id, its
/// number of rows and the newest render stamp among them ([`crate::state`] stamps every row
/// it renders with a number it never gives again). Rows are only ever added, each with a new
/// stamp, so a chunk whose rows or lines changed has a newer stamp.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// Empty for the header chunk.
    pub first: String,
    /// Rows in the chunk.
    pub rows: usize,
    /// The newest stamp of its rows.
    pub newest: u64,
}

/// One chunk of a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// What identifies its content.
    pub signature: Signature,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its bytes, when they were not known already (see [`Chunked`]).
    pub bytes: Option<String>,
}

/// A version's CSV cut into chunks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunked {
    /// Lower-case hex SHA-256 of the whole CSV, the chunks concatenated.
    pub sha256: String,
    /// Its chunks in order.
    pub chunks: Vec<Chunk>,
}

/// The SHA-256 of the chunks already stored, by signature: a chunk found here is neither
/// rendered nor hashed again.
pub type Known = HashMap<Signature, String>;

/// Cuts the CSV of `head` and `rows` (each a situation id, its CSV line and its render stamp,
/// ordered by id) into chunks, rendering only those not in `known`.
pub fn cut<'a>(
    head: &str,
    rows: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    known: &Known,
) -> Chunked {
    let mut whole = Sha256::new();
    let mut chunks = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut first = "";
    let mut newest = 0;
    whole.update(head);
    chunks.push(chunk(
        Signature {
            first: String::new(),
            rows: 0,
            newest: 0,
        },
        &[head],
        known,
    ));
    for (id, line, stamp) in rows {
        whole.update(line);
        if lines.is_empty() {
            first = id;
        }
        lines.push(line);
        newest = newest.max(stamp);
        if ends_chunk(id) {
            chunks.push(close(first, &mut lines, &mut newest, known));
        }
    }
    if !lines.is_empty() {
        chunks.push(close(first, &mut lines, &mut newest, known));
    }
    Chunked {
        sha256: hex::encode(whole.finalize()),
        chunks,
    }
}

/// The chunk of `lines`, which are then emptied for the next one.
fn close(first: &str, lines: &mut Vec<&str>, newest: &mut u64, known: &Known) -> Chunk {
    let signature = Signature {
        first: first.to_string(),
        rows: lines.len(),
        newest: *newest,
    };
    let chunk = chunk(signature, lines, known);
    lines.clear();
    *newest = 0;
    chunk
}

fn chunk(signature: Signature, lines: &[&str], known: &Known) -> Chunk {
    match known.get(&signature) {
        Some(sha256) => Chunk {
            signature,
            sha256: sha256.clone(),
            bytes: None,
        },
        None => {
            let bytes = lines.concat();
            Chunk {
                signature,
                sha256: sha256_hex(bytes.as_bytes()),
                bytes: Some(bytes),
            }
        }
    }
}

/// The object key of the chunk whose bytes have SHA-256 `sha256`.
pub fn chunk_key(sha256: &str) -> String {
    format!("{DATASET}/chunks/{sha256}.csv")
}

/// The object key of version `version`'s manifest: `DatasetPublished.object_key`.
pub fn manifest_key(version: u64) -> String {
    format!("{DATASET}/{version}.manifest")
}

/// Whether `key` names a manifest; the versions stored before chunks were one CSV object each
/// (`situations/<version>.csv`), which is read and deleted whole.
pub fn is_manifest(key: &str) -> bool {
    key.starts_with(DATASET) && key.ends_with(".manifest")
}

/// A manifest's text: the object keys of its chunks in order, one a line.
pub fn manifest(chunks: &[Chunk]) -> String {
    chunks.iter().map(|c| chunk_key(&c.sha256) + "\n").collect()
}

/// The chunk keys a manifest lists, in order; anything but chunk keys, or too many of them, is
/// refused.
pub fn parse_manifest(text: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let sha256 = line
            .strip_prefix(&format!("{DATASET}/chunks/"))
            .and_then(|rest| rest.strip_suffix(".csv"))
            .filter(|sha| {
                sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            })
            .ok_or_else(|| format!("line {} is not a chunk key", n + 1))?;
        if keys.len() == MAX_CHUNKS {
            return Err(format!("more than {MAX_CHUNKS} chunks"));
        }
        keys.push(chunk_key(sha256));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Situations `ids` with lines `id,<value>` and stamps as given.
    fn rows(rows: &[(String, String, u64)]) -> Vec<(&str, &str, u64)> {
        rows.iter()
            .map(|(id, line, stamp)| (id.as_str(), line.as_str(), *stamp))
            .collect()
    }

    fn table(n: usize) -> Vec<(String, String, u64)> {
        (0..n)
            .map(|i| {
                let id = format!("S-{i:06}");
                let line = format!("{id},{i}\n");
                (id, line, i as u64 + 1)
            })
            .collect()
    }

    /// What a store would hold after `chunked`: every chunk's signature and SHA-256.
    fn learn(known: &mut Known, chunked: &Chunked) {
        for chunk in &chunked.chunks {
            known.insert(chunk.signature.clone(), chunk.sha256.clone());
        }
    }

    fn concatenated(chunked: &Chunked, store: &HashMap<String, String>) -> String {
        chunked
            .chunks
            .iter()
            .map(|c| store[&c.sha256].as_str())
            .collect()
    }

    #[test]
    fn the_chunks_concatenated_are_the_csv_and_its_sha256() {
        let table = table(5_000);
        let chunked = cut("h\n", rows(&table), &Known::new());
        let csv: String = std::iter::once("h\n")
            .chain(table.iter().map(|(_, l, _)| l.as_str()))
            .collect();
        assert_eq!(chunked.sha256, sha256_hex(csv.as_bytes()));
        let joined: String = chunked
            .chunks
            .iter()
            .map(|c| c.bytes.clone().expect("all rendered"))
            .collect();
        assert_eq!(joined, csv);
        for chunk in &chunked.chunks {
            assert_eq!(
                chunk.sha256,
                sha256_hex(chunk.bytes.as_deref().unwrap_or_default().as_bytes())
            );
        }
        // About ROWS_PER_CHUNK rows each, not one chunk nor one per row.
        let expected = 5_000 / ROWS_PER_CHUNK as usize;
        assert!(
            (expected / 3..expected * 3).contains(&(chunked.chunks.len() - 1)),
            "{} chunks",
            chunked.chunks.len()
        );
    }

    #[test]
    fn a_changed_or_inserted_row_renders_only_its_own_chunk() {
        let mut table = table(5_000);
        let mut known = Known::new();
        let mut store = HashMap::new();
        let before = cut("h\n", rows(&table), &known);
        learn(&mut known, &before);
        for chunk in &before.chunks {
            store.insert(
                chunk.sha256.clone(),
                chunk.bytes.clone().unwrap_or_default(),
            );
        }

        // One row changed: only its chunk is rendered again.
        table[2_500].1 = "S-002500,changed\n".into();
        table[2_500].2 = 10_000;
        let changed = cut("h\n", rows(&table), &known);
        let rendered: Vec<&Chunk> = changed
            .chunks
            .iter()
            .filter(|c| c.bytes.is_some())
            .collect();
        assert_eq!(rendered.len(), 1);
        assert!(
            rendered[0]
                .bytes
                .as_deref()
                .is_some_and(|b| b.contains("changed"))
        );
        assert_eq!(changed.chunks.len(), before.chunks.len());
        learn(&mut known, &changed);
        store.insert(
            rendered[0].sha256.clone(),
            rendered[0].bytes.clone().unwrap_or_default(),
        );
        let csv = concatenated(&changed, &store);
        assert_eq!(sha256_hex(csv.as_bytes()), changed.sha256);
        assert!(csv.contains("S-002500,changed\n"));

        // One row inserted: its chunk (split in two if the new row ends a chunk) is new.
        let id = (0..)
            .map(|n| format!("S-001000-{n}"))
            .find(|id| !ends_chunk(id))
            .unwrap_or_default();
        let line = format!("{id},new\n");
        table.insert(1_001, (id, line, 10_001));
        let inserted = cut("h\n", rows(&table), &known);
        assert_eq!(
            inserted.chunks.iter().filter(|c| c.bytes.is_some()).count(),
            1
        );
        assert_eq!(inserted.chunks.len(), before.chunks.len());
    }

    #[test]
    fn manifests_list_chunk_keys_and_nothing_else_is_read_back() {
        let chunked = cut("h\n", rows(&table(2_000)), &Known::new());
        let text = manifest(&chunked.chunks);
        let keys = parse_manifest(&text).expect("parsed");
        assert_eq!(keys.len(), chunked.chunks.len());
        assert_eq!(keys[0], chunk_key(&chunked.chunks[0].sha256));
        assert!(keys[0].starts_with("situations/chunks/") && keys[0].ends_with(".csv"));
        for bad in [
            "snapshots/publish-state\n",
            "situations/chunks/../1.csv\n",
            &format!("situations/chunks/{}.csv\n", "A".repeat(64)),
            &format!("{text}situations/7.csv\n"),
        ] {
            assert!(parse_manifest(bad).is_err(), "{bad}");
        }
        assert!(is_manifest(&manifest_key(42)));
        assert!(!is_manifest("situations/42.csv"));
    }
}
