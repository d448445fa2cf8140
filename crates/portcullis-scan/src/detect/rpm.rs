//! rpm databases. The SQLite form (RHEL 9, Rocky 9, Fedora ≥ 33) is read from memory; each
//! row holds one rpm header blob, parsed here. BerkeleyDB and NDB are reported as formats
//! the scanner cannot read, never as an empty database.

use crate::detect::{Fail, Found};
use crate::inventory::{Catalog, FileContent, Package, PackageType};

const TAG_NAME: i32 = 1000;
const TAG_VERSION: i32 = 1001;
const TAG_RELEASE: i32 = 1002;
const TAG_EPOCH: i32 = 1003;
const TAG_LICENSE: i32 = 1014;
const TAG_ARCH: i32 = 1022;
const TAG_SOURCERPM: i32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

pub(crate) fn unsupported(format: &str) -> FileContent {
    FileContent::UnsupportedDb {
        catalog: Catalog::Rpm,
        reason: format!("rpm database in {format} format is not supported"),
    }
}

/// Reads the packages of an `rpmdb.sqlite` file held in memory (patched in place, so
/// that no second copy is made besides SQLite's own).
pub(crate) fn parse_sqlite(mut bytes: Vec<u8>, out: &mut Found<'_, '_>) -> Result<(), Fail> {
    // A database left in WAL mode cannot be opened from memory; its header bytes 18–19
    // say so. Marking it as a rollback-journal database reads the same pages.
    if bytes.len() >= 20 && bytes[18] == 2 && bytes[19] == 2 {
        bytes[18] = 1;
        bytes[19] = 1;
    }
    let len = bytes.len();
    let mut conn = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    conn.deserialize_read_exact(rusqlite::MAIN_DB, &bytes[..], len, true)
        .map_err(|e| format!("not an SQLite database: {e}"))?;
    drop(bytes);
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| format!("no Packages table: {e}"))?;
    let rows = stmt
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    for blob in rows {
        let blob = blob.map_err(|e| e.to_string())?;
        let pkg = parse_header(&blob)?;
        if pkg.name != "gpg-pubkey" {
            out.push(pkg)?;
        }
    }
    Ok(())
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses one header blob as rpm stores it in its database: entry count, data length,
/// 16-byte index entries, then the data store.
pub(crate) fn parse_header(blob: &[u8]) -> Result<Package, String> {
    let bad = |what: &str| format!("malformed rpm header: {what}");
    let il = be_u32(blob, 0).ok_or_else(|| bad("short"))? as usize;
    let dl = be_u32(blob, 4).ok_or_else(|| bad("short"))? as usize;
    let index_end = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .ok_or_else(|| bad("index size"))?;
    let store = blob
        .get(index_end..index_end.checked_add(dl).ok_or_else(|| bad("data size"))?)
        .ok_or_else(|| bad("data store beyond the blob"))?;
    let (mut name, mut version, mut release, mut epoch, mut arch, mut srpm, mut license) =
        (None, None, None, None, None, None, None);
    for i in 0..il {
        let at = 8 + i * 16;
        let tag = be_u32(blob, at).ok_or_else(|| bad("index"))? as i32;
        let ty = be_u32(blob, at + 4).ok_or_else(|| bad("index"))?;
        let offset = be_u32(blob, at + 8).ok_or_else(|| bad("index"))? as usize;
        let string = || -> Result<String, String> {
            if ty != TYPE_STRING && ty != TYPE_I18NSTRING {
                return Err(bad("string tag of another type"));
            }
            let rest = store.get(offset..).ok_or_else(|| bad("offset"))?;
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| bad("unterminated string"))?;
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        match tag {
            TAG_NAME => name = Some(string()?),
            TAG_VERSION => version = Some(string()?),
            TAG_RELEASE => release = Some(string()?),
            TAG_ARCH => arch = Some(string()?),
            TAG_SOURCERPM => srpm = Some(string()?),
            TAG_LICENSE => license = Some(string()?),
            TAG_EPOCH if ty == TYPE_INT32 => {
                epoch = Some(be_u32(store, offset).ok_or_else(|| bad("epoch offset"))?);
            }
            _ => {}
        }
    }
    let name = name.ok_or_else(|| bad("no NAME"))?;
    let version = version.ok_or_else(|| bad("no VERSION"))?;
    let vr = match &release {
        Some(r) => format!("{version}-{r}"),
        None => version.clone(),
    };
    // Advisories compare full EVRs; a zero or absent epoch is left out as rpm does.
    let evr = match epoch {
        Some(e) if e > 0 => format!("{e}:{vr}"),
        _ => vr.clone(),
    };
    let mut pkg = Package::new(PackageType::Rpm, name, evr);
    pkg.epoch = epoch;
    pkg.arch = arch.filter(|a| !a.is_empty());
    pkg.license = license;
    if let Some((src_name, src_vr)) = srpm.as_deref().and_then(split_srpm) {
        pkg.source_name = Some(src_name.to_string());
        pkg.source_version = Some(match epoch {
            Some(e) if e > 0 => format!("{e}:{src_vr}"),
            _ => src_vr.to_string(),
        });
    }
    Ok(pkg)
}

/// `openssl-3.0.7-16.el9_2.src.rpm` → (`openssl`, `3.0.7-16.el9_2`).
fn split_srpm(srpm: &str) -> Option<(&str, &str)> {
    let base = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some((name, &base[name.len() + 1..]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a header blob with string tags and an optional epoch.
    pub(crate) fn header(strings: &[(i32, &str)], epoch: Option<u32>) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        if let Some(e) = epoch {
            index.push((TAG_EPOCH, TYPE_INT32, store.len() as u32));
            store.extend_from_slice(&e.to_be_bytes());
        }
        for (tag, s) in strings {
            index.push((*tag, TYPE_STRING, store.len() as u32));
            store.extend_from_slice(s.as_bytes());
            store.push(0);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(index.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(store.len() as u32).to_be_bytes());
        for (tag, ty, off) in index {
            blob.extend_from_slice(&tag.to_be_bytes());
            blob.extend_from_slice(&ty.to_be_bytes());
            blob.extend_from_slice(&off.to_be_bytes());
            blob.extend_from_slice(&1u32.to_be_bytes());
        }
        blob.extend_from_slice(&store);
        blob
    }

    #[test]
    fn parses_header() {
        let blob = header(
            &[
                (TAG_NAME, "openssl-libs"),
                (TAG_VERSION, "3.0.7"),
                (TAG_RELEASE, "16.el9_2"),
                (TAG_ARCH, "x86_64"),
                (TAG_SOURCERPM, "openssl-3.0.7-16.el9_2.src.rpm"),
            ],
            Some(1),
        );
        let p = parse_header(&blob).unwrap();
        assert_eq!(p.name, "openssl-libs");
        assert_eq!(p.version, "1:3.0.7-16.el9_2");
        assert_eq!(p.source_name.as_deref(), Some("openssl"));
        assert_eq!(p.source_version.as_deref(), Some("1:3.0.7-16.el9_2"));
        assert!(parse_header(&blob[..blob.len() - 3]).is_err());
        assert!(parse_header(&[0xff; 12]).is_err());
    }

    #[test]
    fn reads_sqlite_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        let blob = header(
            &[
                (TAG_NAME, "bash"),
                (TAG_VERSION, "5.1.8"),
                (TAG_RELEASE, "6.el9"),
            ],
            None,
        );
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&blob])
            .unwrap();
        drop(conn);
        let read = |d: Vec<u8>| {
            crate::detect::testing::parse_with(&Default::default(), |f| parse_sqlite(d, f))
        };
        let pkgs = read(std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].version, "5.1.8-6.el9");
        assert!(read(b"not a database at all, just some text....".to_vec()).is_err());
    }
}
