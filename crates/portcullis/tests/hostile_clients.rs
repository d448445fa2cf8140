//! Clients that hold on to the server without doing their part: connections that never
//! finish their headers, downloads nobody reads, floods of connections. The server
//! closes what stalls and refuses what is over a limit early, while others are served.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to the server from the loopback address `from` (127.0.0.x), so that a
/// test can play several client addresses.
async fn connect_from(s: &Server, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    // A small receive window, so that a client that stops reading stalls the server's
    // writes after a few megabytes whatever the machine's TCP autotuning allows.
    socket.set_recv_buffer_size(16 << 10).unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(s.addr.parse().unwrap()).await.unwrap()
}

/// Reads until the server closes the connection; the bytes read, or `None` when it is
/// still open after `within`.
async fn closed_within(conn: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| got)
}

/// Pushes `layer` as the single layer of `repo:tag`, so that it may be pulled.
async fn push_image_with_layer(s: &Server, repo: &str, tag: &str, layer: &[u8]) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = push_blob(s, repo, config).await;
    let ld = push_blob(s, repo, layer).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len() }],
    });
    let resp = client()
        .put(s.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("authorization", admin_basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    ld
}

#[tokio::test]
async fn headers_that_never_finish_are_cut_off() {
    let s = Server::start_with(Backends::Embedded, &["--header-timeout-seconds", "2"]).await;
    // One byte: the server cannot even tell HTTP/1 from HTTP/2 yet.
    let mut first_byte = connect_from(&s, "127.0.0.1").await;
    first_byte.write_all(b"G").await.unwrap();
    // A request line and part of the headers, then nothing.
    let mut partial = connect_from(&s, "127.0.0.1").await;
    partial
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nUser-Agent: slow")
        .await
        .unwrap();
    // An idle keep-alive connection after one complete request.
    let mut idle = connect_from(&s, "127.0.0.1").await;
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n")
        .await
        .unwrap();
    for conn in [&mut first_byte, &mut partial] {
        assert!(
            closed_within(conn, Duration::from_secs(20)).await.is_some(),
            "a connection with unfinished headers stayed open"
        );
    }
    let answered = closed_within(&mut idle, Duration::from_secs(20))
        .await
        .expect("an idle connection stayed open");
    assert!(
        answered.starts_with(b"HTTP/1.1 401"),
        "{:?}",
        String::from_utf8_lossy(&answered)
    );
    // Meanwhile and afterwards, a normal client is served.
    let resp = client().get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn stalled_downloads_count_against_their_client_and_are_closed() {
    let s = Server::start_with(
        Backends::Embedded,
        &[
            "--max-requests-per-client",
            "4",
            "--send-timeout-seconds",
            "2",
        ],
    )
    .await;
    s.create_project("pub", true).await;
    // Larger than what loopback socket buffers absorb, so that a reader that stops
    // leaves the server waiting to write.
    let layer: Vec<u8> = (0..24u32 << 20).map(|i| (i % 251) as u8).collect();
    let digest = push_image_with_layer(&s, "pub/big", "v1", &layer).await;
    let request =
        format!("GET /v2/pub/big/blobs/{digest} HTTP/1.1\r\nHost: registry\r\n\r\n").into_bytes();

    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut conn = connect_from(&s, "127.0.0.2").await;
        conn.write_all(&request).await.unwrap();
        stalled.push(conn);
    }
    // Let the server start all four responses before asking for a fifth.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fifth = connect_from(&s, "127.0.0.2").await;
    let closing = String::from_utf8(request.clone())
        .unwrap()
        .replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    fifth.write_all(closing.as_bytes()).await.unwrap();
    let refused = closed_within(&mut fifth, Duration::from_secs(10)).await;
    let refused = String::from_utf8_lossy(refused.as_deref().unwrap_or_default()).to_string();
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.contains("TOOMANYREQUESTS"), "{refused}");

    // Another address pulls and pushes as if nothing happened.
    let pulled = client()
        .get(s.url(&format!("/v2/pub/big/blobs/{digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    assert_eq!(pulled.bytes().await.unwrap().len(), layer.len());
    push_blob(&s, "pub/other", b"pushed while others stall").await;

    // The send timeout closes the stalled downloads, which gives their slots back. (The
    // test must not read them meanwhile: reading would let them finish.)
    let head = format!(
        "HEAD /v2/pub/big/blobs/{digest} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n"
    );
    let mut answer = Vec::new();
    for _ in 0..60 {
        let mut again = connect_from(&s, "127.0.0.2").await;
        again.write_all(head.as_bytes()).await.unwrap();
        answer = closed_within(&mut again, Duration::from_secs(10))
            .await
            .unwrap();
        if !answer.starts_with(b"HTTP/1.1 429") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    for conn in &mut stalled {
        let got = closed_within(conn, Duration::from_secs(10))
            .await
            .expect("a stalled download stayed open past the send timeout");
        assert!(
            got.len() < layer.len(),
            "a stalled download was not cut off"
        );
    }
}

#[tokio::test]
async fn connections_over_the_cap_hear_503_and_the_rest_are_served() {
    let s = Server::start_with(Backends::Embedded, &["--max-connections", "6"]).await;
    let mut open = Vec::new();
    for _ in 0..6 {
        open.push(connect_from(&s, "127.0.0.3").await);
    }
    // Accepting is asynchronous: wait until the server has taken all six.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut over = connect_from(&s, "127.0.0.4").await;
    let answer = closed_within(&mut over, Duration::from_secs(10))
        .await
        .expect("a connection over the cap was left open");
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "SERVICE_UNAVAILABLE");

    drop(open);
    // The freed slots are taken by the next clients.
    let mut served = false;
    for _ in 0..50 {
        if let Ok(resp) = client().get(s.url("/v2/")).send().await {
            served = resp.status() == 401;
            if served {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "no connection was served after the others closed");
}

#[tokio::test]
async fn metrics_can_require_a_token_and_secrets_on_disk_are_private() {
    let s = Server::start_with(Backends::Embedded, &["--metrics-token", "scrape-me"]).await;
    let metrics = |auth: Option<&'static str>| {
        let mut req = client().get(s.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    let refused = metrics(None).await.unwrap();
    assert!(refused.headers().contains_key("www-authenticate"));
    expect_error(refused, 401, "UNAUTHORIZED").await;
    expect_error(
        metrics(Some("Bearer scrape-m")).await.unwrap(),
        401,
        "UNAUTHORIZED",
    )
    .await;
    let ok = metrics(Some("Bearer scrape-me")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("portcullis_events_emitted_total")
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| {
            std::fs::metadata(s.dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("portcullis.db"), 0o600);
        assert_eq!(mode("token.key"), 0o600);
    }
}
