//! SPDX 2.3 JSON.

use serde_json::{Value, json};

use super::{SbomSubject, tool};
use crate::merge::ImageInventory;

fn spdx_id(prefix: &str, name: &str, i: usize) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{prefix}-{clean}-{i}")
}

/// An SPDX 2.3 document: the image as the described package, which CONTAINS every
/// inventory package (with its purl as an external reference).
pub fn spdx(subject: &SbomSubject, inv: &ImageInventory) -> Value {
    let root_id = "SPDXRef-Image".to_string();
    let namespace_tail = subject
        .digest
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut packages = vec![json!({
        "SPDXID": root_id,
        "name": subject.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root_id,
    })];
    if let Some(os) = &inv.os {
        let id = spdx_id("OperatingSystem", &os.family, 0);
        packages.push(json!({
            "SPDXID": id,
            "name": os.family,
            "versionInfo": os.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(json!({
            "spdxElementId": root_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let id = spdx_id("Package", &p.package.name, i + 1);
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.package.name,
            "versionInfo": p.package.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "LIBRARY",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "sourceInfo": format!("{} package found in /{}", p.package.kind.as_str(), p.path),
        });
        if !p.purl.is_empty() {
            pkg["externalRefs"] = json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }]);
        }
        if let Some(l) = &p.package.license {
            pkg["comment"] = json!(format!("declared license: {l}"));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": root_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.name,
        "documentNamespace": format!("https://portcullis.dev/spdx/{}/{}", subject.name.replace([':', '/', '@'], "-"), namespace_tail.replace(':', "-")),
        "creationInfo": {
            "created": subject.created,
            "creators": [format!("Tool: {}", tool())],
        },
        "documentDescribes": [root_id],
        "packages": packages,
        "relationships": relationships,
    })
}
