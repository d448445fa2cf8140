//! Kubernetes admission: the images of a Pod, or of the pod template of a Deployment,
//! ReplicaSet, StatefulSet, DaemonSet, Job or CronJob, are admitted only when they come
//! from an allowed registry and, for images of this registry, when the pull gate would
//! let them out. The decision is the same one a pull gets; a cluster cannot run what the
//! registry would refuse to serve.

use serde_json::Value;

/// Which registries a cluster may pull from.
#[derive(Debug, Clone, Default)]
pub struct AdmissionSettings {
    /// Host names (with port, if any) under which clusters reach this registry: images
    /// there are judged by the pull gate. An entry may add a path (`host/prod`) to admit
    /// only images under it.
    pub own_hosts: Vec<String>,
    /// Other registries whose images are admitted without judgement (`*` admits all);
    /// entries may add a path prefix too (`ghcr.io/my-org`).
    pub allowed_registries: Vec<String>,
    /// When set, callers must present `Authorization: Bearer <token>`.
    pub token: Option<String>,
}

/// An image reference as written in a pod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port); `docker.io` when none is written.
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Splits `[host[:port]/]path[:tag][@digest]` as container runtimes do: the first path
/// component is a host only if it has a `.` or `:` or is `localhost`.
pub fn parse_image(image: &str) -> Option<ImageRef> {
    let image = image.trim();
    if image.is_empty() {
        return None;
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    let (registry, path) = match rest.split_once('/') {
        Some((first, path))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), path.to_string())
        }
        _ => ("docker.io".to_string(), rest.to_string()),
    };
    // A tag is after the last ':' of the last path component.
    let last_slash = path.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repository, tag) = match path[last_slash..].rfind(':') {
        Some(i) => (
            path[..last_slash + i].to_string(),
            Some(path[last_slash + i + 1..].to_string()),
        ),
        None => (path, None),
    };
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    if repository.is_empty() {
        return None;
    }
    Some(ImageRef {
        registry: registry.to_ascii_lowercase(),
        repository,
        tag,
        digest,
    })
}

/// Whether a list entry `host[/path]` covers an image: same host, and the repository is
/// the path or lies under it.
pub(crate) fn covers(entry: &str, r: &ImageRef) -> bool {
    let (host, path) = match entry.split_once('/') {
        Some((h, p)) => (h, p.trim_matches('/')),
        None => (entry, ""),
    };
    host.eq_ignore_ascii_case(&r.registry)
        && (path.is_empty()
            || r.repository == path
            || r.repository
                .strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('/')))
}

/// The images a reviewed object would run: every container, init container and
/// ephemeral container of its pod spec.
pub fn images_of(kind: &str, object: &Value) -> Result<Vec<String>, String> {
    let spec = match kind {
        "Pod" => object.pointer("/spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => object.pointer("/spec/template/spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        other => return Err(format!("objects of kind {other} are not reviewed")),
    };
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(i) = c.get("image").and_then(Value::as_str) {
                out.push(i.to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(registry: &str, repository: &str, tag: Option<&str>, digest: Option<&str>) -> ImageRef {
        ImageRef {
            registry: registry.into(),
            repository: repository.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn image_references() {
        assert_eq!(
            parse_image("nginx"),
            Some(img("docker.io", "library/nginx", None, None))
        );
        assert_eq!(
            parse_image("nginx:1.27"),
            Some(img("docker.io", "library/nginx", Some("1.27"), None))
        );
        assert_eq!(
            parse_image("bitnami/redis:7"),
            Some(img("docker.io", "bitnami/redis", Some("7"), None))
        );
        assert_eq!(
            parse_image("reg.example:5000/prod/app/web:v1@sha256:abc"),
            Some(img(
                "reg.example:5000",
                "prod/app/web",
                Some("v1"),
                Some("sha256:abc")
            ))
        );
        assert_eq!(
            parse_image("localhost/prod/app"),
            Some(img("localhost", "prod/app", None, None))
        );
        assert_eq!(
            parse_image("Reg.Example/prod/app@sha256:abc"),
            Some(img("reg.example", "prod/app", None, Some("sha256:abc")))
        );
        assert_eq!(parse_image(""), None);
    }

    #[test]
    fn list_entries() {
        let r = parse_image("reg.example/prod/app:v1").unwrap();
        assert!(covers("reg.example", &r));
        assert!(covers("REG.example/prod", &r));
        assert!(covers("reg.example/prod/app", &r));
        assert!(!covers("reg.example/pro", &r));
        assert!(!covers("reg.example/staging", &r));
        assert!(!covers("other.example", &r));
        assert!(covers("docker.io/library", &parse_image("nginx").unwrap()));
    }

    #[test]
    fn pod_templates() {
        let containers = serde_json::json!({
            "initContainers": [{ "image": "a" }],
            "containers": [{ "image": "b" }, { "name": "no image" }],
            "ephemeralContainers": [{ "image": "c" }],
        });
        let pod = serde_json::json!({ "spec": containers });
        assert_eq!(images_of("Pod", &pod).unwrap(), ["a", "b", "c"]);
        let deploy = serde_json::json!({ "spec": { "template": { "spec": containers } } });
        for kind in [
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
        ] {
            assert_eq!(images_of(kind, &deploy).unwrap(), ["a", "b", "c"], "{kind}");
        }
        let cron = serde_json::json!({ "spec": { "jobTemplate": { "spec": { "template": { "spec": containers } } } } });
        assert_eq!(images_of("CronJob", &cron).unwrap(), ["a", "b", "c"]);
        assert!(images_of("ConfigMap", &pod).is_err());
        assert!(images_of("Pod", &serde_json::json!({})).unwrap().is_empty());
    }
}
