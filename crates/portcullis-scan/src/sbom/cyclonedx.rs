//! CycloneDX 1.5 JSON.

use serde_json::{Value, json};

use super::{SbomSubject, tool};
use crate::inventory::PackageType;
use crate::merge::ImageInventory;

/// A CycloneDX 1.5 BOM whose metadata component is the image and whose components are the
/// OS and the inventory packages.
pub fn cyclonedx(subject: &SbomSubject, inv: &ImageInventory) -> Value {
    let mut components = Vec::new();
    if let Some(os) = &inv.os {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": "os",
            "name": os.family,
            "version": os.version,
            "description": os.name,
        }));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let pkg = &p.package;
        let (group, name) = match (pkg.kind, pkg.name.split_once(':')) {
            (PackageType::Maven, Some((g, a))) => (Some(g), a),
            _ => (None, pkg.name.as_str()),
        };
        let mut properties = vec![
            json!({"name": "portcullis:package:type", "value": pkg.kind.as_str()}),
            json!({"name": "portcullis:package:path", "value": format!("/{}", p.path)}),
        ];
        if let Some(l) = &p.layer {
            properties.push(json!({"name": "portcullis:layer:digest", "value": l}));
        }
        if let Some(s) = &pkg.source_name {
            properties.push(json!({"name": "portcullis:package:source", "value": s}));
        }
        let mut c = json!({
            "type": "library",
            "bom-ref": format!("pkg-{}", i + 1),
            "name": name,
            "version": pkg.version,
            "properties": properties,
        });
        if let Some(g) = group {
            c["group"] = json!(g);
        }
        if !p.purl.is_empty() {
            c["purl"] = json!(p.purl);
        }
        if let Some(l) = &pkg.license {
            c["licenses"] = json!([{"license": {"name": l}}]);
        }
        components.push(c);
    }
    let mut root = json!({
        "type": "container",
        "bom-ref": "image",
        "name": subject.name,
    });
    if let Some(d) = &subject.digest {
        root["version"] = json!(d);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "version": 1,
        "metadata": {
            "timestamp": subject.created,
            "tools": {"components": [{"type": "application", "name": "portcullis", "version": tool().trim_start_matches("portcullis-")}]},
            "component": root,
        },
        "components": components,
    })
}
