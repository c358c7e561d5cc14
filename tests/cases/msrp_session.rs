//! Library-level tests of the MSRP session layer (`sipkit::transport::msrp`, issues #5 and #6)
//! on loopback: the sender and the receiving endpoint end to end (text, UTF-8, empty, one byte,
//! binary, 10 MiB, unknown size, CPIM, TLS), raw TCP peers for out-of-order and interrupted
//! chunks and for the 481/413/415/501 answers, and a garbage peer that costs only its own
//! connection. Every wait is bounded.

use std::time::Duration;

use sipkit::transport::msrp::{
    CpimEnvelope, Delivered, Endpoint, EndpointConfig, LocalSession, MsrpError, MsrpSender,
    Outgoing, ReceiveEvent, ReceivedMessage, ReceiverLimits, SendEvent, SenderConfig,
    SessionConfig, StoreConfig, new_session_id,
};
use sipkit::transport::{ClientTls, ServerTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::server_pki::ServerPki;
use crate::support::{sha256_hex, xorshift_bytes};

const LIMIT: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

async fn endpoint(tls: Option<ServerTls>, session: SessionConfig) -> (Endpoint, LocalSession) {
    let ep = Endpoint::bind(EndpointConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        advertised_host: None,
        tls,
        limits: ReceiverLimits {
            idle: Duration::from_secs(20),
            ..ReceiverLimits::default()
        },
    })
    .await
    .expect("endpoint binds");
    let s = ep.add_session(session);
    (ep, s)
}

fn sender_uri() -> String {
    format!("msrp://127.0.0.1:9/{};tcp", new_session_id())
}

/// Events until a message arrives; panics on a connection error.
async fn next_message(ep: &mut Endpoint) -> ReceivedMessage {
    within("a delivered message", async {
        loop {
            match ep.recv().await.expect("endpoint alive") {
                ReceiveEvent::Message(m) => return m,
                ReceiveEvent::Error { error, .. } => panic!("connection error: {error}"),
                _ => {}
            }
        }
    })
    .await
}

fn text(content_type: &str, body: &[u8]) -> Outgoing<&'static [u8]> {
    let leaked: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
    Outgoing {
        reader: leaked,
        content_type: content_type.into(),
        size: Some(body.len() as u64),
        cpim: None,
    }
}

#[tokio::test]
async fn text_utf8_empty_one_byte_and_binary_end_to_end() {
    let (mut ep, local) = endpoint(None, SessionConfig::default()).await;
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, SenderConfig::default()),
    )
    .await
    .expect("sender binds");
    let bound = within("session bound", ep.recv()).await;
    assert!(
        matches!(bound, Some(ReceiveEvent::Connected { .. })),
        "{bound:?}"
    );
    let bound = within("session bound", ep.recv()).await;
    assert!(
        matches!(&bound, Some(ReceiveEvent::SessionBound { session_id, .. }) if *session_id == local.session_id),
        "{bound:?}"
    );
    // Binary content includes an end-line lookalike and every byte value.
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(b"\r\n-------abcd$\r\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("text/plain", b"Hey Bob, are you there?".to_vec()),
        (
            "text/plain;charset=utf-8",
            "h\u{e9}llo \u{1f600} \u{4e16}\u{754c}".as_bytes().to_vec(),
        ),
        ("text/plain", Vec::new()),
        ("text/plain", b"x".to_vec()),
        ("application/octet-stream", binary),
    ];
    for (ct, body) in cases {
        let mut events = Vec::new();
        let (summary, msg) = tokio::join!(
            within("send", sender.send(text(ct, &body), |e| events.push(e))),
            next_message(&mut ep)
        );
        let summary = summary.expect("sent");
        assert!(summary.confirmed);
        assert_eq!(summary.bytes, body.len() as u64);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SendEvent::SuccessReport { .. }))
        );
        assert_eq!(msg.content_type, ct);
        assert_eq!(msg.size, body.len() as u64);
        assert_eq!(msg.sha256, sha256_hex(&body));
        assert_eq!(msg.message_id, summary.message_id);
        match msg.content {
            Delivered::Text(t) => assert_eq!(t.as_bytes(), &body[..]),
            Delivered::Bytes(b) => {
                assert!(!ct.starts_with("text/"));
                assert_eq!(b, body);
            }
            Delivered::File(p) => panic!("small message stored in {}", p.display()),
        }
    }
}

#[tokio::test]
async fn ten_mib_file_streams_to_disk_with_equal_sha256() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = xorshift_bytes(10 << 20, 0x9E37_79B9_7F4A_7C15);
    let src = dir.path().join("source.bin");
    std::fs::write(&src, &data).expect("source file");
    let (mut ep, local) = endpoint(
        None,
        SessionConfig {
            store: StoreConfig {
                dir: dir.path().join("received"),
                memory_limit: 64 * 1024,
            },
            ..SessionConfig::default()
        },
    )
    .await;
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, SenderConfig::default()),
    )
    .await
    .expect("sender binds");
    let file = tokio::fs::File::open(&src).await.expect("open source");
    let mut acks = 0;
    let (summary, msg) = tokio::join!(
        within(
            "send 10 MiB",
            sender.send(
                Outgoing {
                    reader: file,
                    content_type: "application/octet-stream".into(),
                    size: Some(data.len() as u64),
                    cpim: None,
                },
                |e| {
                    if matches!(e, SendEvent::ChunkAcked { .. }) {
                        acks += 1;
                    }
                }
            )
        ),
        next_message(&mut ep)
    );
    let summary = summary.expect("sent");
    assert_eq!(summary.chunks, 160);
    assert_eq!(acks, 160);
    assert!(summary.throughput > 0.0);
    assert_eq!(msg.sha256, sha256_hex(&data));
    let Delivered::File(path) = msg.content else {
        panic!("a 10 MiB message must be stored in a file");
    };
    assert!(std::fs::read(path).expect("received file") == data);
}

#[tokio::test]
async fn unknown_size_and_small_chunks_with_a_window() {
    let (mut ep, local) = endpoint(None, SessionConfig::default()).await;
    let config = SenderConfig {
        chunk_size: 1000,
        window: 3,
        ..SenderConfig::default()
    };
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, config),
    )
    .await
    .expect("sender binds");
    let data = xorshift_bytes(10_500, 7);
    let reader: &[u8] = &data;
    let (summary, msg) = tokio::join!(
        within(
            "send",
            sender.send(
                Outgoing {
                    reader,
                    content_type: "application/octet-stream".into(),
                    size: None,
                    cpim: None,
                },
                |_| {}
            )
        ),
        next_message(&mut ep)
    );
    assert_eq!(summary.expect("sent").chunks, 11);
    assert_eq!(msg.sha256, sha256_hex(&data));
    assert_eq!(msg.content, Delivered::Bytes(data));
}

#[tokio::test]
async fn cpim_is_wrapped_and_unwrapped() {
    let (mut ep, local) = endpoint(None, SessionConfig::default()).await;
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, SenderConfig::default()),
    )
    .await
    .expect("sender binds");
    let body = "bonjour \u{e0} tous".as_bytes();
    let mut out = text("text/plain;charset=utf-8", body);
    out.cpim = Some(CpimEnvelope {
        from: "<sip:alice@example.com>".into(),
        to: "<sip:bob@example.com>".into(),
        date_time: String::new(),
    });
    let (summary, msg) = tokio::join!(
        within("send", sender.send(out, |_| {})),
        next_message(&mut ep)
    );
    summary.expect("sent");
    assert_eq!(msg.content_type, "text/plain;charset=utf-8");
    assert_eq!(msg.content, Delivered::Text("bonjour \u{e0} tous".into()));
    assert_eq!(msg.sha256, sha256_hex(body));
    let env = msg.cpim.expect("envelope");
    assert!(env.contains(&("From".to_owned(), "<sip:alice@example.com>".to_owned())));
}

#[tokio::test]
async fn tls_end_to_end() {
    let pki = ServerPki::new();
    let server = ServerTls::from_pem_files(&pki.cert_file, &pki.key_file).expect("server TLS");
    let client = ClientTls::new(Some(&pki.ca_file), false, None, None).expect("client TLS");
    let (mut ep, local) = endpoint(Some(server), SessionConfig::default()).await;
    assert!(local.uri.starts_with("msrps://127.0.0.1:"), "{}", local.uri);
    let from = format!("msrps://127.0.0.1:9/{};tcp", new_session_id());
    let mut sender = within(
        "binding over TLS",
        MsrpSender::connect(&from, &local.uri, Some(&client), SenderConfig::default()),
    )
    .await
    .expect("sender binds over TLS");
    let data = xorshift_bytes(200_000, 3);
    let reader: &[u8] = &data;
    let (summary, msg) = tokio::join!(
        within(
            "send",
            sender.send(
                Outgoing {
                    reader,
                    content_type: "image/png".into(),
                    size: Some(data.len() as u64),
                    cpim: None,
                },
                |_| {}
            )
        ),
        next_message(&mut ep)
    );
    assert!(summary.expect("sent").confirmed);
    assert_eq!(msg.sha256, sha256_hex(&data));
}

#[tokio::test]
async fn refused_content_type_is_a_typed_415() {
    let (mut ep, local) = endpoint(
        None,
        SessionConfig {
            accept_types: vec!["text/*".into()],
            ..SessionConfig::default()
        },
    )
    .await;
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, SenderConfig::default()),
    )
    .await
    .expect("sender binds");
    let err = within("send", sender.send(text("image/png", b"png"), |_| {}))
        .await
        .expect_err("415");
    assert_eq!(err.status(), Some(415), "{err}");
    assert!(err.to_string().contains("1-3/3"), "{err}");
    let ok = within("send", sender.send(text("text/html", b"<p>"), |_| {}));
    let (ok, msg) = tokio::join!(ok, next_message(&mut ep));
    ok.expect("text/html accepted by text/*");
    assert_eq!(msg.content, Delivered::Text("<p>".into()));
}

#[tokio::test]
async fn too_large_is_a_typed_413_and_unknown_session_481() {
    let (_ep, local) = endpoint(
        None,
        SessionConfig {
            max_size: 1000,
            ..SessionConfig::default()
        },
    )
    .await;
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, SenderConfig::default()),
    )
    .await
    .expect("sender binds");
    let big = vec![b'a'; 5000];
    let err = within("send", sender.send(text("text/plain", &big), |_| {}))
        .await
        .expect_err("413");
    assert_eq!(err.status(), Some(413), "{err}");
    let wrong = local.uri.replace(&local.session_id, "nosuchsession1");
    let err = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &wrong, None, SenderConfig::default()),
    )
    .await
    .expect_err("481");
    assert!(
        matches!(err, MsrpError::Rejected { code: 481, .. }),
        "{err}"
    );
}

// ---- raw TCP peers ----

struct Raw {
    s: TcpStream,
    to: String,
    from: String,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(ep: &Endpoint, to: &str) -> Raw {
        let s = TcpStream::connect(ep.local_addr()).await.expect("connect");
        Raw {
            s,
            to: to.to_owned(),
            from: "msrp://127.0.0.1:9/rawpeer1;tcp".into(),
            buf: Vec::new(),
        }
    }

    fn send_bytes(
        &self,
        tid: &str,
        method: &str,
        extra: &str,
        body: Option<&[u8]>,
        flag: char,
    ) -> Vec<u8> {
        let mut m = format!(
            "MSRP {tid} {method}\r\nTo-Path: {}\r\nFrom-Path: {}\r\n{extra}",
            self.to, self.from
        )
        .into_bytes();
        if let Some(b) = body {
            m.extend_from_slice(b"\r\n");
            m.extend_from_slice(b);
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(format!("-------{tid}{flag}\r\n").as_bytes());
        m
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.expect("write");
    }

    /// The next whole message from the endpoint (responses and REPORTs are bodiless).
    async fn read_msg(&mut self) -> String {
        within("a message from the endpoint", async {
            loop {
                if let Some(i) = find_end(&self.buf) {
                    let m: Vec<u8> = self.buf.drain(..i).collect();
                    return String::from_utf8(m).expect("utf-8");
                }
                let mut tmp = [0u8; 4096];
                let n = self.s.read(&mut tmp).await.expect("read");
                assert!(
                    n > 0,
                    "endpoint closed the connection; read so far: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                self.buf.extend_from_slice(&tmp[..n]);
            }
        })
        .await
    }
}

fn find_end(buf: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(buf).ok()?;
    let tid = text.strip_prefix("MSRP ")?.split(' ').next()?;
    let needle = format!("-------{tid}$\r\n");
    text.find(&needle).map(|i| i + needle.len())
}

#[tokio::test]
async fn raw_out_of_order_and_interrupted_chunks_reassemble() {
    let (mut ep, local) = endpoint(None, SessionConfig::default()).await;
    let mut raw = Raw::connect(&ep, &local.uri).await;
    let ct = "Content-Type: text/plain\r\n";
    // Second half first, then an interrupted first chunk continued by a third one.
    let c2 = raw.send_bytes(
        "tid00002",
        "SEND",
        &format!("Message-ID: m1abc\r\nByte-Range: 7-11/11\r\nSuccess-Report: yes\r\n{ct}"),
        Some(b"world"),
        '$',
    );
    raw.write(&c2).await;
    let r = raw.read_msg().await;
    assert!(r.starts_with("MSRP tid00002 200 OK\r\n"), "{r}");
    assert!(
        r.contains("To-Path: msrp://127.0.0.1:9/rawpeer1;tcp\r\n"),
        "{r}"
    );
    let c1 = raw.send_bytes(
        "tid00001",
        "SEND",
        &format!("Message-ID: m1abc\r\nByte-Range: 1-*/11\r\n{ct}"),
        Some(b"hel"),
        '+',
    );
    raw.write(&c1).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00001 200"));
    let c3 = raw.send_bytes(
        "tid00003",
        "SEND",
        &format!("Message-ID: m1abc\r\nByte-Range: 4-6/11\r\n{ct}"),
        Some(b"lo "),
        '+',
    );
    raw.write(&c3).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00003 200"));
    let report = raw.read_msg().await;
    assert!(report.contains(" REPORT\r\n"), "{report}");
    assert!(report.contains("Message-ID: m1abc\r\n"), "{report}");
    assert!(report.contains("Byte-Range: 1-11/11\r\n"), "{report}");
    assert!(report.contains("Status: 000 200 OK\r\n"), "{report}");
    let m = next_message(&mut ep).await;
    assert_eq!(m.content, Delivered::Text("hello world".into()));

    // An aborted message ('#') is reported and dropped; Failure-Report: no gets no response.
    let a = raw.send_bytes(
        "tid00004",
        "SEND",
        &format!("Message-ID: m2abc\r\nByte-Range: 1-*/*\r\nFailure-Report: no\r\n{ct}"),
        Some(b"part"),
        '#',
    );
    raw.write(&a).await;
    let aborted = within("abort", async {
        loop {
            if let Some(ReceiveEvent::Aborted {
                message_id,
                received,
                ..
            }) = ep.recv().await
            {
                return (message_id, received);
            }
        }
    })
    .await;
    assert_eq!(aborted, ("m2abc".to_owned(), 4));
    // Failure-Report: partial answers only errors: the next thing read is the 501.
    let p = raw.send_bytes(
        "tid00005",
        "SEND",
        &format!("Message-ID: m3abc\r\nFailure-Report: partial\r\n{ct}"),
        Some(b"quiet"),
        '$',
    );
    raw.write(&p).await;
    let u = raw.send_bytes("tid00006", "FROB", "", None, '$');
    raw.write(&u).await;
    let r = raw.read_msg().await;
    assert!(r.starts_with("MSRP tid00006 501 "), "{r}");
}

#[tokio::test]
async fn raw_error_statuses_481_413_415_400() {
    let (_ep, local) = endpoint(
        None,
        SessionConfig {
            accept_types: vec!["text/plain".into()],
            max_size: 100,
            ..SessionConfig::default()
        },
    )
    .await;
    let mut raw = Raw::connect(&_ep, &local.uri).await;
    let other = raw
        .send_bytes(
            "tid00010",
            "SEND",
            "Message-ID: m9abc\r\nContent-Type: text/plain\r\n",
            Some(b"x"),
            '$',
        )
        .to_vec();
    let other = String::from_utf8(other)
        .expect("ascii")
        .replace(&local.session_id, "unknownsess1");
    raw.write(other.as_bytes()).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00010 481 "));
    let big = raw.send_bytes(
        "tid00011",
        "SEND",
        "Message-ID: m9abd\r\nByte-Range: 1-*/5000\r\nContent-Type: text/plain\r\n",
        Some(&[b'a'; 300]),
        '#',
    );
    raw.write(&big).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00011 413 "));
    let endless = raw.send_bytes(
        "tid00014",
        "SEND",
        "Message-ID: m9abg\r\nByte-Range: 1-*/*\r\nContent-Type: text/plain\r\n",
        Some(&[b'a'; 300]),
        '$',
    );
    raw.write(&endless).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00014 413 "));
    let html = raw.send_bytes(
        "tid00012",
        "SEND",
        "Message-ID: m9abe\r\nContent-Type: text/html\r\n",
        Some(b"<p>"),
        '$',
    );
    raw.write(&html).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00012 415 "));
    let bad = raw.send_bytes(
        "tid00013",
        "SEND",
        "Message-ID: m9abf\r\nByte-Range: one-two\r\nContent-Type: text/plain\r\n",
        Some(b"x"),
        '$',
    );
    raw.write(&bad).await;
    assert!(raw.read_msg().await.starts_with("MSRP tid00013 400 "));
}

#[tokio::test]
async fn garbage_peer_loses_only_its_connection() {
    let (mut ep, local) = endpoint(None, SessionConfig::default()).await;
    let mut garbage = TcpStream::connect(ep.local_addr()).await.expect("connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    let mut huge = TcpStream::connect(ep.local_addr()).await.expect("connect");
    let mut head = b"MSRP abcd1234 SEND\r\nX-Pad: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 40_000));
    let _ = huge.write_all(&head).await;
    let mut errors = 0;
    within("two connection errors", async {
        while errors < 2 {
            if let Some(ReceiveEvent::Error { error, .. }) = ep.recv().await {
                assert!(matches!(error, MsrpError::Framing { .. }), "{error}");
                errors += 1;
            }
        }
    })
    .await;
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, SenderConfig::default()),
    )
    .await
    .expect("others still work");
    let (ok, msg) = tokio::join!(
        within(
            "send",
            sender.send(text("text/plain", b"still here"), |_| {})
        ),
        next_message(&mut ep)
    );
    ok.expect("sent");
    assert_eq!(msg.content, Delivered::Text("still here".into()));
}

#[tokio::test]
async fn rfc6135_receiver_active_sender_passive() {
    let (mut ep, local) = endpoint(None, SessionConfig::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let sender_path = format!("msrp://127.0.0.1:{port}/{};tcp", new_session_id());
    let accepting = MsrpSender::accept(
        &listener,
        None,
        &sender_path,
        &local.uri,
        SenderConfig::default(),
    );
    let (sender, connected) = tokio::join!(
        within("accept", accepting),
        within("connect", ep.connect(&local.session_id, &sender_path, None))
    );
    connected.expect("endpoint connects");
    let mut sender = sender.expect("sender accepts and is bound");
    let (ok, msg) = tokio::join!(
        within("send", sender.send(text("text/plain", b"reverse"), |_| {})),
        next_message(&mut ep)
    );
    assert!(ok.expect("sent").confirmed);
    assert_eq!(msg.content, Delivered::Text("reverse".into()));
}

/// Issue 15 item 1: with `SessionConfig::confirm`, the Success-Report leaves only after the
/// receiver of the events has kept the message (`Confirm::kept(true)`); `kept(false)` sends
/// none, so the sender never takes an unsaved message for delivered.
#[tokio::test]
async fn issue_15_success_report_waits_until_the_message_is_kept() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let session = SessionConfig {
        confirm: true,
        ..SessionConfig::default()
    };
    let (mut ep, local) = endpoint(None, session).await;
    let config = SenderConfig {
        timeout: Duration::from_secs(2),
        ..SenderConfig::default()
    };
    let mut sender = within(
        "binding",
        MsrpSender::connect(&sender_uri(), &local.uri, None, config),
    )
    .await
    .expect("sender binds");
    let kept = Arc::new(AtomicBool::new(false));
    let seen = kept.clone();
    let body = xorshift_bytes(200_000, 15);
    let (summary, ()) = tokio::join!(
        within(
            "send",
            sender.send(text("application/octet-stream", &body), move |e| {
                if matches!(e, SendEvent::SuccessReport { .. }) {
                    assert!(
                        seen.load(Ordering::SeqCst),
                        "report before the message was kept"
                    );
                }
            })
        ),
        async {
            let m = next_message(&mut ep).await;
            assert_eq!(m.sha256, sha256_hex(&body));
            kept.store(true, Ordering::SeqCst);
            m.confirm.expect("a report to confirm").kept(true);
        }
    );
    assert!(summary.expect("sent").confirmed);

    // Not kept: no Success-Report, the sender times out waiting for it.
    let (summary, ()) = tokio::join!(
        within("send", sender.send(text("text/plain", b"not kept"), |_| {})),
        async {
            let m = next_message(&mut ep).await;
            m.confirm.expect("a report to confirm").kept(false);
        }
    );
    assert!(
        !summary.is_ok_and(|s| s.confirmed),
        "a message not kept must not be confirmed"
    );
}
