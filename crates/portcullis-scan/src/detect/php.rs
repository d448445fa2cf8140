//! PHP: `composer.lock`.

use serde_json::Value;

use crate::detect::{Fail, Found};
use crate::inventory::{Package, PackageType};

pub(crate) fn parse(data: &[u8], out: &mut Found<'_, '_>) -> Result<(), Fail> {
    let v: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    for section in ["packages", "packages-dev"] {
        for entry in v
            .get(section)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(version)) = (
                entry.get("name").and_then(Value::as_str),
                entry.get("version").and_then(Value::as_str),
            ) else {
                continue;
            };
            // Composer keeps the tag's spelling ("v5.4.1"); advisories use the bare version.
            let version = match version.strip_prefix('v') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
                _ => version,
            };
            let mut p = Package::new(PackageType::Composer, name, version);
            p.license = entry
                .get("license")
                .and_then(Value::as_array)
                .and_then(|l| l.first())
                .and_then(Value::as_str)
                .map(str::to_string);
            out.push(p)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_lock() {
        let lock = br#"{"packages":[{"name":"guzzlehttp/guzzle","version":"7.4.0"}],"packages-dev":[{"name":"symfony/yaml","version":"v5.4.1"}]}"#;
        let p = crate::detect::testing::parse_with(&Default::default(), |f| super::parse(lock, f))
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].version, "5.4.1");
    }
}
