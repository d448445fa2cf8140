//! Go: module information that the Go linker embeds in binaries (`go version -m`), and
//! `go.mod` files.
//!
//! The build information starts with the 14-byte magic `\xff Go buildinf:`, a pointer size
//! and a flags byte. Since Go 1.18 (flag bit 2) the version and module strings follow
//! inline as varint-prefixed strings; before that, two pointers lead to Go string headers
//! elsewhere in the binary's address space.

use object::{Object, ObjectSection};

use crate::detect::Found;
use crate::error::LimitError;
use crate::inventory::{Package, PackageType};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER: usize = 32;
const ALIGN: usize = 16;
const FLAG_BIG_ENDIAN: u8 = 1;
const FLAG_INLINE: u8 = 2;

/// The Go version and the module lines (`path`, `mod`, `dep`, `=>`, `build`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BuildInfo {
    pub go_version: String,
    pub modinfo: String,
}

fn uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

fn inline_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, n) = uvarint(data)?;
    let len = usize::try_from(len).ok()?;
    let rest = data.get(n..)?;
    Some((rest.get(..len)?, rest.get(len..)?))
}

fn read_at<'a>(file: &'a object::File<'a>, addr: u64, len: u64) -> Option<&'a [u8]> {
    file.sections().find_map(|s| {
        let start = s.address();
        if addr < start || addr.checked_add(len)? > start + s.size() {
            return None;
        }
        let data = s.data().ok()?;
        let off = usize::try_from(addr - start).ok()?;
        data.get(off..off.checked_add(usize::try_from(len).ok()?)?)
    })
}

fn pointer(data: &[u8], size: usize, big: bool) -> Option<u64> {
    let b = data.get(..size)?;
    Some(match (size, big) {
        (4, false) => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
        (4, true) => u64::from(u32::from_be_bytes(b.try_into().ok()?)),
        (8, false) => u64::from_le_bytes(b.try_into().ok()?),
        (8, true) => u64::from_be_bytes(b.try_into().ok()?),
        _ => return None,
    })
}

fn go_string<'a>(
    file: &'a object::File<'a>,
    addr: u64,
    size: usize,
    big: bool,
) -> Option<&'a [u8]> {
    let hdr = read_at(file, addr, 2 * size as u64)?;
    let data = pointer(hdr, size, big)?;
    let len = pointer(&hdr[size..], size, big)?;
    if len > 1 << 24 {
        return None;
    }
    read_at(file, data, len)
}

/// Finds and decodes the build information of a parsed executable.
pub(crate) fn build_info(file: &object::File<'_>) -> Option<BuildInfo> {
    let section = [".go.buildinfo", "__go_buildinfo", ".data", "__data"]
        .iter()
        .find_map(|n| file.section_by_name(n))?;
    let data = section.data().ok()?;
    // The header sits at a 16-byte boundary near the start of its section.
    let start = (0..data.len().min(64 * 1024))
        .step_by(ALIGN)
        .find(|&i| data[i..].starts_with(MAGIC))?;
    let hdr = data.get(start..start + HEADER)?;
    let ptr_size = usize::from(hdr[14]);
    let flags = hdr[15];
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (v, rest) = inline_string(data.get(start + HEADER..)?)?;
        let (m, _) = inline_string(rest)?;
        (v, m)
    } else {
        let big = flags & FLAG_BIG_ENDIAN != 0;
        let vaddr = pointer(&hdr[16..], ptr_size, big)?;
        let maddr = pointer(hdr.get(16 + ptr_size..)?, ptr_size, big)?;
        (
            go_string(file, vaddr, ptr_size, big)?,
            go_string(file, maddr, ptr_size, big).unwrap_or_default(),
        )
    };
    // Module info is framed by 16-byte sentinels, recognisable by the newline before
    // the closing one.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        modinfo
    };
    Some(BuildInfo {
        go_version: String::from_utf8_lossy(version).into_owned(),
        modinfo: String::from_utf8_lossy(modinfo).into_owned(),
    })
}

/// The Go standard library and the modules a binary was built from.
pub(crate) fn packages_of(info: &BuildInfo, out: &mut Found<'_, '_>) -> Result<(), LimitError> {
    if let Some(v) = info.go_version.strip_prefix("go") {
        // "go1.21.3 X:boringcrypto" and the like: the version is the first word.
        let v = v.split_whitespace().next().unwrap_or(v);
        out.push(Package::new(PackageType::Golang, "stdlib", v))?;
    }
    for line in info.modinfo.lines() {
        let line = out.line(line)?;
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.as_slice() {
            ["mod", path, version, ..] | ["dep", path, version, ..] => {
                if *version == "(devel)" {
                    continue;
                }
                out.push(Package::new(
                    PackageType::Golang,
                    *path,
                    version.trim_start_matches('v'),
                ))?;
            }
            // A replacement applies to the dependency just above it.
            ["=>", path, version, ..] => {
                if let Some(last) = out.last_mut()
                    && !version.is_empty()
                {
                    last.name = (*path).to_string();
                    last.version = version.trim_start_matches('v').to_string();
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `require` lines of a `go.mod`, single-line and block form.
pub(crate) fn parse_go_mod(text: &str, out: &mut Found<'_, '_>) -> Result<(), LimitError> {
    let mut in_block = false;
    for line in text.lines() {
        let line = out.line(line)?.split("//").next().unwrap_or("").trim();
        let spec = if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            if rest == "(" {
                in_block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        let mut words = spec.split_whitespace();
        if let (Some(path), Some(version)) = (words.next(), words.next()) {
            out.push(Package::new(
                PackageType::Golang,
                path,
                version.trim_start_matches('v'),
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod() {
        let m = "module example.com/app\n\ngo 1.20\n\nrequire golang.org/x/text v0.3.7\nrequire (\n\tgithub.com/gin-gonic/gin v1.7.0 // indirect\n)\n";
        let p = crate::detect::testing::parse_with(&Default::default(), |f| parse_go_mod(m, f))
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, "github.com/gin-gonic/gin");
        assert_eq!(p[1].version, "1.7.0");
    }

    /// Go < 1.18 layout: the header points at string headers elsewhere in memory. Here
    /// everything sits in one section at address 0 of a relocatable object.
    #[test]
    fn pointer_format() {
        let version = b"go1.16.15";
        let modinfo = format!(
            "{}path\tex.com/a\nmod\tex.com/a\t(devel)\t\ndep\tgolang.org/x/net\tv0.0.1\th1:x\n{}",
            "0".repeat(16),
            "1".repeat(16)
        );
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&[8, 0]);
        data.extend_from_slice(&32u64.to_le_bytes());
        data.extend_from_slice(&48u64.to_le_bytes());
        data.extend_from_slice(&64u64.to_le_bytes());
        data.extend_from_slice(&(version.len() as u64).to_le_bytes());
        data.extend_from_slice(&(64 + version.len() as u64).to_le_bytes());
        data.extend_from_slice(&(modinfo.len() as u64).to_le_bytes());
        data.extend_from_slice(version);
        data.extend_from_slice(modinfo.as_bytes());
        let mut obj = object::write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let id = obj.add_section(
            Vec::new(),
            b".go.buildinfo".to_vec(),
            object::SectionKind::Data,
        );
        obj.append_section_data(id, &data, 16);
        let bytes = obj.write().unwrap();
        let file = object::File::parse(&bytes[..]).unwrap();
        let info = build_info(&file).unwrap();
        assert_eq!(info.go_version, "go1.16.15");
        let p = crate::detect::testing::parse_with(&Default::default(), |f| packages_of(&info, f))
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[1].name.as_str(), p[1].version.as_str()),
            ("golang.org/x/net", "0.0.1")
        );
    }

    #[test]
    fn modinfo_lines() {
        let info = BuildInfo {
            go_version: "go1.20.1".into(),
            modinfo: "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.0.1\th1:x\n=>\tgolang.org/x/net\tv0.7.0\th1:y\nbuild\t-compiler=gc\n".into(),
        };
        let p = crate::detect::testing::parse_with(&Default::default(), |f| packages_of(&info, f))
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("stdlib", "1.20.1")
        );
        assert_eq!(p[1].version, "0.7.0");
    }
}
