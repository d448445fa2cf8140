//! Java archives (jar, war, ear): `META-INF/maven/<group>/<artifact>/pom.properties`,
//! including archives nested inside archives (Spring Boot, WEB-INF/lib).

use std::io::{Cursor, Read};

use crate::detect::{Ctx, Found};
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

const SMALL_FILE: u64 = 64 * 1024;

/// Memory the zip reader takes per central directory entry (its record, name and
/// bookkeeping), and the smallest such entry in the file.
const ENTRY_COST: u64 = 320;
const MIN_CD_ENTRY: u64 = 46;

/// What opening `data` as a zip costs: the reader parses the whole central directory
/// up front, so a hostile archive of tiny entries costs far more than its size. The
/// directory's size comes from the end-of-central-directory record; without one (or
/// with ZIP64) the whole file is taken as directory.
fn index_cost(data: &[u8]) -> u64 {
    let tail = data.len().saturating_sub(u16::MAX as usize + 22);
    let cd_size = data[tail..]
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .and_then(|i| data.get(tail + i + 12..tail + i + 16))
        .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .filter(|&n| n != u64::from(u32::MAX))
        .unwrap_or(data.len() as u64)
        .min(data.len() as u64);
    cd_size / MIN_CD_ENTRY * ENTRY_COST
}

pub(crate) fn is_archive_name(name: &str) -> bool {
    // Byte-wise: names come from untrusted archives and need not end on ASCII.
    let ends = |ext: &[u8]| {
        let n = name.as_bytes();
        n.len() > ext.len() && n[n.len() - ext.len()..].eq_ignore_ascii_case(ext)
    };
    [&b".jar"[..], b".war", b".ear", b".par", b".hpi"]
        .iter()
        .any(|e| ends(e))
}

fn parse_pom_properties(text: &str) -> Option<Package> {
    let (mut g, mut a, mut v) = (None, None, None);
    for line in text.lines() {
        let Some((k, val)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "groupId" => g = Some(val.trim()),
            "artifactId" => a = Some(val.trim()),
            "version" => v = Some(val.trim()),
            _ => {}
        }
    }
    Some(Package::new(
        PackageType::Maven,
        format!("{}:{}", g?, a?),
        v?,
    ))
}

/// Lists the Maven packages of the archive at `path` (`data` is its bytes). Archives that
/// cannot be read, or nest deeper than the limit, leave a note.
pub(crate) fn parse(
    path: &str,
    data: Vec<u8>,
    ctx: &Ctx<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<Package>, LimitError> {
    let mut found = ctx.found("Java archive", path);
    walk(path, data, 0, ctx, notes, &mut found)?;
    let mut out = found.into_packages();
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    out.dedup();
    Ok(out)
}

fn note(ctx: &Ctx<'_>, notes: &mut Vec<String>, text: String) -> Result<(), LimitError> {
    ctx.keep(&text)?;
    notes.push(text);
    Ok(())
}

fn walk(
    path: &str,
    data: Vec<u8>,
    depth: u32,
    ctx: &Ctx<'_>,
    notes: &mut Vec<String>,
    out: &mut Found<'_, '_>,
) -> Result<(), LimitError> {
    let limits = ctx.limits;
    let _index = ctx.memory.reserve(index_cost(&data))?;
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => return note(ctx, notes, format!("{path}: unreadable archive: {e}")),
    };
    for i in 0..zip.len() {
        let Ok(mut entry) = zip.by_index(i) else {
            continue;
        };
        let Ok(name) = entry.name().map(|n| n.to_string()) else {
            continue;
        };
        let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
        let is_nested = is_archive_name(&name);
        if !is_pom && !is_nested {
            continue;
        }
        let cap = if is_pom {
            SMALL_FILE
        } else {
            limits.max_artifact_size
        };
        if entry.size() > cap {
            let size = entry.size();
            note(
                ctx,
                notes,
                format!("{path}!/{name}: {size} bytes, not inspected"),
            )?;
            continue;
        }
        // The declared size may lie: no more than it is inflated.
        let size = entry.size();
        let _buf = ctx.memory.reserve(size)?;
        let mut buf = Vec::new();
        if entry.by_ref().take(size).read_to_end(&mut buf).is_err() {
            note(ctx, notes, format!("{path}!/{name}: unreadable entry"))?;
            continue;
        }
        if is_pom {
            if let Some(p) = parse_pom_properties(&String::from_utf8_lossy(&buf)) {
                out.push(p)?;
            }
        } else if depth + 1 >= limits.max_archive_depth {
            note(
                ctx,
                notes,
                format!("{path}!/{name}: nested too deep, not inspected"),
            )?;
        } else {
            drop(entry);
            walk(&format!("{path}!/{name}"), buf, depth + 1, ctx, notes, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn jar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn nested_jars() {
        let inner = jar(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
        )]);
        let outer = jar(&[
            ("BOOT-INF/lib/log4j-core-2.14.1.jar", &inner),
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"version=1.0\ngroupId=com.example\nartifactId=app\n",
            ),
        ]);
        let limits = crate::Limits::default();
        let budget = crate::MemoryBudget::unlimited();
        let memory = budget.account();
        let ctx = Ctx::new(&limits, &memory);
        let mut notes = Vec::new();
        let p = parse("app.jar", outer, &ctx, &mut notes).unwrap();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["com.example:app", "org.apache.logging.log4j:log4j-core"]
        );
        assert!(notes.is_empty());
        parse("bad.jar", b"nope".to_vec(), &ctx, &mut notes).unwrap();
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn archive_names() {
        assert!(is_archive_name("app.JAR"));
        assert!(is_archive_name("x.war"));
        assert!(!is_archive_name(".jar"));
        assert!(!is_archive_name("META-INF/MANIFES\u{2566}.MF"));
        assert!(!is_archive_name("\u{2566}\u{2566}"));
    }
}
