//! SBOMs end to end: generated on push (`auto_sbom_generation`) or asked for with
//! `scan_type: "sbom"`, stored as an OCI artifact whose subject is the image.

#[macro_use]
mod common;

use std::time::Duration;

use common::scan::*;
use common::{Backends, SendAsAdmin, Server, client, expect_error};
use serde_json::{Value, json};

async fn sbom_is_stored_as_an_accessory(b: Backends) {
    let s = Server::start(b).await;
    import_vulndb(
        &s,
        &[advisory("DSA-5343-1", "CVE-2023-0286", "1.1.1n-0+deb11u4")],
    );
    create_project(&s, "team", json!({ "auto_sbom_generation": "true" })).await;
    let (digest, _) = push_debian(&s, "team/app", "1.0", &debian_layer(VULNERABLE), "a").await;
    let path = format!(
        "{}?with_sbom_overview=true",
        artifact_path("team", "app", "1.0")
    );
    let o = poll("the SBOM", Duration::from_secs(300), || async {
        let a: Value = client()
            .get(s.url(&path))
            .send_as_admin()
            .await
            .json()
            .await
            .unwrap();
        (a["sbom_overview"]["scan_status"] == "Success").then(|| a["sbom_overview"].clone())
    })
    .await;
    let sbom = o["sbom_digest"].as_str().expect("sbom_digest").to_string();
    // The referrers API and the accessories list find it by its subject.
    let refs: Value = client()
        .get(s.url(&format!("/v2/team/app/referrers/{digest}")))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    let found = refs["manifests"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{refs}");
    assert_eq!(found[0]["digest"], sbom.as_str());
    assert_eq!(
        found[0]["artifactType"],
        "application/vnd.goharbor.harbor.sbom.v1"
    );
    let acc: Value = client()
        .get(s.url(&format!(
            "{}/accessories",
            artifact_path("team", "app", "1.0")
        )))
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(acc[0]["type"], "harbor.sbom", "{acc}");
    // The document is SPDX JSON naming the image's package.
    let m: Value = client()
        .get(s.url(&format!("/v2/team/app/manifests/{sbom}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send_as_admin()
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(m["layers"][0]["mediaType"], "application/spdx+json");
    assert_eq!(m["subject"]["digest"], digest.as_str());
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let doc = client()
        .get(s.url(&format!("/v2/team/app/blobs/{layer}")))
        .send_as_admin()
        .await
        .text()
        .await
        .unwrap();
    assert!(
        doc.contains("SPDX-2.3") && doc.contains("libssl1.1"),
        "{doc}"
    );
    // The SBOM itself is not scanned, and asking for it is refused.
    let scan = s.url(&format!("{}/scan", artifact_path("team", "app", &sbom)));
    expect_error(
        client().post(&scan).send_as_admin().await,
        422,
        "UNPROCESSABLE_ENTITY",
    )
    .await;
    // By hand, on an image of a project without the setting.
    create_project(&s, "plain", json!({})).await;
    push_debian(&s, "plain/app", "1.0", &debian_layer(FIXED), "b").await;
    let scan = s.url(&format!("{}/scan", artifact_path("plain", "app", "1.0")));
    let resp = client()
        .post(&scan)
        .json(&json!({ "scan_type": "sbom" }))
        .send_as_admin()
        .await;
    assert_eq!(resp.status(), 202);
    let path = format!(
        "{}?with_sbom_overview=true",
        artifact_path("plain", "app", "1.0")
    );
    poll("the SBOM asked for", Duration::from_secs(300), || async {
        let a: Value = client()
            .get(s.url(&path))
            .send_as_admin()
            .await
            .json()
            .await
            .unwrap();
        (a["sbom_overview"]["scan_status"] == "Success").then_some(a)
    })
    .await;
}

on_both_backends!(sbom_is_stored_as_an_accessory);
