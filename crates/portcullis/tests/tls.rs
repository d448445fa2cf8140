//! HTTPS without a proxy: the server loads a certificate and key (rustls) and real
//! clients talk to it over TLS, checking the certificate.

mod common;

use std::process::Command;

use common::*;

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    // A test CA and a server certificate it signs (webpki refuses a CA as end entity).
    let d = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(
        d("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: Vec<Vec<String>> = vec![
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "1",
                "-subj",
                "/CN=portcullis-test-ca",
                "-keyout",
                &d("ca.key"),
                "-out",
                &d("ca.pem"),
            ],
        ]
        .concat()
        .iter()
        .map(|x| x.to_string())
        .collect(),
        [
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &d("key.pem"),
                "-out",
                &d("leaf.csr"),
            ],
        ]
        .concat()
        .iter()
        .map(|x| x.to_string())
        .collect(),
        [
            "x509",
            "-req",
            "-in",
            &d("leaf.csr"),
            "-CA",
            &d("ca.pem"),
            "-CAkey",
            &d("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &d("cert.pem"),
            "-extfile",
            &d("ext.cnf"),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect(),
    ];
    for args in steps {
        let made = Command::new(tool("openssl")).args(&args).output().unwrap();
        assert!(
            made.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let s = Server::start_with(
        Backends::Embedded,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    let https = format!("https://{}", s.addr);

    let trusted = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(d("ca.pem")).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let pong = trusted
        .get(format!("{https}/api/v2.0/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(pong.text().await.unwrap(), "Pong");
    let v2 = trusted.get(format!("{https}/v2/")).send_as_admin().await;
    assert_eq!(v2.status(), 200);
    // The token realm names the scheme the client used.
    let anon = trusted.get(format!("{https}/v2/")).send().await.unwrap();
    let challenge = anon.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(&format!("realm=\"{https}/service/token\"")),
        "{challenge}"
    );
    // A client that does not trust the certificate is refused at the TLS layer.
    let untrusted = reqwest::Client::new();
    assert!(
        untrusted
            .get(format!("{https}/api/v2.0/ping"))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP on the TLS port does not work.
    let plain = client()
        .get(format!("http://{}/api/v2.0/ping", s.addr))
        .send()
        .await;
    assert!(!plain.is_ok_and(|r| r.status().is_success()));
}
