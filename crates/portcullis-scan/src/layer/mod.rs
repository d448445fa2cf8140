//! Reading one layer: a bounded stream of tar entries, never unpacked to disk. Each
//! entry's path decides whether its contents are read at all.

pub mod decompress;

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use portcullis_types::Digest;

use crate::detect::{self, Want};
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
/// accepted. Every limit of `limits` is enforced while reading.
pub fn inventory_of_layer<R: Read>(
    reader: R,
    media_type: Option<&str>,
    digest: Option<Digest>,
    limits: &Limits,
) -> Result<LayerInventory, ScanError> {
    let tar_stream = decompress::decompressed(reader, media_type)?;
    let mut bounded = decompress::Bounded::new(tar_stream, limits.max_layer_bytes);
    let mut inv = LayerInventory {
        digest,
        ..LayerInventory::default()
    };
    read_entries(&mut bounded, limits, &mut inv)?;
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
    limits: &Limits,
    inv: &mut LayerInventory,
) -> Result<(), ScanError> {
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
                inv.files.push(LayerFile {
                    path,
                    content: FileContent::Link {
                        target: format!("/{target}"),
                        hard,
                    },
                });
            } else if detect::link_matters(&path) {
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
                if size > limits.max_file_size {
                    return Err(LimitError::FileTooLarge {
                        path,
                        size,
                        limit: limits.max_file_size,
                    }
                    .into());
                }
                let data = read_exact_size(&mut entry, size)?;
                detect::parse_metadata(k, &path, &data, &mut inv.notes)
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
                    inv.notes.push(format!(
                        "{path}: executable of {size} bytes not inspected (limit {})",
                        limits.max_artifact_size
                    ));
                    continue;
                }
                let mut data = Vec::with_capacity(size as usize);
                data.extend_from_slice(&head);
                entry.by_ref().take(size - 4).read_to_end(&mut data)?;
                detect::parse_binary(&data)
            }
            Some(Want::Jar) => {
                if size > limits.max_artifact_size {
                    inv.notes.push(format!(
                        "{path}: archive of {size} bytes not inspected (limit {})",
                        limits.max_artifact_size
                    ));
                    continue;
                }
                let data = read_exact_size(&mut entry, size)?;
                detect::parse_jar(&path, data, limits, &mut inv.notes)
            }
        };
        if let Some(content) = content {
            inv.files.push(LayerFile { path, content });
        }
    }
    Ok(())
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
