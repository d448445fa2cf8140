//! The Kubernetes admission webhook over real HTTP, on both backends: AdmissionReviews
//! for Pods and every pod-template kind, images from this registry judged by the pull
//! gate (a signed image is admitted, an unsigned one denied with the reason), images
//! from other registries by the allowed list, and the webhook's own token.

#[macro_use]
mod common;

use common::signing::*;
use common::*;
use portcullis_trust::testing::{KeyKind, SigningKey, cosign_payload};

on_both_backends!(admission_reviews);

const HOST: &str = "registry.test:5000";
const TOKEN: &str = "admission-token-7c1";

fn review(kind: &str, images: &[&str]) -> serde_json::Value {
    let containers: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, image)| serde_json::json!({ "name": format!("c{i}"), "image": image }))
        .collect();
    let pod_spec = serde_json::json!({ "containers": containers });
    let object = match kind {
        "Pod" => serde_json::json!({ "spec": pod_spec }),
        "CronJob" => {
            serde_json::json!({ "spec": { "jobTemplate": { "spec": { "template": { "spec": pod_spec } } } } })
        }
        _ => serde_json::json!({ "spec": { "template": { "spec": pod_spec } } }),
    };
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{kind}"),
            "kind": { "group": "", "version": "v1", "kind": kind },
            "operation": "CREATE",
            "object": object,
        }
    })
}

async fn decide(s: &Server, body: &serde_json::Value) -> (bool, String) {
    let resp = client()
        .post(s.url("/admission/validate"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["response"]["uid"], body["request"]["uid"]);
    let allowed = v["response"]["allowed"].as_bool().unwrap();
    let message = v["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !allowed {
        assert_eq!(v["response"]["status"]["code"], 403);
    }
    (allowed, message)
}

async fn admission_reviews(b: Backends) {
    let s = Server::start_with(
        b,
        &[
            "--admission-registry-hosts",
            HOST,
            "--admission-allowed-registries",
            "docker.io,ghcr.io/org",
            "--admission-token",
            TOKEN,
        ],
    )
    .await;
    let keys = tempfile::tempdir().unwrap();
    let release = SigningKey::generate(keys.path(), "release", KeyKind::P256);
    s.create_project("prod", false).await;
    set_metadata(&s, "prod", "enable_content_trust_cosign").await;
    trust(&s, "prod", "release", "cosign", &release.public_pem).await;
    let (good, good_bytes) = push_image(&s, "prod/app", "good", "good").await;
    cosign_sign(
        &s,
        "prod/app",
        &good,
        good_bytes.len(),
        &release,
        cosign_payload("prod/app", &good),
        true,
    )
    .await;
    push_image(&s, "prod/app", "bad", "bad").await;

    let good_ref = format!("{HOST}/prod/app:good");
    let bad_ref = format!("{HOST}/prod/app:bad");
    let pinned = format!("{HOST}/prod/app@{good}");
    for kind in [
        "Pod",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
    ] {
        let (allowed, message) = decide(
            &s,
            &review(
                kind,
                &[&good_ref, &pinned, "nginx:1.27", "ghcr.io/org/tool:v2"],
            ),
        )
        .await;
        assert!(allowed, "{kind}: {message}");
        let (allowed, message) = decide(&s, &review(kind, &[&good_ref, &bad_ref])).await;
        assert!(!allowed, "{kind}");
        assert_eq!(
            message,
            format!("image {bad_ref}: The image is not signed by cosign."),
            "{kind}"
        );
    }
    // Only the allowed path of an allowed registry.
    let (allowed, message) = decide(&s, &review("Pod", &["ghcr.io/other/tool:v2"])).await;
    assert!(!allowed);
    assert!(
        message.contains("ghcr.io/other/tool is not on the list"),
        "{message}"
    );
    // Another registry, a missing image, and several reasons at once.
    let (allowed, message) = decide(&s, &review("Pod", &["quay.io/evil/miner:latest"])).await;
    assert!(!allowed);
    assert!(
        message.contains("quay.io/evil/miner is not on the list of allowed registries"),
        "{message}"
    );
    let (allowed, message) = decide(
        &s,
        &review("Pod", &[&format!("{HOST}/prod/nothing:v1"), &bad_ref]),
    )
    .await;
    assert!(!allowed);
    assert!(
        message.contains("prod/nothing:v1: not found in this registry"),
        "{message}"
    );
    assert!(message.contains("; image "), "{message}");
    // Objects that run no pods are not this webhook's business.
    let mut cm = review("Pod", &[]);
    cm["request"]["kind"]["kind"] = "ConfigMap".into();
    assert!(decide(&s, &cm).await.0);

    // The token is required; a malformed review is a 400.
    let resp = client()
        .post(s.url("/admission/validate"))
        .json(&review("Pod", &[&bad_ref]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client()
        .post(s.url("/admission/validate"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "BAD_REQUEST").await;
}
