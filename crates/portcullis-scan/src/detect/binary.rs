//! Executables (ELF, Mach-O, PE): Go build information and cargo-auditable data.

use object::{Object, ObjectSection};

use crate::detect::{golang, rust};
use crate::inventory::{Catalog, FileContent};

pub(crate) fn is_executable_magic(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
        || head.starts_with(b"MZ")
        || matches!(
            head,
            [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
        )
}

pub(crate) fn parse(data: &[u8]) -> Option<FileContent> {
    let file = object::File::parse(data).ok()?;
    if let Some(info) = golang::build_info(&file) {
        return Some(FileContent::Packages {
            catalog: Catalog::GoBinary,
            packages: golang::packages_of(&info),
        });
    }
    let section = [".dep-v0", "__dep_v0"]
        .iter()
        .find_map(|n| file.section_by_name(n))?;
    let packages = rust::parse_auditable(section.data().ok()?)?;
    Some(FileContent::Packages {
        catalog: Catalog::RustBinary,
        packages,
    })
}
