//! Test fixtures made with the `openssl` command (keys, a CA and leaf certificates, and
//! signatures), so that tests check this crate against an independent implementation
//! rather than against itself. `scripts/test.sh` provides openssl.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

/// Key kinds the fixtures make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

/// A private key on disk and its public half in PEM.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kind: KeyKind,
    pub private: PathBuf,
    pub public_pem: String,
}

/// A key with a certificate.
#[derive(Debug, Clone)]
pub struct CertKey {
    pub key: SigningKey,
    pub cert: PathBuf,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
}

fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is required for this test (scripts/test.sh installs it)");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(data) = input {
        stdin.write_all(data).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

impl SigningKey {
    /// A new key of `kind` written under `dir` as `<name>.key`.
    pub fn generate(dir: &Path, name: &str, kind: KeyKind) -> Self {
        let private = dir.join(format!("{name}.key"));
        let algo: &[&str] = match kind {
            KeyKind::P256 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            KeyKind::P384 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            KeyKind::Ed25519 => &["-algorithm", "ed25519"],
            KeyKind::Rsa => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        };
        let mut args = vec!["genpkey"];
        args.extend_from_slice(algo);
        args.extend_from_slice(&["-out", s(&private)]);
        openssl(&args, None);
        let public = openssl(&["pkey", "-in", s(&private), "-pubout"], None);
        SigningKey {
            kind,
            private,
            public_pem: String::from_utf8(public).unwrap(),
        }
    }

    /// A cosign signature of `payload`: SHA-256 (ECDSA as DER, RSA PKCS #1 v1.5), or
    /// Ed25519 over the payload.
    pub fn sign_cosign(&self, payload: &[u8]) -> Vec<u8> {
        match self.kind {
            KeyKind::Ed25519 => {
                // One-shot Ed25519 signing needs a file whose size openssl can read.
                let input = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(input.path(), payload).unwrap();
                openssl(
                    &[
                        "pkeyutl",
                        "-sign",
                        "-rawin",
                        "-inkey",
                        s(&self.private),
                        "-in",
                        s(input.path()),
                    ],
                    None,
                )
            }
            _ => openssl(
                &["dgst", "-sha256", "-sign", s(&self.private)],
                Some(payload),
            ),
        }
    }

    /// A JWS signature of `input` (`ES256`/`ES384` as fixed-size `r || s`, `PS256` for
    /// RSA) and the algorithm name.
    pub fn sign_jws(&self, input: &[u8]) -> (Vec<u8>, &'static str) {
        match self.kind {
            KeyKind::P256 => {
                let der = openssl(&["dgst", "-sha256", "-sign", s(&self.private)], Some(input));
                (der_to_fixed(&der, 32), "ES256")
            }
            KeyKind::P384 => {
                let der = openssl(&["dgst", "-sha384", "-sign", s(&self.private)], Some(input));
                (der_to_fixed(&der, 48), "ES384")
            }
            KeyKind::Rsa => (
                openssl(
                    &[
                        "dgst",
                        "-sha256",
                        "-sign",
                        s(&self.private),
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:digest",
                    ],
                    Some(input),
                ),
                "PS256",
            ),
            KeyKind::Ed25519 => panic!("notation does not sign with Ed25519"),
        }
    }
}

/// An ECDSA DER signature (`SEQUENCE { INTEGER r, INTEGER s }`) as `r || s`.
fn der_to_fixed(der: &[u8], size: usize) -> Vec<u8> {
    fn read_len(b: &[u8], i: &mut usize) -> usize {
        let first = b[*i] as usize;
        *i += 1;
        if first < 0x80 {
            return first;
        }
        let n = first & 0x7f;
        let mut len = 0;
        for _ in 0..n {
            len = (len << 8) | b[*i] as usize;
            *i += 1;
        }
        len
    }
    let mut i = 1;
    read_len(der, &mut i);
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02, "INTEGER expected");
        i += 1;
        let len = read_len(der, &mut i);
        let mut int = &der[i..i + len];
        i += len;
        while int.len() > size && int[0] == 0 {
            int = &int[1..];
        }
        out.extend(std::iter::repeat_n(0u8, size - int.len()));
        out.extend_from_slice(int);
    }
    out
}

fn extfile(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(format!("{name}.ext"));
    std::fs::write(&p, text).unwrap();
    p
}

fn with_der(key: SigningKey, cert: PathBuf) -> CertKey {
    let cert_pem = std::fs::read_to_string(&cert).unwrap();
    let cert_der = openssl(&["x509", "-in", s(&cert), "-outform", "DER"], None);
    CertKey {
        key,
        cert,
        cert_pem,
        cert_der,
    }
}

impl CertKey {
    /// A self-signed CA certificate valid for `days`.
    pub fn ca(dir: &Path, name: &str, kind: KeyKind, days: u32) -> Self {
        let key = SigningKey::generate(dir, name, kind);
        let cert = dir.join(format!("{name}.crt"));
        let days = days.to_string();
        openssl(
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                s(&key.private),
                "-out",
                s(&cert),
                "-days",
                &days,
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            None,
        );
        with_der(key, cert)
    }

    /// A certificate signed by `issuer`, valid for 30 days; `ca` makes it an
    /// intermediate CA, otherwise a code-signing leaf.
    pub fn issued_by(dir: &Path, issuer: &CertKey, name: &str, kind: KeyKind, ca: bool) -> Self {
        let key = SigningKey::generate(dir, name, kind);
        let csr = dir.join(format!("{name}.csr"));
        openssl(
            &[
                "req",
                "-new",
                "-key",
                s(&key.private),
                "-out",
                s(&csr),
                "-subj",
                &format!("/CN={name}"),
            ],
            None,
        );
        let ext = if ca {
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
        } else {
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n"
        };
        let ext = extfile(dir, name, ext);
        let cert = dir.join(format!("{name}.crt"));
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                s(&csr),
                "-CA",
                s(&issuer.cert),
                "-CAkey",
                s(&issuer.key.private),
                "-CAcreateserial",
                "-out",
                s(&cert),
                "-days",
                "30",
                "-extfile",
                s(&ext),
            ],
            None,
        );
        with_der(key, cert)
    }
}

/// cosign's simple signing payload for `digest` in `repository`.
pub fn cosign_payload(repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": { "docker-reference": repository },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A notation JWS envelope signing `digest` with `leaf`, carrying `chain` (leaf first)
/// in `x5c`; `signing_time` is RFC 3339.
pub fn notation_envelope(
    leaf: &CertKey,
    chain: &[&CertKey],
    media_type: &str,
    digest: &str,
    size: u64,
    signing_time: &str,
) -> Vec<u8> {
    let payload = serde_json::to_vec(&serde_json::json!({
        "targetArtifact": { "mediaType": media_type, "digest": digest, "size": size }
    }))
    .unwrap();
    let alg = match leaf.key.kind {
        KeyKind::P256 => "ES256",
        KeyKind::P384 => "ES384",
        _ => "PS256",
    };
    let protected = serde_json::to_vec(&serde_json::json!({
        "alg": alg,
        "crit": ["io.cncf.notary.signingScheme"],
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": signing_time,
    }))
    .unwrap();
    let (p, pl) = (b64url(&protected), b64url(&payload));
    let (sig, used) = leaf.key.sign_jws(format!("{p}.{pl}").as_bytes());
    assert_eq!(used, alg);
    serde_json::to_vec(&serde_json::json!({
        "payload": pl,
        "protected": p,
        "header": {
            "x5c": chain.iter().map(|c| base64::engine::general_purpose::STANDARD.encode(&c.cert_der)).collect::<Vec<_>>(),
            "io.cncf.notary.signingAgent": "portcullis-tests",
        },
        "signature": b64url(&sig),
    }))
    .unwrap()
}
