//! Executables (ELF, Mach-O, PE): Go build information and cargo-auditable data.

use object::{Object, ObjectSection};

use crate::detect::{Found, golang, rust};
use crate::error::LimitError;
use crate::inventory::{Catalog, FileContent};

pub(crate) fn is_executable_magic(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
        || head.starts_with(b"MZ")
        || matches!(
            head,
            [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
        )
}

pub(crate) fn parse(
    data: &[u8],
    mut found: Found<'_, '_>,
) -> Result<Option<FileContent>, LimitError> {
    let Ok(file) = object::File::parse(data) else {
        return Ok(None);
    };
    if let Some(info) = golang::build_info(&file) {
        golang::packages_of(&info, &mut found)?;
        return Ok(Some(FileContent::Packages {
            catalog: Catalog::GoBinary,
            packages: found.into_packages(),
        }));
    }
    let Some(section) = [".dep-v0", "__dep_v0"]
        .iter()
        .find_map(|n| file.section_by_name(n))
    else {
        return Ok(None);
    };
    let Ok(bytes) = section.data() else {
        return Ok(None);
    };
    if !rust::parse_auditable(bytes, &mut found)? {
        return Ok(None);
    }
    Ok(Some(FileContent::Packages {
        catalog: Catalog::RustBinary,
        packages: found.into_packages(),
    }))
}
