//! Turning a layer blob into a tar stream: compression is told by the media type and by
//! the stream's first bytes, and the decompressed size is bounded.

use std::io::{self, BufReader, Read};

use crate::error::{LimitError, ScanError, limit_io};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// What the media type declares, if it declares anything.
    pub fn from_media_type(mt: &str) -> Option<Compression> {
        let mt = mt.split(';').next().unwrap_or("").trim();
        if mt.ends_with("gzip") {
            Some(Compression::Gzip)
        } else if mt.ends_with("zstd") {
            Some(Compression::Zstd)
        } else if mt.ends_with(".tar") || mt.ends_with("tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// What the first bytes of a stream say.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Counts decompressed bytes and fails once `limit` is passed.
pub(crate) struct Bounded<R> {
    inner: R,
    count: u64,
    limit: u64,
}

impl<R> Bounded<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Bounded {
            inner,
            count: 0,
            limit,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(limit_io(LimitError::LayerTooLarge { limit: self.limit }));
        }
        Ok(n)
    }
}

const BUF: usize = 256 * 1024;

/// Opens the decompressed tar stream of a layer. The magic bytes decide; a media type that
/// declares a compression the bytes do not show is an error, since it means a corrupt or
/// mislabelled blob.
pub fn decompressed<'a, R: Read + 'a>(
    mut reader: R,
    media_type: Option<&str>,
) -> Result<Box<dyn Read + 'a>, ScanError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        let n = reader.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let sniffed = Compression::sniff(&head[..got]);
    if let Some(declared) = media_type.and_then(Compression::from_media_type)
        && declared != Compression::None
        && declared != sniffed
    {
        return Err(ScanError::MalformedLayer(format!(
            "media type says {declared:?} but the data is {sniffed:?}"
        )));
    }
    let stream = io::Cursor::new(head[..got].to_vec()).chain(reader);
    Ok(match sniffed {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(
            BufReader::with_capacity(BUF, stream),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(
            BufReader::with_capacity(BUF, stream),
        )?),
        Compression::None => Box::new(stream),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decodes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello").unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&b"hello"[..], 1).unwrap();
        for (blob, mt) in [
            (
                gz.clone(),
                Some("application/vnd.oci.image.layer.v1.tar+gzip"),
            ),
            (zs, None),
            (
                b"hello".to_vec(),
                Some("application/vnd.oci.image.layer.v1.tar"),
            ),
        ] {
            let mut out = String::new();
            decompressed(&blob[..], mt)
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, "hello");
        }
        assert!(matches!(
            decompressed(
                &b"plain"[..],
                Some("application/vnd.oci.image.layer.v1.tar+zstd")
            ),
            Err(ScanError::MalformedLayer(_))
        ));
    }

    #[test]
    fn bounded_stops() {
        let mut b = Bounded::new(&[0u8; 100][..], 10);
        let mut sink = Vec::new();
        let err: ScanError = b.read_to_end(&mut sink).unwrap_err().into();
        assert_eq!(err.limit(), Some(&LimitError::LayerTooLarge { limit: 10 }));
    }
}
