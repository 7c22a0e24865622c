//! How a dataset version is laid out in object store `tandem-data`, pure: its CSV cut into
//! content-defined chunks of rows, each stored once under the name of its SHA-256, and a small
//! manifest per version listing its chunks in order. Concatenated in that order, the chunks are
//! the CSV whose SHA-256 `DatasetPublished.sha256` announces.
//!
//! A chunk ends after a row whose situation id hashes to a multiple of [`ROWS_PER_CHUNK`]
//! (and the header rows are a chunk of their own), so where chunks end depends on the ids
//! alone: a changed row changes only its own chunk, and an inserted one only the chunk it
//! falls in (or splits it in two). A new version therefore stores the chunks that changed and
//! a manifest, whatever the number of situations. The SHA-256 of the whole CSV is hashed on
//! from the last cut's state before the first changed chunk ([`Known`]), so it costs the rows
//! from the first change to the end: SHA-256 cannot be updated in the middle.

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

impl Signature {
    /// The signature of the chunk of rows `lines`, the first of situation `first`.
    fn of(first: &str, lines: &[&str], newest: u64) -> Self {
        Self {
            first: first.to_string(),
            rows: lines.len(),
            newest,
        }
    }
}

/// One chunk of a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// What identifies its content.
    pub signature: Signature,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its bytes, unless [`Known`] says it is stored.
    pub bytes: Option<String>,
}

/// A version's CSV cut into chunks.
#[derive(Clone, Debug)]
pub struct Chunked {
    /// Lower-case hex SHA-256 of the whole CSV, the chunks concatenated.
    pub sha256: String,
    /// Its chunks in order.
    pub chunks: Vec<Chunk>,
    /// The whole CSV's hash state after each chunk, for the next cut ([`Known::resume`]).
    states: Vec<Sha256>,
}

/// What is known of the chunks: the SHA-256 of those stored, by signature, which are neither
/// rendered nor hashed again; and the last cut's chunks with the whole CSV's hash state after
/// each, so that the next cut hashes the whole CSV from its first changed chunk on. (SHA-256
/// reads its input in order: what comes before a change is hashed once.)
#[derive(Clone, Debug, Default)]
pub struct Known {
    stored: HashMap<Signature, String>,
    last: Vec<(Signature, Sha256)>,
}

impl Known {
    /// Records that the chunk `signature` names, of SHA-256 `sha256`, is stored.
    pub fn insert(&mut self, signature: Signature, sha256: String) {
        self.stored.insert(signature, sha256);
    }

    /// Forgets the stored chunks for which `deleted` (given their SHA-256) is true.
    pub fn forget(&mut self, deleted: impl Fn(&str) -> bool) {
        self.stored.retain(|_, sha256| !deleted(sha256));
    }

    /// Keeps `chunked`'s hash states for the next cut.
    pub fn resume(&mut self, chunked: &Chunked) {
        self.last = chunked
            .chunks
            .iter()
            .map(|c| c.signature.clone())
            .zip(chunked.states.iter().cloned())
            .collect();
    }
}

/// Cuts the CSV of `head` and `rows` (each a situation id, its CSV line, its render stamp and
/// whether it [`ends_chunk`], ordered by id) into chunks, rendering only those not in `known`.
pub fn cut<'a>(
    head: &'a str,
    rows: impl IntoIterator<Item = (&'a str, &'a str, u64, bool)>,
    known: &Known,
) -> Chunked {
    let mut cutter = Cutter {
        known,
        whole: Sha256::new(),
        unchanged: true,
        buffer: String::new(),
        chunked: Chunked {
            sha256: String::new(),
            chunks: Vec::new(),
            states: Vec::new(),
        },
    };
    let head_chunk = Signature {
        first: String::new(),
        rows: 0,
        newest: 0,
    };
    let mut lines: Vec<&str> = vec![head];
    cutter.close(head_chunk, &mut lines);
    let mut first = "";
    let mut newest = 0;
    for (id, line, stamp, ends) in rows {
        if lines.is_empty() {
            first = id;
        }
        lines.push(line);
        newest = newest.max(stamp);
        if ends {
            cutter.close(Signature::of(first, &lines, newest), &mut lines);
            newest = 0;
        }
    }
    if !lines.is_empty() {
        cutter.close(Signature::of(first, &lines, newest), &mut lines);
    }
    let mut chunked = cutter.chunked;
    chunked.sha256 = hex::encode(cutter.whole.finalize());
    chunked
}

/// A cut under way.
struct Cutter<'k> {
    known: &'k Known,
    /// The whole CSV's hash so far.
    whole: Sha256,
    /// Whether every chunk so far is the last cut's.
    unchanged: bool,
    /// The bytes of the chunk being closed, reused from one to the next.
    buffer: String,
    chunked: Chunked,
}

impl Cutter<'_> {
    /// Closes the chunk `signature` of `lines`, which are then emptied for the next one.
    fn close(&mut self, signature: Signature, lines: &mut Vec<&str>) {
        let index = self.chunked.chunks.len();
        let stored = self.known.stored.get(&signature);
        let resumed = self
            .known
            .last
            .get(index)
            .filter(|(last, _)| self.unchanged && *last == signature);
        let bytes = match (resumed, stored) {
            // The same chunk as the last cut's, after the same ones: neither it nor the whole
            // CSV so far needs reading.
            (Some((_, state)), Some(_)) => {
                self.whole = state.clone();
                None
            }
            _ => {
                self.unchanged = false;
                self.buffer.clear();
                lines.iter().for_each(|line| self.buffer.push_str(line));
                self.whole.update(&self.buffer);
                Some(self.buffer.clone()).filter(|_| stored.is_none())
            }
        };
        let sha256 = match (stored, &bytes) {
            (Some(sha256), _) => sha256.clone(),
            (None, bytes) => sha256_hex(bytes.as_deref().unwrap_or_default().as_bytes()),
        };
        self.chunked.chunks.push(Chunk {
            signature,
            sha256,
            bytes,
        });
        self.chunked.states.push(self.whole.clone());
        lines.clear();
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

    /// The rows of `cut` from (id, line, stamp).
    fn rows(rows: &[(String, String, u64)]) -> Vec<(&str, &str, u64, bool)> {
        rows.iter()
            .map(|(id, line, stamp)| (id.as_str(), line.as_str(), *stamp, ends_chunk(id)))
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

    /// What the publisher knows after storing `chunked`.
    fn learn(known: &mut Known, chunked: &Chunked) {
        for chunk in &chunked.chunks {
            known.insert(chunk.signature.clone(), chunk.sha256.clone());
        }
        known.resume(chunked);
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
        let chunked = cut("h\n", rows(&table), &Known::default());
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
        let mut known = Known::default();
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
        // The whole CSV's SHA-256, hashed on from the chunk before the change, is the one of
        // the whole CSV hashed from the start.
        let csv: String = std::iter::once("h\n")
            .chain(table.iter().map(|(_, l, _)| l.as_str()))
            .collect();
        assert_eq!(inserted.sha256, sha256_hex(csv.as_bytes()));
        assert_eq!(
            cut("h\n", rows(&table), &Known::default()).sha256,
            inserted.sha256
        );
    }

    #[test]
    fn manifests_list_chunk_keys_and_nothing_else_is_read_back() {
        let chunked = cut("h\n", rows(&table(2_000)), &Known::default());
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
