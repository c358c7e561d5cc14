//! Library-level tests of `sipkit::transport::Listener` (issue #5, `sipkit listen`) on
//! loopback: every transport at once answered on the request's own flow, IPv6, stream framing
//! across reads, hostile peers that cost only their own connection, and connections the
//! listener opens itself. Every wait is bounded by `peer::within`.

use std::net::SocketAddr;
use std::time::Duration;

use sipkit::transport::{
    ClientTls, Connection, Destination, Event, Flow, Inbound, Limits, ListenSpec, Listener, Proto,
    ServerTls, TransportError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::support::peer::{self, ok, options, within};
use crate::support::server_pki::ServerPki;

fn spec(proto: Proto, addr: &str) -> ListenSpec {
    ListenSpec::new(proto, addr.parse().expect("address"))
}

fn addr_of(listener: &Listener, proto: Proto) -> SocketAddr {
    listener
        .local_addrs()
        .iter()
        .find(|s| s.proto == proto)
        .map(|s| s.addr)
        .unwrap_or_else(|| panic!("no {proto} socket"))
}

fn ipv6_available() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

/// The next event that `pick` accepts; the others (Opened, mostly) are skipped.
async fn next<T>(listener: &mut Listener, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    within("listener event", async {
        loop {
            if let Some(found) = pick(listener.recv().await) {
                return found;
            }
        }
    })
    .await
}

async fn next_message(listener: &mut Listener) -> Inbound {
    next(listener, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await
}

/// The `Closed` event of the connection from `remote`, with its error.
async fn closed_from(listener: &mut Listener, remote: SocketAddr) -> Option<TransportError> {
    next(listener, |e| match e {
        Event::Closed { flow, error } if flow.remote == remote => Some(error),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn every_transport_at_once_answers_on_the_request_flow() {
    let pki = ServerPki::new();
    let tls = ServerTls::from_pem_files(&pki.cert_file, &pki.key_file).expect("server TLS");
    let specs: Vec<ListenSpec> = Proto::ALL
        .into_iter()
        .map(|p| spec(p, "127.0.0.1:0"))
        .collect();
    let mut listener = Listener::bind(&specs, Some(tls), Limits::default())
        .await
        .expect("bind");
    let locals = listener.local_addrs().to_vec();
    assert_eq!(locals.len(), 5);
    for (asked, got) in specs.iter().zip(&locals) {
        assert_eq!(asked.proto, got.proto);
        assert_ne!(got.addr.port(), 0, "port 0 is resolved");
    }
    let client_tls =
        ClientTls::new(Some(&pki.ca_file), false, None, None).expect("client TLS config");
    for (n, local) in (1u32..).zip(&locals) {
        let dest = Destination::new(local.proto, local.addr, "127.0.0.1");
        let mut conn = within(
            "connect",
            Connection::connect(&dest, None, &client_tls, 64 * 1024),
        )
        .await
        .unwrap_or_else(|e| panic!("connect over {}: {e}", local.proto));
        conn.send(&options(n)).await.expect("client send");
        let got = next_message(&mut listener).await;
        assert_eq!(got.data, options(n), "over {}", local.proto);
        assert_eq!(got.flow.proto, local.proto);
        assert_eq!(got.flow.remote, conn.local_addr());
        assert_eq!(got.flow.local.port(), local.addr.port());
        assert_eq!(got.flow.conn.is_some(), local.proto.reliable());
        if local.proto.reliable() {
            assert!(listener.connections().contains(&got.flow));
        }
        listener.send(&got.flow, &ok(n, 2)).await.expect("reply");
        let reply = within("client recv", conn.recv()).await.expect("reply");
        assert_eq!(reply.data, ok(n, 2), "reply over {}", local.proto);
    }
}

#[tokio::test]
async fn ipv6_udp_and_tcp() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let specs = [spec(Proto::Udp, "[::1]:0"), spec(Proto::Tcp, "[::1]:0")];
    let mut listener = Listener::bind(&specs, None, Limits::default())
        .await
        .expect("bind");
    let plain = ClientTls::new(None, false, None, None).expect("TLS config");
    for proto in [Proto::Udp, Proto::Tcp] {
        let addr = addr_of(&listener, proto);
        assert!(addr.is_ipv6());
        let dest = Destination::new(proto, addr, "::1");
        let mut conn = within("connect", Connection::connect(&dest, None, &plain, 4096))
            .await
            .expect("connect");
        conn.send(&options(7)).await.expect("send");
        let got = next_message(&mut listener).await;
        assert!(got.flow.remote.is_ipv6());
        listener.send(&got.flow, &ok(7, 0)).await.expect("reply");
        let reply = within("client recv", conn.recv()).await.expect("reply");
        assert_eq!(reply.data, ok(7, 0));
    }
}

#[tokio::test]
async fn tcp_messages_split_and_merged_across_reads() {
    let mut listener = Listener::bind(&[spec(Proto::Tcp, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect("bind");
    let mut tcp = TcpStream::connect(addr_of(&listener, Proto::Tcp))
        .await
        .expect("connect");
    let first = options(1);
    let (head, tail) = first.split_at(30);
    tcp.write_all(head).await.expect("write");
    tcp.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The rest of the first, a keepalive, and two whole messages in one write.
    let mut rest = tail.to_vec();
    rest.extend_from_slice(b"\r\n\r\n");
    rest.extend(options(2));
    rest.extend(ok(3, 5));
    tcp.write_all(&rest).await.expect("write");
    let a = next_message(&mut listener).await;
    let b = next_message(&mut listener).await;
    let c = next_message(&mut listener).await;
    assert_eq!([a.data, b.data, c.data], [options(1), options(2), ok(3, 5)]);
    assert_eq!(a.flow, c.flow, "one connection, one flow");
    // An orderly close between messages is a close without error.
    drop(tcp);
    assert!(closed_from(&mut listener, a.flow.remote).await.is_none());
    assert!(
        listener.connections().is_empty(),
        "closed connection cleaned up"
    );
    assert!(matches!(
        listener.send(&a.flow, &ok(1, 0)).await,
        Err(TransportError::NoConnection { .. })
    ));
}

#[tokio::test]
async fn hostile_peers_cost_only_their_own_connection() {
    let limits = Limits {
        max_message: 1024,
        ..Limits::default()
    };
    let specs = [
        spec(Proto::Tcp, "127.0.0.1:0"),
        spec(Proto::Udp, "127.0.0.1:0"),
    ];
    let mut listener = Listener::bind(&specs, None, limits).await.expect("bind");
    let tcp_addr = addr_of(&listener, Proto::Tcp);

    let mut good = TcpStream::connect(tcp_addr).await.expect("connect");
    good.write_all(&options(1)).await.expect("write");
    let first = next_message(&mut listener).await;

    let mut garbage = TcpStream::connect(tcp_addr).await.expect("connect");
    garbage
        .write_all(b"HELLO WORLD\r\n\r\n")
        .await
        .expect("write");
    let error = closed_from(&mut listener, garbage.local_addr().expect("addr")).await;
    assert!(
        matches!(error, Some(TransportError::Framing { .. })),
        "{error:?}"
    );

    let mut big = TcpStream::connect(tcp_addr).await.expect("connect");
    big.write_all(&ok(2, 2000)).await.expect("write");
    let error = closed_from(&mut listener, big.local_addr().expect("addr")).await;
    assert!(
        matches!(error, Some(TransportError::TooLarge { limit: 1024, .. })),
        "{error:?}"
    );
    // The server closed both: their reads end.
    let mut sink = Vec::new();
    within("garbage closed", garbage.read_to_end(&mut sink))
        .await
        .ok();

    // An oversized datagram is an error event; the socket keeps working.
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let udp_listen = addr_of(&listener, Proto::Udp);
    udp.send_to(&ok(3, 2000), udp_listen).await.expect("send");
    let error = next(&mut listener, |e| match e {
        Event::Error { flow, error } if flow.proto == Proto::Udp => Some(error),
        _ => None,
    })
    .await;
    assert!(
        matches!(error, TransportError::TooLarge { .. }),
        "{error:?}"
    );
    udp.send_to(&options(4), udp_listen).await.expect("send");
    assert_eq!(next_message(&mut listener).await.data, options(4));

    // The good connection is untouched.
    good.write_all(&options(5)).await.expect("write");
    let again = next_message(&mut listener).await;
    assert_eq!(again.data, options(5));
    assert_eq!(again.flow, first.flow);
    listener.send(&again.flow, &ok(5, 0)).await.expect("reply");
    assert_eq!(within("reply", peer::read_head(&mut good)).await, ok(5, 0));
    assert_eq!(listener.connections(), vec![first.flow]);
}

#[tokio::test]
async fn slow_and_silent_peers_are_disconnected() {
    let limits = Limits {
        idle: Duration::from_millis(400),
        message_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut listener = Listener::bind(&[spec(Proto::Tcp, "127.0.0.1:0")], None, limits)
        .await
        .expect("bind");
    let addr = addr_of(&listener, Proto::Tcp);
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(&options(1)[..40]).await.expect("write");
    let error = closed_from(&mut listener, slow.local_addr().expect("addr")).await;
    assert!(
        matches!(error, Some(TransportError::Stalled { pending: 40, .. })),
        "{error:?}"
    );
    let silent = TcpStream::connect(addr).await.expect("connect");
    let error = closed_from(&mut listener, silent.local_addr().expect("addr")).await;
    assert!(
        matches!(error, Some(TransportError::Idle { .. })),
        "{error:?}"
    );
    // A TLS-less client on a TLS port never finishes the handshake: reported, not opened.
    let pki = ServerPki::new();
    let tls = ServerTls::from_pem_files(&pki.cert_file, &pki.key_file).expect("server TLS");
    let mut listener = Listener::bind(&[spec(Proto::Tls, "127.0.0.1:0")], Some(tls), limits)
        .await
        .expect("bind");
    let mut plain = TcpStream::connect(addr_of(&listener, Proto::Tls))
        .await
        .expect("connect");
    plain.write_all(&options(2)).await.expect("write");
    let error = next(&mut listener, |e| match e {
        Event::Error { error, .. } => Some(error),
        _ => None,
    })
    .await;
    assert!(
        matches!(error, TransportError::TlsAccept { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn websocket_without_the_sip_subprotocol_is_refused() {
    let mut listener = Listener::bind(&[spec(Proto::Ws, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect("bind");
    let addr = addr_of(&listener, Proto::Ws);
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let url = format!("ws://127.0.0.1:{}/", addr.port());
    let refused = within("ws handshake", tokio_tungstenite::client_async(url, tcp)).await;
    let message = refused
        .expect_err("upgrade without sip refused")
        .to_string();
    assert!(message.contains("400"), "{message}");
    let error = next(&mut listener, |e| match e {
        Event::Error { error, .. } => Some(error),
        _ => None,
    })
    .await;
    assert!(
        matches!(error, TransportError::WebSocket { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn send_to_opens_a_connection_and_reuses_it() {
    let mut listener = Listener::bind(&[spec(Proto::Udp, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect("bind");
    let peer_listener = TcpListener::bind("127.0.0.1:0").await.expect("peer bind");
    let peer_addr = peer_listener.local_addr().expect("addr");

    let flow: Flow = within(
        "send_to",
        listener.send_to(Proto::Tcp, peer_addr, &options(1)),
    )
    .await
    .expect("send_to");
    assert_eq!(flow.remote, peer_addr);
    let (mut peer, _) = within("accept", peer_listener.accept())
        .await
        .expect("accept");
    assert_eq!(
        within("peer read", peer::read_head(&mut peer)).await,
        options(1)
    );
    // The answer arrives as an event on the same flow; a second request reuses the connection.
    peer.write_all(&ok(1, 0)).await.expect("peer write");
    let got = next_message(&mut listener).await;
    assert_eq!((got.data, got.flow), (ok(1, 0), flow));
    let again = listener
        .send_to(Proto::Tcp, peer_addr, &options(2))
        .await
        .expect("send_to");
    assert_eq!(again, flow);
    assert_eq!(
        within("peer read", peer::read_head(&mut peer)).await,
        options(2)
    );

    // UDP goes out of the listening socket.
    let udp_peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let udp_flow = listener
        .send_to(
            Proto::Udp,
            udp_peer.local_addr().expect("addr"),
            &options(3),
        )
        .await
        .expect("send_to udp");
    let mut buf = [0u8; 2048];
    let (n, from) = within("udp recv", udp_peer.recv_from(&mut buf))
        .await
        .expect("recv");
    assert_eq!(buf.get(..n), Some(&options(3)[..]));
    assert_eq!(from, addr_of(&listener, Proto::Udp));
    assert_eq!(udp_flow.local, from);

    // The peer hangs up: the connection is reported closed and forgotten.
    drop(peer);
    assert!(closed_from(&mut listener, peer_addr).await.is_none());
    assert!(listener.connections().is_empty());
}

#[tokio::test]
async fn tls_without_a_certificate_and_busy_ports_are_errors() {
    let err = Listener::bind(&[spec(Proto::Tls, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect_err("tls needs a certificate");
    assert!(matches!(err, TransportError::TlsConfig(_)), "{err}");
    let taken = Listener::bind(&[spec(Proto::Tcp, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect("bind");
    let busy = ListenSpec::new(Proto::Tcp, addr_of(&taken, Proto::Tcp));
    let err = Listener::bind(&[busy], None, Limits::default())
        .await
        .expect_err("port in use");
    assert!(matches!(err, TransportError::Bind { .. }), "{err}");
    let dir = crate::support::tempdir();
    let missing = dir.path().join("missing.pem");
    let err = ServerTls::from_pem_files(&missing, &missing).expect_err("no such file");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[tokio::test]
async fn retransmitted_udp_request_is_answered_from_the_transaction() {
    use sipkit::proto::Status;
    use sipkit::proto::sip::{ParseOptions, parse};
    use sipkit::transport::server_transaction::{Action, ServerTransactions, Timers};

    let mut listener = Listener::bind(&[spec(Proto::Udp, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect("bind");
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let server = addr_of(&listener, Proto::Udp);
    let mut table: ServerTransactions<Flow> = ServerTransactions::new(Timers::default());
    let mut answered = 0;
    for _ in 0..3 {
        client.send_to(&options(9), server).await.expect("send");
        let got = next_message(&mut listener).await;
        let now = std::time::Instant::now();
        let action = match parse(&got.data, &ParseOptions::datagram()) {
            Ok(Status::Complete(m, _)) => table.on_request(&m, false, got.flow, now),
            other => panic!("{other:?}"),
        }
        .expect("classified");
        match action {
            Action::New(id) => {
                table.respond(id, 200, &ok(9, 1), now).expect("respond");
                listener.send(&got.flow, &ok(9, 1)).await.expect("send");
                answered += 1;
            }
            Action::Retransmit { response, .. } => {
                listener.send(&got.flow, &response).await.expect("resend");
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut buf = [0u8; 2048];
        let (n, _) = within("reply", client.recv_from(&mut buf))
            .await
            .expect("recv");
        assert_eq!(buf.get(..n), Some(&ok(9, 1)[..]));
    }
    assert_eq!(answered, 1, "the TU saw the request once");
    assert_eq!(table.len(), 1);
}

/// A raw WebSocket client connection to `addr` that offered `sip`, for frames written by hand.
async fn ws_raw(addr: SocketAddr) -> TcpStream {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("ws://127.0.0.1:{}/", addr.port())
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        tokio_tungstenite::tungstenite::http::HeaderValue::from_static("sip"),
    );
    let (ws, response) = within(
        "ws handshake",
        tokio_tungstenite::client_async(request, tcp),
    )
    .await
    .expect("upgrade");
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some("sip")
    );
    ws.into_inner()
}

#[tokio::test]
async fn websocket_peers_breaking_rfc_6455_or_the_limit_are_closed() {
    let limits = Limits {
        max_message: 1024,
        ..Limits::default()
    };
    let mut listener = Listener::bind(&[spec(Proto::Ws, "127.0.0.1:0")], None, limits)
        .await
        .expect("bind");
    let addr = addr_of(&listener, Proto::Ws);
    // Unmasked client frame (RFC 6455 §5.1).
    let mut unmasked = ws_raw(addr).await;
    unmasked
        .write_all(&[0x81, 3, b'a', b'b', b'c'])
        .await
        .expect("write");
    let error = closed_from(&mut listener, unmasked.local_addr().expect("addr")).await;
    assert!(
        matches!(error, Some(TransportError::WebSocket { .. })),
        "{error:?}"
    );
    // A frame header announcing 100000 bytes is refused before the payload arrives.
    let mut big = ws_raw(addr).await;
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&100_000u64.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    big.write_all(&frame).await.expect("write");
    let error = closed_from(&mut listener, big.local_addr().expect("addr")).await;
    assert!(
        matches!(error, Some(TransportError::TooLarge { .. })),
        "{error:?}"
    );
    // A well-behaved masked message still gets through, answered unmasked.
    let mut good = ws_raw(addr).await;
    let payload = options(3);
    let mut frame = vec![0x81, 0x80 | 126];
    frame.extend_from_slice(&u16::try_from(payload.len()).expect("short").to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&payload);
    good.write_all(&frame).await.expect("write");
    let got = next_message(&mut listener).await;
    assert_eq!(got.data, payload);
    listener.send(&got.flow, b"hi").await.expect("reply");
    let mut head = [0u8; 4];
    within("reply frame", good.read_exact(&mut head))
        .await
        .expect("read");
    assert_eq!(head, [0x81, 2, b'h', b'i']);
}

#[tokio::test]
async fn send_all_sends_a_burst_in_order_and_names_the_datagram_that_failed() {
    let listener = Listener::bind(&[spec(Proto::Udp, "127.0.0.1:0")], None, Limits::default())
        .await
        .expect("bind");
    let local = addr_of(&listener, Proto::Udp);
    let a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let flow_to = |remote: SocketAddr| Flow {
        proto: Proto::Udp,
        local,
        remote,
        conn: None,
    };
    let to_a = flow_to(a.local_addr().expect("addr"));
    let to_b = flow_to(b.local_addr().expect("addr"));
    // Port 0 is no destination: the kernel refuses that one datagram (EINVAL), the rest go.
    let nowhere = flow_to("127.0.0.1:0".parse().expect("addr"));
    // More than one system call takes, alternating peers, a failure in the middle.
    let payloads: Vec<Vec<u8>> = (0..70u8).map(|i| vec![i; usize::from(i) + 1]).collect();
    let flows: Vec<&Flow> = (0..70)
        .map(|i| match i {
            40 => &nowhere,
            i if i % 2 == 0 => &to_a,
            _ => &to_b,
        })
        .collect();
    let msgs: Vec<(&Flow, &[u8])> = flows
        .iter()
        .zip(&payloads)
        .map(|(f, p)| (*f, p.as_slice()))
        .collect();
    let failed = listener.send_all(&msgs).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, 40);
    assert!(
        failed[0].1.to_string().contains("127.0.0.1:0"),
        "{}",
        failed[0].1
    );
    for (socket, parity) in [(&a, 0u8), (&b, 1)] {
        let mut buf = [0u8; 256];
        let expected: Vec<u8> = (0..70u8).filter(|i| i % 2 == parity && *i != 40).collect();
        for want in expected {
            let (n, from) = within("datagram", socket.recv_from(&mut buf))
                .await
                .expect("recv");
            assert_eq!(from, local);
            assert_eq!(&buf[..n], vec![want; usize::from(want) + 1].as_slice());
        }
    }
}
