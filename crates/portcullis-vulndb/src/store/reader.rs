//! Reading the index: open once, query many times, notice a newer file cheaply.

use super::{DbMetadata, FORMAT, Header, INDEX_FILE, MAGIC, MAX_BLOCK, MAX_HEADER, key_of};
use crate::error::DbError;
use crate::finding::{self, Finding, Matched};
use crate::matcher;
use crate::osv::Record;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A package version to look up.
#[derive(Debug, Clone, Copy)]
pub struct PackageQuery<'a> {
    /// OSV ecosystem, with the release for distributions: `Debian:12`, `Alpine:v3.19`,
    /// `PyPI`, `npm`, `crates.io`, `Go`, `Maven`, `RubyGems`, `Red Hat`, …
    pub ecosystem: &'a str,
    /// Package name; for distributions the source package (dpkg source, apk origin,
    /// source RPM name).
    pub name: &'a str,
    /// Installed version in the ecosystem's own spelling.
    pub version: &'a str,
}

/// Identity of the index file, to notice that an import replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            len: meta.len(),
        }
    }
}

/// An opened, read-only vulnerability database. Cheap to share: queries only read.
#[derive(Debug)]
pub struct VulnDb {
    path: PathBuf,
    file: File,
    id: FileId,
    metadata: DbMetadata,
    keys: Vec<u8>,
    records: Vec<u8>,
    blocks: Vec<u8>,
    blocks_start: u64,
    /// Parsed records per key index. A rescan asks about the same few thousand packages
    /// for every image; without this each query decompresses and parses a block again.
    parsed: RwLock<ParsedRecords>,
    /// Answers per (ecosystem, name, version) as normalised: the same base image's
    /// packages are asked about once per image that uses it.
    answers: RwLock<HashMap<AnswerKey, Arc<[Finding]>>>,
}

/// (ecosystem, name, version) as a query spelled them.
type AnswerKey = (String, String, String);

const MAX_ANSWERS: usize = 200_000;

/// Records kept parsed, bounded: emptied when it would hold more than
/// [`MAX_PARSED_RECORDS`] (the working set of one scan run is far smaller).
#[derive(Debug, Default)]
struct ParsedRecords {
    by_key: HashMap<u32, Arc<[Record]>>,
    records: usize,
}

const MAX_PARSED_RECORDS: usize = 100_000;

thread_local! {
    /// One zstd context per thread, reused across blocks (creating one costs more than
    /// decompressing a small block).
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn corrupt(path: &Path, reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

impl VulnDb {
    /// Opens the database in `dir` (`<data_dir>/vulndb`); [`DbError::Missing`] when nothing
    /// has been imported there yet.
    pub fn open(dir: &Path) -> Result<VulnDb, DbError> {
        let path = dir.join(INDEX_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::Missing(dir.to_path_buf()));
            }
            Err(source) => return Err(DbError::Io { path, source }),
        };
        let io = |source| DbError::Io {
            path: path.clone(),
            source,
        };
        let meta = file.metadata().map_err(io)?;
        let file_len = meta.len();
        let mut start = [0u8; 12];
        file.read_exact_at(&mut start, 0).map_err(io)?;
        if &start[..8] != MAGIC {
            return Err(corrupt(&path, "not a Portcullis vulnerability index"));
        }
        let header_len = u32_at(&start, 8).unwrap_or(u32::MAX);
        if header_len > MAX_HEADER || 12 + u64::from(header_len) > file_len {
            return Err(corrupt(&path, "header length out of range"));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact_at(&mut header, 12).map_err(io)?;
        let header: Header =
            serde_json::from_slice(&header).map_err(|e| corrupt(&path, format!("header: {e}")))?;
        if header.format != FORMAT {
            return Err(corrupt(
                &path,
                format!("unsupported format {}", header.format),
            ));
        }
        let tables_start = 12 + u64::from(header_len);
        let tables_len = header
            .key_section_len
            .checked_add(header.record_count.saturating_mul(12))
            .and_then(|n| n.checked_add(header.block_count.checked_mul(16)?))
            .filter(|n| tables_start + n <= file_len)
            .ok_or_else(|| corrupt(&path, "table sizes out of range"))?;
        let mut tables = vec![0u8; tables_len as usize];
        file.read_exact_at(&mut tables, tables_start).map_err(io)?;
        let blocks = tables.split_off((header.key_section_len + header.record_count * 12) as usize);
        let records = tables.split_off(header.key_section_len as usize);
        let keys = tables;
        let key_count = u32_at(&keys, 0).ok_or_else(|| corrupt(&path, "empty key section"))?;
        if 4 + u64::from(key_count) * 4 > keys.len() as u64 {
            return Err(corrupt(&path, "key count out of range"));
        }
        // A truncated copy is caught here rather than at some later query.
        let blocks_start = tables_start + tables_len;
        let blocks_len = file_len - blocks_start;
        for at in (0..blocks.len()).step_by(16) {
            let end = u64_at(&blocks, at)
                .zip(u32_at(&blocks, at + 8))
                .and_then(|(offset, stored)| offset.checked_add(u64::from(stored)));
            if end.is_none_or(|end| end > blocks_len) {
                return Err(corrupt(&path, "block beyond the end of the file"));
            }
        }
        Ok(VulnDb {
            id: FileId::of(&meta),
            path,
            file,
            metadata: header.metadata,
            keys,
            records,
            blocks,
            blocks_start,
            parsed: RwLock::default(),
            answers: RwLock::default(),
        })
    }

    /// Generation, time of the last import or update, and record counts.
    pub fn metadata(&self) -> &DbMetadata {
        &self.metadata
    }

    /// Whether the index file on disk is no longer the one this handle reads.
    pub fn is_stale(&self) -> bool {
        match std::fs::metadata(&self.path) {
            Ok(meta) => FileId::of(&meta) != self.id,
            Err(_) => false,
        }
    }

    /// Opens the newer database when the file was replaced since this one was opened;
    /// `Ok(None)` when it was not (one `stat`, no read).
    pub fn reload_if_changed(&self) -> Result<Option<VulnDb>, DbError> {
        if !self.is_stale() {
            return Ok(None);
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        VulnDb::open(dir).map(Some)
    }

    fn key_entry(&self, i: u32) -> Option<(&[u8], &[u8], usize)> {
        let k = &self.keys;
        let count = u32_at(k, 0)? as usize;
        let entries = 4 + count * 4;
        let mut at = entries + u32_at(k, 4 + i as usize * 4)? as usize;
        let eco_len = u16_at(k, at)? as usize;
        let eco = k.get(at + 2..at + 2 + eco_len)?;
        at += 2 + eco_len;
        let name_len = u16_at(k, at)? as usize;
        let name = k.get(at + 2..at + 2 + name_len)?;
        Some((eco, name, at + 2 + name_len))
    }

    /// The key's index and the record indexes stored under it.
    fn postings(&self, eco: &str, name: &str) -> Result<Option<(u32, Vec<u32>)>, DbError> {
        let bad = || corrupt(&self.path, "key section");
        let count = u32_at(&self.keys, 0).ok_or_else(bad)?;
        let (mut lo, mut hi) = (0u32, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (e, n, at) = self.key_entry(mid).ok_or_else(bad)?;
            match (e, n).cmp(&(eco.as_bytes(), name.as_bytes())) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => {
                    let n = u32_at(&self.keys, at).ok_or_else(bad)? as usize;
                    let postings = (0..n)
                        .map(|j| u32_at(&self.keys, at + 4 + j * 4).ok_or_else(bad))
                        .collect::<Result<_, _>>()?;
                    return Ok(Some((mid, postings)));
                }
            }
        }
        Ok(None)
    }

    /// The parsed records stored under key `key` (record indexes `indexes`).
    fn records_of(&self, key: u32, indexes: &[u32]) -> Result<Arc<[Record]>, DbError> {
        let cached = self
            .parsed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .get(&key)
            .cloned();
        if let Some(r) = cached {
            return Ok(r);
        }
        let records: Arc<[Record]> = self.load(indexes)?.into();
        let mut parsed = self.parsed.write().unwrap_or_else(|e| e.into_inner());
        if parsed.records + records.len() > MAX_PARSED_RECORDS {
            *parsed = ParsedRecords::default();
        }
        if parsed.by_key.insert(key, records.clone()).is_none() {
            parsed.records += records.len();
        }
        Ok(records)
    }

    fn block(&self, no: u32) -> Result<Vec<u8>, DbError> {
        let bad = |r: &str| corrupt(&self.path, format!("block {no}: {r}"));
        let at = no as usize * 16;
        let (offset, stored, raw) = (|| {
            Some((
                u64_at(&self.blocks, at)?,
                u32_at(&self.blocks, at + 8)?,
                u32_at(&self.blocks, at + 12)?,
            ))
        })()
        .ok_or_else(|| bad("not in block table"))?;
        if stored > MAX_BLOCK || raw > MAX_BLOCK {
            return Err(bad("size out of range"));
        }
        let mut buf = vec![0u8; stored as usize];
        self.file
            .read_exact_at(&mut buf, self.blocks_start + offset)
            .map_err(|source| DbError::Io {
                path: self.path.clone(),
                source,
            })?;
        DECOMPRESSOR
            .with(|cell| {
                let mut slot = cell.borrow_mut();
                let d = match &mut *slot {
                    Some(d) => d,
                    None => slot.insert(zstd::bulk::Decompressor::new()?),
                };
                d.decompress(&buf, raw as usize)
            })
            .map_err(|e| bad(&e.to_string()))
    }

    /// Reads records by index, decompressing each needed block once.
    pub(crate) fn load(&self, indexes: &[u32]) -> Result<Vec<Record>, DbError> {
        let mut cache: HashMap<u32, Vec<u8>> = HashMap::new();
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let at = i as usize * 12;
            let (block, offset, len) = (|| {
                Some((
                    u32_at(&self.records, at)?,
                    u32_at(&self.records, at + 4)? as usize,
                    u32_at(&self.records, at + 8)? as usize,
                ))
            })()
            .ok_or_else(|| corrupt(&self.path, format!("record {i} not in record table")))?;
            if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(block) {
                slot.insert(self.block(block)?);
            }
            let bytes = cache
                .get(&block)
                .and_then(|b| b.get(offset..offset + len))
                .ok_or_else(|| corrupt(&self.path, format!("record {i} outside its block")))?;
            let record: Record = serde_json::from_slice(bytes)
                .map_err(|e| corrupt(&self.path, format!("record {i}: {e}")))?;
            out.push(record);
        }
        Ok(out)
    }

    /// Every stored record, withdrawn ones included (used to merge an import).
    pub(crate) fn all_records(&self) -> Result<Vec<Record>, DbError> {
        let n = u32::try_from(self.records.len() / 12)
            .map_err(|_| corrupt(&self.path, "record table too large"))?;
        let indexes: Vec<u32> = (0..n).collect();
        self.load(&indexes)
    }

    /// Vulnerabilities affecting one package version, one finding per issue.
    pub fn query(&self, q: &PackageQuery<'_>) -> Result<Vec<Finding>, DbError> {
        // Keyed as asked: the findings name the ecosystem as the query spelled it.
        let key = (
            q.ecosystem.to_string(),
            q.name.to_string(),
            q.version.trim().to_string(),
        );
        if let Some(found) = self
            .answers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(found.to_vec());
        }
        let found: Arc<[Finding]> = self.answer(q)?.into();
        let mut answers = self.answers.write().unwrap_or_else(|e| e.into_inner());
        if answers.len() >= MAX_ANSWERS {
            answers.clear();
        }
        answers.insert(key, found.clone());
        Ok(found.to_vec())
    }

    fn answer(&self, q: &PackageQuery<'_>) -> Result<Vec<Finding>, DbError> {
        let (eco, name) = key_of(q.ecosystem, q.name);
        let Some((key, indexes)) = self.postings(&eco, &name)? else {
            return Ok(Vec::new());
        };
        let records = self.records_of(key, &indexes)?;
        let version = q.version.trim();
        let mut matches = Vec::new();
        for record in records.iter().filter(|r| !r.is_withdrawn()) {
            let hit = record.affected.iter().find_map(|a| {
                let p = a.package.as_ref()?;
                let (e, n) = key_of(&p.ecosystem, &p.name);
                if e != eco || n != name {
                    return None;
                }
                matcher::check(a, &p.ecosystem, version, &record.id).map(|h| (a, h))
            });
            if let Some((affected, hit)) = hit {
                matches.push(Matched {
                    record,
                    affected,
                    fixed: hit.fixed,
                });
            }
        }
        Ok(finding::build(&matches, q.ecosystem))
    }
}

/// A database handle for a long-running server: queries use the current database, and
/// [`SharedVulnDb::reload_if_changed`] swaps in a newer one after an import.
#[derive(Debug)]
pub struct SharedVulnDb {
    current: RwLock<Arc<VulnDb>>,
}

impl SharedVulnDb {
    /// Wraps an opened database.
    pub fn new(db: VulnDb) -> SharedVulnDb {
        SharedVulnDb {
            current: RwLock::new(Arc::new(db)),
        }
    }

    /// The database to query now; holding it keeps that version readable.
    pub fn current(&self) -> Arc<VulnDb> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the database when the index file changed; returns whether it did.
    pub fn reload_if_changed(&self) -> Result<bool, DbError> {
        let Some(newer) = self.current().reload_if_changed()? else {
            return Ok(false);
        };
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(newer);
        Ok(true)
    }
}
