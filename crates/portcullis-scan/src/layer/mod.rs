//! Reading one layer: a bounded stream of tar entries, never unpacked to disk. Each
//! entry's path decides whether its contents are read at all.

pub mod decompress;

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use portcullis_types::Digest;

use crate::budget::{MemoryBudget, ScanMemory};
use crate::detect::{self, Ctx, Want};
use crate::error::{LimitError, ScanError};
use crate::inventory::{FileContent, LayerFile, LayerInventory};
use crate::limits::Limits;

pub use decompress::Compression;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Reads a layer blob (gzip, zstd or plain tar, as `media_type` and the magic bytes say)
/// and returns what it contributes to the image.
///
/// A stream that ends cleanly at an entry boundary without the end-of-archive blocks is
/// accepted. Every limit of `limits` is enforced while reading; memory is not counted
/// against any budget (see [`inventory_of_layer_within`]).
pub fn inventory_of_layer<R: Read>(
    reader: R,
    media_type: Option<&str>,
    digest: Option<Digest>,
    limits: &Limits,
) -> Result<LayerInventory, ScanError> {
    let memory = MemoryBudget::unlimited().account();
    inventory_of_layer_within(reader, media_type, digest, limits, &memory)
}

/// [`inventory_of_layer`] for a scan that holds `memory`: files are read only once their
/// bytes are reserved, and what the inventory keeps is charged to the scan for as long
/// as `memory` lives.
pub fn inventory_of_layer_within<R: Read>(
    reader: R,
    media_type: Option<&str>,
    digest: Option<Digest>,
    limits: &Limits,
    memory: &ScanMemory,
) -> Result<LayerInventory, ScanError> {
    let tar_stream = decompress::decompressed(reader, media_type)?;
    let mut bounded = decompress::Bounded::new(tar_stream, limits.max_layer_bytes);
    let mut inv = LayerInventory {
        digest,
        ..LayerInventory::default()
    };
    read_entries(&mut bounded, &Ctx::new(limits, memory), &mut inv)?;
    inv.bytes = bounded.count();
    Ok(inv)
}

/// Go's tar writer, left unclosed (as `umoci insert` leaves it), ends the stream right
/// after the last entry's data: no padding to the 512-byte block and no end-of-archive
/// blocks. When the stream ends exactly where the current entry's data ends, this supplies
/// the missing padding so that the archive ends cleanly; any other early end stays an
/// error.
struct PadTail<R> {
    inner: R,
    pos: u64,
    data_end: Rc<Cell<u64>>,
    padding: Option<u64>,
}

impl<R: Read> Read for PadTail<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(left) = self.padding {
            let n = left.min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            self.padding = Some(left - n as u64);
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && self.pos == self.data_end.get()
            && !self.pos.is_multiple_of(512)
        {
            self.padding = Some(512 - self.pos % 512);
            return self.read(buf);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_entries<R: Read>(
    reader: &mut R,
    ctx: &Ctx<'_>,
    inv: &mut LayerInventory,
) -> Result<(), ScanError> {
    let limits = ctx.limits;
    let data_end = Rc::new(Cell::new(0));
    let mut archive = tar::Archive::new(PadTail {
        inner: reader,
        pos: 0,
        data_end: data_end.clone(),
        padding: None,
    });
    for entry in archive.entries()? {
        let mut entry = entry?;
        data_end.set(entry.raw_file_position() + entry.size());
        inv.entries += 1;
        if inv.entries > limits.max_entries {
            return Err(LimitError::TooManyEntries {
                limit: limits.max_entries,
            }
            .into());
        }
        let Some(path) = normalize(&entry.path_bytes(), limits)? else {
            continue;
        };
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            ctx.keep(&path)?;
            if name == OPAQUE {
                inv.opaque_dirs.push(dir.to_string());
            } else if dir.is_empty() {
                inv.whiteouts.push(hidden.to_string());
            } else {
                inv.whiteouts.push(format!("{dir}/{hidden}"));
            }
            continue;
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0);
        let size = header.size().unwrap_or(0);
        if kind.is_symlink() || kind.is_hard_link() {
            let hard = kind.is_hard_link();
            let Some(target) = entry.link_name_bytes() else {
                continue;
            };
            let target = String::from_utf8_lossy(&target).into_owned();
            // Hard links name another entry of the archive: keep only those that stand for
            // a file a detector wants, with their target made root-relative.
            if hard {
                if detect::classify(&path, mode).is_none_or(|w| w == Want::Binary) {
                    continue;
                }
                let Some(target) = normalize(target.as_bytes(), limits)? else {
                    continue;
                };
                ctx.keep(&path)?;
                ctx.keep(&target)?;
                inv.files.push(LayerFile {
                    path,
                    content: FileContent::Link {
                        target: format!("/{target}"),
                        hard,
                    },
                });
            } else if detect::link_matters(&path) {
                ctx.keep(&path)?;
                ctx.keep(&target)?;
                inv.files.push(LayerFile {
                    path,
                    content: FileContent::Link { target, hard },
                });
            }
            continue;
        }
        if !(kind.is_file() || kind.is_contiguous()) {
            continue;
        }
        let content = match detect::classify(&path, mode) {
            None => None,
            Some(Want::Metadata(k)) => {
                let (limit, bound) = k.max_size(limits);
                if size > limit {
                    return Err(LimitError::FileTooLarge {
                        path,
                        size,
                        limit,
                        bound,
                    }
                    .into());
                }
                let _held = ctx.reserve_file(k, size)?;
                let data = read_exact_size(&mut entry, size)?;
                detect::parse_metadata(k, &path, data, ctx, &mut inv.notes)?
            }
            Some(Want::Binary) => {
                if size < 64 {
                    continue;
                }
                let mut head = [0u8; 4];
                entry.read_exact(&mut head)?;
                if !detect::is_executable_magic(&head) {
                    continue;
                }
                if size > limits.max_artifact_size {
                    let note = format!(
                        "{path}: executable of {size} bytes not inspected (limit {} of \
                         max_artifact_size)",
                        limits.max_artifact_size
                    );
                    keep_note(ctx, inv, note)?;
                    continue;
                }
                let Some(_held) = reserve_artifact(ctx, inv, &path, size + detect::BINARY_EXTRA)?
                else {
                    continue;
                };
                let mut data = Vec::with_capacity(size as usize);
                data.extend_from_slice(&head);
                entry.by_ref().take(size - 4).read_to_end(&mut data)?;
                detect::parse_binary(&path, &data, ctx)?
            }
            Some(Want::Jar) => {
                if size > limits.max_artifact_size {
                    let note = format!(
                        "{path}: archive of {size} bytes not inspected (limit {} of \
                         max_artifact_size)",
                        limits.max_artifact_size
                    );
                    keep_note(ctx, inv, note)?;
                    continue;
                }
                let Some(_held) = reserve_artifact(ctx, inv, &path, size)? else {
                    continue;
                };
                let data = read_exact_size(&mut entry, size)?;
                detect::parse_jar(&path, data, ctx, &mut inv.notes)?
            }
        };
        if let Some(content) = content {
            ctx.keep(&path)?;
            inv.files.push(LayerFile { path, content });
        }
    }
    Ok(())
}

fn keep_note(ctx: &Ctx<'_>, inv: &mut LayerInventory, note: String) -> Result<(), LimitError> {
    ctx.keep(&note)?;
    inv.notes.push(note);
    Ok(())
}

/// Reserves the memory to inspect an executable or archive. One larger than the whole
/// budget is skipped with a note, as one larger than `max_artifact_size` is: either
/// way the packages it may hold are not seen, and the note says so.
fn reserve_artifact<'m>(
    ctx: &Ctx<'m>,
    inv: &mut LayerInventory,
    path: &str,
    bytes: u64,
) -> Result<Option<crate::budget::Reservation<'m>>, LimitError> {
    match ctx.memory.reserve(bytes) {
        Ok(r) => Ok(Some(r)),
        Err(e @ LimitError::OverBudget { .. }) => {
            keep_note(ctx, inv, format!("{path}: not inspected: {e}"))?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn read_exact_size<R: Read>(r: &mut R, size: u64) -> Result<Vec<u8>, ScanError> {
    let mut data = Vec::with_capacity(size as usize);
    r.take(size).read_to_end(&mut data)?;
    Ok(data)
}

/// Makes an entry name root-relative (`./a//b` → `a/b`). Absolute names and `..`
/// components are refused: no real image builder writes them, and honouring them is how
/// extraction tools get tricked. `None` stands for the root itself.
pub(crate) fn normalize(raw: &[u8], limits: &Limits) -> Result<Option<String>, LimitError> {
    if raw.len() > limits.max_path_len {
        return Err(LimitError::PathTooLong {
            len: raw.len(),
            limit: limits.max_path_len,
        });
    }
    let text = String::from_utf8_lossy(raw);
    if text.starts_with('/') {
        return Err(LimitError::AbsolutePath {
            path: text.into_owned(),
        });
    }
    let mut out = String::with_capacity(text.len());
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(LimitError::PathTraversal {
                    path: text.into_owned(),
                });
            }
            p => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod budget_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_names() {
        let l = Limits::default();
        assert_eq!(
            normalize(b"./etc//os-release", &l).unwrap().unwrap(),
            "etc/os-release"
        );
        assert_eq!(normalize(b"./", &l).unwrap(), None);
        assert!(matches!(
            normalize(b"a/../../etc/passwd", &l),
            Err(LimitError::PathTraversal { .. })
        ));
        assert!(matches!(
            normalize(b"/etc/passwd", &l),
            Err(LimitError::AbsolutePath { .. })
        ));
        let long = vec![b'a'; 5000];
        assert!(matches!(
            normalize(&long, &l),
            Err(LimitError::PathTooLong { .. })
        ));
    }
}
