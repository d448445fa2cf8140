//! .NET: `*.deps.json`, whose `libraries` map lists `Name/Version` keys.

use serde_json::Value;

use crate::detect::{Fail, Found};
use crate::inventory::{Package, PackageType};

pub(crate) fn parse(data: &[u8], out: &mut Found<'_, '_>) -> Result<(), Fail> {
    // deps.json files written on Windows often start with a byte-order mark.
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let v: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    for (key, lib) in v
        .get("libraries")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if lib.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        if let Some((name, version)) = key.split_once('/') {
            out.push(Package::new(PackageType::Nuget, name, version))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_libraries() {
        let deps = br#"{"libraries":{"App/1.0.0":{"type":"project"},"Newtonsoft.Json/12.0.1":{"type":"package"}}}"#;
        let p = crate::detect::testing::parse_with(&Default::default(), |f| super::parse(deps, f))
            .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "Newtonsoft.Json");
    }
}
