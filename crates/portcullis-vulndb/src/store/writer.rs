//! Writing a complete index from a set of records.

use super::{BLOCK_TARGET, DbMetadata, FORMAT, Header, INDEX_FILE, MAGIC, key_of};
use crate::error::DbError;
use crate::osv::Record;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use time::OffsetDateTime;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    }
}

type Key = (String, String);

/// A record with its index keys and the key it is stored next to.
type Placed<'a> = (Option<Key>, &'a Record, BTreeSet<Key>);

/// Keys a record is found under; withdrawn records are found under none.
fn keys(r: &Record) -> BTreeSet<(String, String)> {
    if r.is_withdrawn() {
        return BTreeSet::new();
    }
    r.affected
        .iter()
        .filter_map(|a| a.package.as_ref())
        .filter(|p| !p.ecosystem.trim().is_empty() && !p.name.trim().is_empty())
        .map(|p| key_of(&p.ecosystem, &p.name))
        .collect()
}

fn u16_len(s: &str) -> Result<u16, DbError> {
    u16::try_from(s.len()).map_err(|_| DbError::Invalid(format!("name too long: {s:.60}…")))
}

/// Writes `records` as the new index of `db_dir`, atomically, and returns its metadata.
pub(crate) fn write(
    db_dir: &Path,
    records: &BTreeMap<String, Record>,
    generation: u64,
) -> Result<DbMetadata, DbError> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut withdrawn = 0;
    let mut ordered: Vec<Placed<'_>> = Vec::with_capacity(records.len());
    for r in records.values() {
        if r.is_withdrawn() {
            withdrawn += 1;
        } else {
            let ecosystems: BTreeSet<&str> = r
                .affected
                .iter()
                .filter_map(|a| a.package.as_ref())
                .map(|p| p.ecosystem.trim())
                .filter(|e| !e.is_empty())
                .collect();
            for e in ecosystems {
                *counts.entry(e.to_string()).or_default() += 1;
            }
        }
        let k = keys(r);
        ordered.push((k.first().cloned(), r, k));
    }
    // Group records by their first package so that one query touches few blocks;
    // unkeyed (withdrawn) records go last.
    ordered.sort_by(|a, b| (a.0.is_none(), &a.0, &a.1.id).cmp(&(b.0.is_none(), &b.0, &b.1.id)));

    let mut postings: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    let mut record_table = Vec::with_capacity(ordered.len() * 12);
    let mut block_table = Vec::new();
    let mut blocks: Vec<u8> = Vec::new();
    let mut current: Vec<u8> = Vec::with_capacity(BLOCK_TARGET * 2);
    let mut block_no: u32 = 0;
    let flush = |current: &mut Vec<u8>,
                 blocks: &mut Vec<u8>,
                 block_table: &mut Vec<u8>|
     -> Result<(), DbError> {
        let compressed = zstd::bulk::compress(current, 6)
            .map_err(|e| DbError::Invalid(format!("compression failed: {e}")))?;
        block_table.extend_from_slice(&(blocks.len() as u64).to_le_bytes());
        block_table.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        block_table.extend_from_slice(&(current.len() as u32).to_le_bytes());
        blocks.extend_from_slice(&compressed);
        current.clear();
        Ok(())
    };
    for (index, (_, record, record_keys)) in ordered.iter().enumerate() {
        let json = serde_json::to_vec(record)
            .map_err(|e| DbError::Invalid(format!("record {}: {e}", record.id)))?;
        record_table.extend_from_slice(&block_no.to_le_bytes());
        record_table.extend_from_slice(&(current.len() as u32).to_le_bytes());
        record_table.extend_from_slice(&(json.len() as u32).to_le_bytes());
        current.extend_from_slice(&json);
        let index =
            u32::try_from(index).map_err(|_| DbError::Invalid("too many records".into()))?;
        for k in record_keys {
            postings.entry(k.clone()).or_default().push(index);
        }
        if current.len() >= BLOCK_TARGET {
            flush(&mut current, &mut blocks, &mut block_table)?;
            block_no += 1;
        }
    }
    if !current.is_empty() {
        flush(&mut current, &mut blocks, &mut block_table)?;
    }

    let mut entries = Vec::new();
    let mut offsets = Vec::with_capacity(postings.len() * 4);
    for ((eco, name), ids) in &postings {
        offsets.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        entries.extend_from_slice(&u16_len(eco)?.to_le_bytes());
        entries.extend_from_slice(eco.as_bytes());
        entries.extend_from_slice(&u16_len(name)?.to_le_bytes());
        entries.extend_from_slice(name.as_bytes());
        entries.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        for id in ids {
            entries.extend_from_slice(&id.to_le_bytes());
        }
    }
    let mut key_section = Vec::with_capacity(4 + offsets.len() + entries.len());
    key_section.extend_from_slice(&(postings.len() as u32).to_le_bytes());
    key_section.extend_from_slice(&offsets);
    key_section.extend_from_slice(&entries);

    let metadata = DbMetadata {
        generation,
        updated_at: OffsetDateTime::now_utc(),
        counts,
        records: ordered.len() as u64,
        withdrawn,
    };
    let header = Header {
        format: FORMAT,
        metadata: metadata.clone(),
        key_section_len: key_section.len() as u64,
        record_count: ordered.len() as u64,
        block_count: (block_table.len() / 16) as u64,
    };
    let header = serde_json::to_vec(&header).map_err(|e| DbError::Invalid(e.to_string()))?;

    let mut tmp = tempfile::Builder::new()
        .prefix(".osv-index-")
        .tempfile_in(db_dir)
        .map_err(io_err(db_dir))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        let result = (|| {
            w.write_all(MAGIC)?;
            w.write_all(&(header.len() as u32).to_le_bytes())?;
            w.write_all(&header)?;
            w.write_all(&key_section)?;
            w.write_all(&record_table)?;
            w.write_all(&block_table)?;
            w.write_all(&blocks)?;
            w.flush()
        })();
        drop(w);
        result.map_err(io_err(db_dir))?;
    }
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    let target = db_dir.join(INDEX_FILE);
    tmp.persist(&target).map_err(|e| DbError::Io {
        path: target.clone(),
        source: e.error,
    })?;
    // Make the rename itself durable.
    std::fs::File::open(db_dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(db_dir))?;
    Ok(metadata)
}
