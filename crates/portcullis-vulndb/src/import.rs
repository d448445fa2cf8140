//! Importing OSV records from osv.dev `all.zip` archives, directories and single files,
//! merged into what the database already holds (the newer `modified` wins per id).

use crate::error::DbError;
use crate::osv::{Format, MAX_RECORD_BYTES, Record, parse_record};
use crate::store::reader::VulnDb;
use crate::store::writer;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPhase {
    /// Reading the records already in the database.
    Loading,
    /// Reading records from a source.
    Reading,
    /// Writing the new index.
    Writing,
    /// Finished.
    Done,
}

/// A progress report, sent at phase changes and every few hundred records.
#[derive(Debug, Clone)]
pub struct ImportProgress {
    /// The current phase.
    pub phase: ImportPhase,
    /// The source being read, in [`ImportPhase::Reading`].
    pub source: Option<PathBuf>,
    /// Records read from all sources so far.
    pub records_read: u64,
    /// Records in the current source when known in advance (zip archives).
    pub source_total: Option<u64>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Files (records or archives) read.
    pub files: u64,
    /// Records parsed from the sources.
    pub records_read: u64,
    /// Ids not in the database before.
    pub added: u64,
    /// Ids replaced by a newer record.
    pub updated: u64,
    /// Records identical to, or older than, what was stored.
    pub unchanged: u64,
    /// Entries that could not be parsed (skipped; see `errors`).
    pub invalid: u64,
    /// The first problems met, for the operator.
    pub errors: Vec<String>,
    /// Records in the database afterwards.
    pub total_records: u64,
    /// Generation of the database written.
    pub generation: u64,
    /// Wall time of the import.
    pub elapsed: Duration,
}

const MAX_REPORTED_ERRORS: usize = 20;
const PROGRESS_EVERY: u64 = 500;

struct Merger<'a> {
    records: BTreeMap<String, Record>,
    existing: std::collections::HashSet<String>,
    summary: ImportSummary,
    progress: &'a dyn Fn(ImportProgress),
    source: Option<PathBuf>,
    source_total: Option<u64>,
}

impl Merger<'_> {
    fn report(&self, phase: ImportPhase) {
        (self.progress)(ImportProgress {
            phase,
            source: self.source.clone(),
            records_read: self.summary.records_read,
            source_total: self.source_total,
        });
    }

    fn error(&mut self, what: String) {
        tracing::warn!("{what}");
        self.summary.invalid += 1;
        if self.summary.errors.len() < MAX_REPORTED_ERRORS {
            self.summary.errors.push(what);
        }
    }

    fn add(&mut self, origin: &str, bytes: &[u8], format: Format) {
        let record = match parse_record(bytes, format) {
            Ok(r) => r,
            Err(e) => return self.error(format!("{origin}: {e}")),
        };
        self.summary.records_read += 1;
        if self.summary.records_read.is_multiple_of(PROGRESS_EVERY) {
            self.report(ImportPhase::Reading);
        }
        let fresh = !self.existing.contains(&record.id);
        match self.records.get(&record.id) {
            None => {
                self.summary.added += 1;
                self.records.insert(record.id.clone(), record);
            }
            Some(old) if is_newer(&record, old) => {
                // An id first seen in this import and seen again stays "added".
                if !fresh {
                    self.summary.updated += 1;
                }
                self.records.insert(record.id.clone(), record);
            }
            Some(_) => self.summary.unchanged += 1,
        }
    }

    fn read_file(&mut self, path: &Path, format: Format) {
        self.summary.files += 1;
        let origin = path.display().to_string();
        match read_bounded(File::open(path), MAX_RECORD_BYTES) {
            Ok(bytes) => self.add(&origin, &bytes, format),
            Err(e) => self.error(format!("{origin}: {e}")),
        }
    }

    fn read_zip(&mut self, path: &Path) -> Result<(), DbError> {
        let source_err = |reason: String| DbError::Source {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| source_err(e.to_string()))?;
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
            .map_err(|e| source_err(format!("not a readable zip archive: {e}")))?;
        self.summary.files += 1;
        self.source_total = Some(archive.len() as u64);
        self.report(ImportPhase::Reading);
        let mut buf = Vec::new();
        for i in 0..archive.len() {
            let mut entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    self.error(format!("{}: entry {i}: {e}", path.display()));
                    continue;
                }
            };
            let name = match entry.name() {
                Ok(n) => n.into_owned(),
                Err(e) => {
                    self.error(format!("{}: entry {i}: {e}", path.display()));
                    continue;
                }
            };
            let Some(format) = (!entry.is_dir())
                .then(|| Format::from_name(&name))
                .flatten()
            else {
                continue;
            };
            let origin = format!("{}!{name}", path.display());
            if entry.size() > MAX_RECORD_BYTES {
                self.error(format!("{origin}: larger than {MAX_RECORD_BYTES} bytes"));
                continue;
            }
            buf.clear();
            let read = (&mut entry)
                .take(MAX_RECORD_BYTES + 1)
                .read_to_end(&mut buf);
            match read {
                Ok(n) if n as u64 > MAX_RECORD_BYTES => {
                    self.error(format!("{origin}: larger than {MAX_RECORD_BYTES} bytes"));
                }
                Ok(_) => {
                    let bytes = std::mem::take(&mut buf);
                    self.add(&origin, &bytes, format);
                    buf = bytes;
                }
                Err(e) => self.error(format!("{origin}: {e}")),
            }
        }
        Ok(())
    }

    fn read_dir(&mut self, dir: &Path) -> Result<(), DbError> {
        let mut files = Vec::new();
        collect_files(dir, &mut files, 0)?;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        self.source_total = Some(files.len() as u64);
        self.report(ImportPhase::Reading);
        for (path, format) in files {
            self.read_file(&path, format);
        }
        Ok(())
    }

    fn read_source(&mut self, path: &Path) -> Result<(), DbError> {
        self.source = Some(path.to_path_buf());
        self.source_total = None;
        let meta = std::fs::metadata(path).map_err(|e| DbError::Source {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if meta.is_dir() {
            self.read_dir(path)
        } else if name.to_ascii_lowercase().ends_with(".zip") || starts_like_zip(path) {
            self.read_zip(path)
        } else if let Some(format) = Format::from_name(name) {
            self.source_total = Some(1);
            self.report(ImportPhase::Reading);
            self.read_file(path, format);
            Ok(())
        } else {
            Err(DbError::Source {
                path: path.to_path_buf(),
                reason: "expected a directory, a .zip archive or an OSV .json/.yaml file".into(),
            })
        }
    }
}

/// Whether `new` should replace `old`: a later `modified` time wins; with equal (or
/// unreadable) times the later source wins when the content differs.
fn is_newer(new: &Record, old: &Record) -> bool {
    match (new.modified_at(), old.modified_at()) {
        (Some(n), Some(o)) if n != o => n > o,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        _ => new != old,
    }
}

fn starts_like_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

fn read_bounded(file: std::io::Result<File>, max: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    file?.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(buf)
}

/// OSV files below `dir`; hidden directories (`.git`) are skipped.
fn collect_files(
    dir: &Path,
    out: &mut Vec<(PathBuf, Format)>,
    depth: usize,
) -> Result<(), DbError> {
    if depth > 32 {
        return Ok(());
    }
    let err = |e: std::io::Error| DbError::Source {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(err)?;
        let path = entry.path();
        if kind.is_dir() {
            collect_files(&path, out, depth + 1)?;
        } else if let Some(format) = Format::from_name(&name) {
            out.push((path, format));
        }
    }
    Ok(())
}

/// Imports OSV records from `paths` (osv.dev `all.zip` archives, directories of OSV
/// `.json`/`.yaml`/`.yml` files, or single files) into the database in `db_dir`, merging
/// with what is there, and rewrites the index atomically. Entries that cannot be parsed
/// are skipped and reported in the summary; an unreadable source fails the import and
/// leaves the database as it was.
pub fn import(
    db_dir: &Path,
    paths: &[PathBuf],
    progress: &dyn Fn(ImportProgress),
) -> Result<ImportSummary, DbError> {
    let started = Instant::now();
    std::fs::create_dir_all(db_dir).map_err(|source| DbError::Io {
        path: db_dir.to_path_buf(),
        source,
    })?;
    // One writer at a time: two imports merging concurrently would lose one's records.
    let lock_path = db_dir.join(".import.lock");
    let lock = File::create(&lock_path).map_err(|source| DbError::Io {
        path: lock_path.clone(),
        source,
    })?;
    lock.lock().map_err(|source| DbError::Io {
        path: lock_path.clone(),
        source,
    })?;

    let mut merger = Merger {
        records: BTreeMap::new(),
        existing: Default::default(),
        summary: ImportSummary::default(),
        progress,
        source: None,
        source_total: None,
    };
    merger.report(ImportPhase::Loading);
    let mut generation = 1;
    match VulnDb::open(db_dir) {
        Ok(db) => {
            generation = db.metadata().generation + 1;
            for r in db.all_records()? {
                merger.existing.insert(r.id.clone());
                merger.records.insert(r.id.clone(), r);
            }
        }
        Err(DbError::Missing(_)) => {}
        Err(e @ DbError::Corrupt { .. }) => {
            tracing::warn!("{e}; rebuilding from the import sources only");
        }
        Err(e) => return Err(e),
    }

    for path in paths {
        merger.read_source(path)?;
    }
    merger.source = None;
    merger.source_total = None;
    merger.report(ImportPhase::Writing);
    let metadata = writer::write(db_dir, &merger.records, generation)?;
    let mut summary = merger.summary;
    summary.total_records = metadata.records;
    summary.generation = metadata.generation;
    summary.elapsed = started.elapsed();
    progress(ImportProgress {
        phase: ImportPhase::Done,
        source: None,
        records_read: summary.records_read,
        source_total: None,
    });
    drop(lock);
    Ok(summary)
}
