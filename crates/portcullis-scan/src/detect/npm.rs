//! npm: installed `node_modules/**/package.json` and `package-lock.json` v1, v2 and v3.

use serde_json::Value;

use crate::detect::{Fail, Found};
use crate::inventory::{Package, PackageType};

/// `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`.
pub(crate) fn is_installed_package_json(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    parts.next(); // package.json
    let Some(name) = parts.next() else {
        return false;
    };
    match parts.next() {
        Some("node_modules") => !name.starts_with('.'),
        Some(scope) if scope.starts_with('@') => parts.next() == Some("node_modules"),
        _ => false,
    }
}

fn license_of(v: &Value) -> Option<String> {
    match v.get("license")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type")?.as_str().map(str::to_string),
        _ => None,
    }
}

pub(crate) fn parse_package_json(data: &[u8], out: &mut Found<'_, '_>) -> Result<(), Fail> {
    let v: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    let (Some(name), Some(version)) = (
        v.get("name").and_then(Value::as_str),
        v.get("version").and_then(Value::as_str),
    ) else {
        return Ok(());
    };
    let mut p = Package::new(PackageType::Npm, name, version);
    p.license = license_of(&v);
    Ok(out.push(p)?)
}

pub(crate) fn parse_lock(data: &[u8], out: &mut Found<'_, '_>) -> Result<(), Fail> {
    let v: Value = serde_json::from_slice(data).map_err(|e| format!("invalid JSON: {e}"))?;
    if let Some(packages) = v.get("packages").and_then(Value::as_object) {
        for (key, entry) in packages {
            if key.is_empty() || entry.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| key.rsplit_once("node_modules/").map(|(_, n)| n));
            let version = entry.get("version").and_then(Value::as_str);
            if let (Some(name), Some(version)) = (name, version) {
                let mut p = Package::new(PackageType::Npm, name, version);
                p.license = license_of(entry);
                out.push(p)?;
            }
        }
    } else if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        // v1: nested "dependencies" maps; depth is bounded by the file's size.
        let mut stack: Vec<&serde_json::Map<String, Value>> = vec![deps];
        while let Some(map) = stack.pop() {
            for (name, entry) in map {
                if let Some(version) = entry.get("version").and_then(Value::as_str)
                    && !version.starts_with("file:")
                {
                    out.push(Package::new(PackageType::Npm, name, version))?;
                }
                if let Some(inner) = entry.get("dependencies").and_then(Value::as_object) {
                    stack.push(inner);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_and_locks() {
        assert!(is_installed_package_json(
            "app/node_modules/lodash/package.json"
        ));
        assert!(is_installed_package_json(
            "node_modules/@babel/core/package.json"
        ));
        assert!(!is_installed_package_json("app/package.json"));
        let json = |d: &[u8]| {
            crate::detect::testing::parse_with(&Default::default(), |f| parse_package_json(d, f))
        };
        let lock = |d: &[u8]| {
            crate::detect::testing::parse_with(&Default::default(), |f| parse_lock(d, f)).unwrap()
        };
        let p = json(br#"{"name":"lodash","version":"4.17.15","license":"MIT"}"#).unwrap();
        assert_eq!(p[0].version, "4.17.15");
        assert!(matches!(json(b"{"), Err(Fail::Note(_))));
        let v3 = br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/minimist":{"version":"1.2.5"},"node_modules/a/node_modules/@s/b":{"version":"2.0.0"},"node_modules/l":{"link":true}}}"#;
        let mut names: Vec<_> = lock(v3).into_iter().map(|p| p.name).collect();
        names.sort();
        assert_eq!(names, ["@s/b", "minimist"]);
        let v1 = br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}}}}"#;
        assert_eq!(lock(v1).len(), 2);
    }
}
