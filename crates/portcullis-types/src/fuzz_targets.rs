//! Fuzz harnesses for the parsers that see client input first. Under `cargo test` each
//! replays its corpus (`src/__fuzz__/<target>/corpus`) and then runs random inputs for
//! a second; `cargo bolero test` runs them coverage-guided (docs/fuzzing.md).

use crate::{
    Digest, ManifestKind, ParsedManifest, ProjectName, Reference, RepoName, Tag, media,
    parse_content_range, parse_range,
};

/// The Content-Types a client may send with a manifest; the first byte of an input
/// picks one so that one corpus covers every branch of the header handling.
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(media::OCI_MANIFEST),
    Some(media::OCI_INDEX),
    Some(media::DOCKER_MANIFEST),
    Some(media::DOCKER_LIST),
    Some(media::DOCKER_SCHEMA1_SIGNED),
    Some("application/json"),
    Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
];

#[test]
fn manifest() {
    bolero::check!().for_each(|input: &[u8]| {
        let Some((&selector, body)) = input.split_first() else {
            return;
        };
        let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
        let Ok(m) = ParsedManifest::parse(body, content_type) else {
            return;
        };
        if m.kind.is_index() {
            assert!(m.config.is_none() && m.layers.is_empty());
        } else {
            assert!(m.config.is_some() && m.manifests.is_empty());
        }
        let _ = m.descriptor_algorithm();
        let _ = m.effective_artifact_type();
        assert!(m.required_blobs().count() <= m.layers.len() + 1);
        assert!(m.required_children().count() <= m.manifests.len());
        let _ = m.referenced_size();
        assert_eq!(
            ManifestKind::OciImage.media_type() == m.media_type(),
            m.kind == ManifestKind::OciImage
        );
    });
}

/// Repository names, tags, project names, references and digests: whatever parses
/// must print back as the same text, since it ends up in URLs, keys and logs.
#[test]
fn names() {
    bolero::check!().for_each(|input: &[u8]| {
        let s = String::from_utf8_lossy(input);
        if let Ok(r) = RepoName::parse(&s) {
            assert_eq!(r.as_str(), s);
            assert_eq!(format!("{}/{}", r.project(), r.path()), s);
        }
        if let Ok(t) = Tag::parse(&s) {
            assert_eq!(t.as_str(), s);
        }
        if let Ok(p) = ProjectName::parse(&s) {
            assert_eq!(p.as_str(), s);
        }
        if let Ok(r) = Reference::parse(&s) {
            assert_eq!(r.as_str(), s);
            assert_eq!(r.to_string(), s);
        }
        if let Ok(d) = Digest::parse(&s) {
            assert_eq!(d.as_str(), s);
            assert_eq!(Digest::parse(d.as_str()).as_ref(), Ok(&d));
            let _ = d.verify(input);
        }
    });
}

/// `Range` against a blob size and `Content-Range` against a `Content-Length`, both
/// taken from the first eight bytes; the rest is the header's value.
#[test]
fn ranges() {
    bolero::check!().for_each(|input: &[u8]| {
        let Some((number, value)) = input.split_first_chunk::<8>() else {
            return;
        };
        let number = u64::from_le_bytes(*number);
        let value = String::from_utf8_lossy(value);
        if let Ok(r) = parse_range(&value, number) {
            assert!(r.start < r.end && r.end <= number, "{r:?} of {number}");
        }
        for len in [None, Some(number)] {
            if let Ok((start, end)) = parse_content_range(&value, len) {
                assert!(start <= end);
                if let Some(len) = len {
                    assert_eq!(end - start, len - 1);
                }
            }
        }
    });
}
