//! Library-level tests of `sipkit::transport` against real peers on loopback: UDP, TCP framing,
//! TLS with certificates made at test time, WebSocket, and RFC 3263 resolution against a DNS
//! server on 127.0.0.1. Every network step is bounded by `peer::within`.

use std::net::SocketAddr;
use std::time::Duration;

use sipkit::transport::{
    ClientTls, Connection, Destination, Proto, ResolveError, Resolver, TargetError, TargetSpec,
    TransportError,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};

use crate::support::dns::{DnsServer, a, aaaa, naptr, srv};
use crate::support::peer::{self, ok, options, within};
use crate::support::tls::{SERVER_NAME, TestPki};

const MAX: usize = 64 * 1024;

fn plain_tls() -> ClientTls {
    ClientTls::new(None, false, None, None).expect("default TLS configuration")
}

fn dest(proto: Proto, addr: SocketAddr) -> Destination {
    Destination::new(proto, addr, addr.ip().to_string())
}

fn ipv6_available() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

async fn udp_round_trip(ip: &str) {
    let peer = UdpSocket::bind(format!("{ip}:0")).await.expect("peer bind");
    let peer_addr = peer.local_addr().expect("peer addr");
    let mut conn = within(
        "connect",
        Connection::connect(&dest(Proto::Udp, peer_addr), None, &plain_tls(), MAX),
    )
    .await
    .expect("UDP connect");
    assert_eq!(conn.proto(), Proto::Udp);
    assert!(!conn.reliable());
    assert_eq!(conn.peer_addr(), peer_addr);
    conn.sender().send(&options(1)).await.expect("send");

    let mut buf = vec![0u8; 2048];
    let (n, from) = within("peer recv", peer.recv_from(&mut buf))
        .await
        .expect("recv");
    assert_eq!(buf.get(..n), Some(&options(1)[..]));
    // local_addr is what the peer sees: usable in Via and Contact.
    assert_eq!(from, conn.local_addr());
    // A keepalive datagram is skipped, the response is returned whole.
    peer.send_to(b"\r\n\r\n", from).await.expect("keepalive");
    peer.send_to(&ok(1, 3), from).await.expect("reply");
    let got = within("client recv", conn.recv()).await.expect("recv");
    assert_eq!(got.data, ok(1, 3));
    assert_eq!(got.from, peer_addr);
}

#[tokio::test]
async fn udp_sends_and_receives_whole_datagrams() {
    udp_round_trip("127.0.0.1").await;
}

#[tokio::test]
async fn udp_over_ipv6() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    udp_round_trip("[::1]").await;
}

#[tokio::test]
async fn udp_port_unreachable_is_a_clear_network_error() {
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.local_addr().expect("addr")
    };
    let mut conn = Connection::connect(&dest(Proto::Udp, closed), None, &plain_tls(), MAX)
        .await
        .expect("UDP connect");
    conn.send(&options(1)).await.expect("first send");
    let err = within("ICMP error", conn.recv())
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(err, TransportError::Unreachable { addr } if addr == closed),
        "{err:?}"
    );
    assert!(err.is_network());
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[tokio::test]
async fn tcp_split_and_merged_messages_and_keepalives() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let request = peer::read_head(&mut s).await;
        // One response split across three writes, then two merged with keepalives in one.
        let one = ok(1, 10);
        for part in [&one[..5], &one[5..40], &one[40..]] {
            s.write_all(part).await.expect("write");
            s.flush().await.expect("flush");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut merged = b"\r\n\r\n".to_vec();
        merged.extend(ok(2, 0));
        merged.extend(b"\r\n");
        merged.extend(ok(3, 5));
        s.write_all(&merged).await.expect("write");
        s.shutdown().await.expect("close");
        request
    });
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("bind addr");
    let mut conn = within(
        "connect",
        Connection::connect(&dest(Proto::Tcp, addr), Some(bind), &plain_tls(), MAX),
    )
    .await
    .expect("TCP connect");
    assert!(conn.reliable());
    assert_eq!(conn.local_addr().ip(), bind.ip());
    assert_ne!(conn.local_addr().port(), 0);
    conn.send(&options(1)).await.expect("send");
    for expected in [ok(1, 10), ok(2, 0), ok(3, 5)] {
        let got = within("recv", conn.recv()).await.expect("message");
        assert_eq!(got.data, expected);
        assert_eq!(got.from, addr);
    }
    let end = within("close", conn.recv()).await.expect_err("closed");
    assert!(
        matches!(end, TransportError::Closed { pending: 0, .. }),
        "{end:?}"
    );
    assert_eq!(server.await.expect("server"), options(1));
}

#[tokio::test]
async fn tcp_message_over_the_limit_is_too_large() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let _ = s.write_all(&ok(1, 500)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let mut conn = Connection::connect(&dest(Proto::Tcp, addr), None, &plain_tls(), 300)
        .await
        .expect("connect");
    let err = within("recv", conn.recv()).await.expect_err("too large");
    assert!(
        matches!(err, TransportError::TooLarge { limit: 300, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("exceeds the maximum of 300 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn tcp_close_in_the_middle_of_a_message_counts_the_lost_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let _ = s.write_all(&ok(1, 10)[..30]).await;
    });
    let mut conn = Connection::connect(&dest(Proto::Tcp, addr), None, &plain_tls(), MAX)
        .await
        .expect("connect");
    let err = within("recv", conn.recv()).await.expect_err("closed");
    assert!(
        matches!(err, TransportError::Closed { pending: 30, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn tcp_refused_and_family_mismatch() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let err = Connection::connect(&dest(Proto::Tcp, closed), None, &plain_tls(), MAX)
        .await
        .expect_err("refused");
    assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
    assert!(err.is_network());
    let v6: SocketAddr = "[::1]:0".parse().expect("v6");
    let err = Connection::connect(&dest(Proto::Tcp, closed), Some(v6), &plain_tls(), MAX)
        .await
        .expect_err("mismatch");
    assert!(
        matches!(err, TransportError::FamilyMismatch { .. }),
        "{err:?}"
    );
    assert!(!err.is_network());
}

/// A TLS server for one connection: returns the SNI it saw and the first request.
async fn tls_server(
    pki: &TestPki,
    client_auth: bool,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<Option<(Option<String>, Vec<u8>)>>,
) {
    let acceptor = pki.acceptor(client_auth);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut tls = acceptor.accept(tcp).await.ok()?;
        let sni = tls.get_ref().1.server_name().map(str::to_owned);
        let request = peer::read_head(&mut tls).await;
        tls.write_all(&ok(1, 4)).await.expect("write");
        tls.flush().await.expect("flush");
        Some((sni, request))
    });
    (addr, task)
}

#[tokio::test]
async fn tls_verified_with_the_ca_file_and_sni_sent() {
    let pki = TestPki::new();
    let (addr, server) = tls_server(&pki, false).await;
    let tls = ClientTls::new(Some(&pki.ca_file), false, None, None).expect("TLS config");
    let d = Destination::new(Proto::Tls, addr, SERVER_NAME);
    let mut conn = within("connect", Connection::connect(&d, None, &tls, MAX))
        .await
        .expect("TLS connect");
    conn.send(&options(1)).await.expect("send");
    let got = within("recv", conn.recv()).await.expect("response");
    assert_eq!(got.data, ok(1, 4));
    let (sni, request) = within("server", server)
        .await
        .expect("join")
        .expect("handshake");
    assert_eq!(sni.as_deref(), Some(SERVER_NAME));
    assert_eq!(request, options(1));
}

#[tokio::test]
async fn tls_rejected_without_the_ca_and_for_a_wrong_name() {
    let pki = TestPki::new();
    let (addr, _server) = tls_server(&pki, false).await;
    let d = Destination::new(Proto::Tls, addr, SERVER_NAME);
    let err = within("connect", Connection::connect(&d, None, &plain_tls(), MAX))
        .await
        .expect_err("untrusted");
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
    assert!(err.is_network());
    assert!(err.to_string().contains("certificate"), "{err}");

    let (addr, _server) = tls_server(&pki, false).await;
    let tls = ClientTls::new(Some(&pki.ca_file), false, None, None).expect("TLS config");
    let d = Destination::new(Proto::Tls, addr, "other.test");
    let err = within("connect", Connection::connect(&d, None, &tls, MAX))
        .await
        .expect_err("wrong name");
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn tls_insecure_accepts_any_certificate() {
    let pki = TestPki::new();
    let (addr, server) = tls_server(&pki, false).await;
    let tls = ClientTls::new(None, true, None, None).expect("TLS config");
    let d = Destination::new(Proto::Tls, addr, "anything.test");
    let mut conn = within("connect", Connection::connect(&d, None, &tls, MAX))
        .await
        .expect("insecure connect");
    conn.send(&options(1)).await.expect("send");
    assert_eq!(
        within("recv", conn.recv()).await.expect("response").data,
        ok(1, 4)
    );
    let (sni, _) = within("server", server)
        .await
        .expect("join")
        .expect("handshake");
    assert_eq!(sni.as_deref(), Some("anything.test"));
}

#[tokio::test]
async fn tls_client_certificate() {
    let pki = TestPki::new();
    let (addr, server) = tls_server(&pki, true).await;
    let tls = ClientTls::new(
        Some(&pki.ca_file),
        false,
        Some(&pki.client_cert),
        Some(&pki.client_key),
    )
    .expect("TLS config with client certificate");
    let d = Destination::new(Proto::Tls, addr, SERVER_NAME);
    let mut conn = within("connect", Connection::connect(&d, None, &tls, MAX))
        .await
        .expect("mutual TLS connect");
    conn.send(&options(1)).await.expect("send");
    assert_eq!(
        within("recv", conn.recv()).await.expect("response").data,
        ok(1, 4)
    );
    assert!(within("server", server).await.expect("join").is_some());
}

#[test]
fn tls_configuration_errors_are_input_errors() {
    let dir = crate::support::tempdir();
    let empty = crate::support::write(dir.path(), "empty.pem", "");
    let err = ClientTls::new(Some(&empty), false, None, None).expect_err("no certificate");
    assert!(matches!(err, TransportError::TlsConfig(_)), "{err:?}");
    assert!(!err.is_network());
    assert!(err.to_string().contains("empty.pem"), "{err}");
    let missing = dir.path().join("missing.pem");
    assert!(ClientTls::new(Some(&missing), false, None, None).is_err());
    assert!(ClientTls::new(None, false, Some(&empty), None).is_err());
}

/// A WebSocket server for one connection over any stream: pings the client, reads the
/// request, answers; returns the request path, the request and the pong payload.
async fn ws_serve<S>(stream: S, offer_sip: bool) -> (String, Vec<u8>, Vec<u8>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut s, path) = peer::ws_accept(stream, offer_sip).await;
    let (fin, opcode, request) = peer::ws_read(&mut s).await;
    assert!(fin);
    assert_eq!(opcode, 0x1, "SIP text goes in a text frame");
    peer::ws_write(&mut s, true, 0x9, b"hi").await;
    // The response fragmented in two frames.
    let response = ok(1, 2);
    peer::ws_write(&mut s, false, 0x1, &response[..20]).await;
    peer::ws_write(&mut s, true, 0x0, &response[20..]).await;
    let (_, opcode, pong) = peer::ws_read(&mut s).await;
    assert_eq!(opcode, 0xA);
    (path, request, pong)
}

#[tokio::test]
async fn ws_with_the_sip_subprotocol() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        ws_serve(tcp, true).await
    });
    let spec = TargetSpec::parse(&format!("ws://127.0.0.1:{}/sip", addr.port())).expect("target");
    let d = Destination {
        proto: Proto::Ws,
        addr,
        host: spec.host().to_owned(),
        ws_path: spec.ws_path().to_owned(),
    };
    let mut conn = within("connect", Connection::connect(&d, None, &plain_tls(), MAX))
        .await
        .expect("WS connect");
    conn.send(&options(1)).await.expect("send");
    let got = within("recv", conn.recv()).await.expect("response");
    assert_eq!(got.data, ok(1, 2));
    let (path, request, pong) = within("server", server).await.expect("server");
    assert_eq!(path, "/sip");
    assert_eq!(request, options(1));
    assert_eq!(pong, b"hi");
}

#[tokio::test]
async fn ws_server_refusing_the_sip_subprotocol_fails_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let _ = tokio_tungstenite::accept_async(tcp).await;
    });
    let err = within(
        "connect",
        Connection::connect(&dest(Proto::Ws, addr), None, &plain_tls(), MAX),
    )
    .await
    .expect_err("no sip subprotocol");
    assert!(matches!(err, TransportError::WebSocket { .. }), "{err:?}");
    assert!(err.to_string().contains("sip"), "{err}");
}

#[tokio::test]
async fn wss_over_tls() {
    let pki = TestPki::new();
    let acceptor = pki.acceptor(false);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let tls = acceptor.accept(tcp).await.expect("TLS accept");
        ws_serve(tls, true).await
    });
    let tls = ClientTls::new(Some(&pki.ca_file), false, None, None).expect("TLS config");
    let d = Destination::new(Proto::Wss, addr, SERVER_NAME);
    let mut conn = within("connect", Connection::connect(&d, None, &tls, MAX))
        .await
        .expect("WSS connect");
    conn.send(&options(1)).await.expect("send");
    assert_eq!(
        within("recv", conn.recv()).await.expect("response").data,
        ok(1, 2)
    );
    let (path, _, _) = within("server", server).await.expect("server");
    assert_eq!(path, "/");
}

// ---- RFC 3263 against the loopback DNS server ----

fn zone() -> Vec<hickory_proto::rr::Record> {
    vec![
        naptr("example.test", 20, 10, "SIP+D2U", "_sip._udp.example.test"),
        naptr("example.test", 10, 10, "SIP+D2T", "_sip._tcp.example.test"),
        naptr("example.test", 5, 10, "X-OTHER", "_x._tcp.example.test"),
        srv("_sip._tcp.example.test", 20, 0, 5080, "b.example.test"),
        srv("_sip._tcp.example.test", 10, 0, 5070, "a.example.test"),
        srv("_sip._udp.example.test", 10, 0, 5090, "c.example.test"),
        a("a.example.test", "10.0.0.1"),
        a("b.example.test", "10.0.0.2"),
        aaaa("b.example.test", "2001:db8::2"),
        a("c.example.test", "10.0.0.3"),
        a("example.test", "10.0.0.9"),
        a("plain.test", "10.0.1.1"),
        aaaa("plain.test", "2001:db8::11"),
        srv("_sips._tcp.secure.test", 0, 0, 5061, "s.secure.test"),
        a("s.secure.test", "10.0.2.1"),
        srv("_sip._udp.weighted.test", 1, 10, 5060, "w1.test"),
        srv("_sip._udp.weighted.test", 1, 20, 5060, "w2.test"),
        srv("_sip._udp.weighted.test", 1, 30, 5060, "w3.test"),
        srv("_sip._udp.weighted.test", 1, 40, 5060, "w4.test"),
        a("w1.test", "10.0.3.1"),
        a("w2.test", "10.0.3.2"),
        a("w3.test", "10.0.3.3"),
        a("w4.test", "10.0.3.4"),
    ]
}

async fn resolve(dns: &DnsServer, target: &str) -> Result<Vec<String>, ResolveError> {
    let resolver = Resolver::new(Some(dns.addr))
        .expect("resolver")
        .with_seed(1);
    let spec = TargetSpec::parse(target).expect("target");
    let res = within("resolve", resolver.resolve(&spec)).await?;
    assert!(!res.steps.is_empty());
    Ok(res.destinations.iter().map(ToString::to_string).collect())
}

#[tokio::test]
async fn naptr_then_srv_by_order_and_priority() {
    let dns = DnsServer::start(zone()).await;
    let resolver = Resolver::new(Some(dns.addr))
        .expect("resolver")
        .with_seed(1);
    let spec = TargetSpec::parse("sip:alice@example.test").expect("target");
    let res = within("resolve", resolver.resolve(&spec))
        .await
        .expect("resolved");
    let got: Vec<String> = res.destinations.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "tcp 10.0.0.1:5070",
            "tcp 10.0.0.2:5080",
            "tcp [2001:db8::2]:5080",
            "udp 10.0.0.3:5090",
        ]
    );
    assert!(res.destinations.iter().all(|d| d.host == "example.test"));
    let first = res.steps.first().expect("a step");
    assert_eq!(first.rtype, Some("NAPTR"));
    assert_eq!(first.name, "example.test.");
    assert_eq!(first.answers.len(), 3);
    assert!(first.note.contains("2 usable: tcp, udp"), "{first}");
}

#[tokio::test]
async fn srv_weights_are_repeatable_with_a_seed() {
    let dns = DnsServer::start(zone()).await;
    let spec = TargetSpec::parse("sip:weighted.test").expect("target");
    let mut orders = Vec::new();
    for seed in [7, 7, 8, 9, 10, 11] {
        let resolver = Resolver::new(Some(dns.addr))
            .expect("resolver")
            .with_seed(seed);
        let res = within("resolve", resolver.resolve(&spec))
            .await
            .expect("resolved");
        let order: Vec<String> = res
            .destinations
            .iter()
            .map(|d| d.addr.to_string())
            .collect();
        assert_eq!(order.len(), 4);
        orders.push(order);
    }
    assert_eq!(orders[0], orders[1], "same seed, same order");
    assert!(
        orders[2..].iter().any(|o| *o != orders[0]),
        "different seeds never changed the order: {orders:?}"
    );
}

#[tokio::test]
async fn no_naptr_or_srv_falls_back_to_a_and_aaaa() {
    let dns = DnsServer::start(zone()).await;
    assert_eq!(
        resolve(&dns, "sip:plain.test").await.expect("resolved"),
        ["udp 10.0.1.1:5060", "udp [2001:db8::11]:5060"]
    );
    let asked = dns.queries();
    for q in [
        "NAPTR plain.test.",
        "SRV _sip._udp.plain.test.",
        "SRV _sip._tcp.plain.test.",
        "SRV _sips._tcp.plain.test.",
        "A plain.test.",
        "AAAA plain.test.",
    ] {
        assert!(asked.iter().any(|a| a == q), "{q} not asked: {asked:?}");
    }
}

#[tokio::test]
async fn explicit_port_skips_naptr_and_srv() {
    let dns = DnsServer::start(zone()).await;
    assert_eq!(
        resolve(&dns, "sip:example.test:5099")
            .await
            .expect("resolved"),
        ["udp 10.0.0.9:5099"]
    );
    let asked = dns.queries();
    assert!(
        asked
            .iter()
            .all(|q| q.starts_with("A ") || q.starts_with("AAAA ")),
        "{asked:?}"
    );
}

#[tokio::test]
async fn explicit_transport_uses_its_srv_only() {
    let dns = DnsServer::start(zone()).await;
    assert_eq!(
        resolve(&dns, "sip:example.test;transport=tcp")
            .await
            .expect("resolved"),
        [
            "tcp 10.0.0.1:5070",
            "tcp 10.0.0.2:5080",
            "tcp [2001:db8::2]:5080"
        ]
    );
    assert!(!dns.queries().iter().any(|q| q.starts_with("NAPTR")));
    assert_eq!(
        resolve(&dns, "tcp:plain.test").await.expect("resolved"),
        ["tcp 10.0.1.1:5060", "tcp [2001:db8::11]:5060"]
    );
}

#[tokio::test]
async fn sips_means_tls() {
    let dns = DnsServer::start(zone()).await;
    assert_eq!(
        resolve(&dns, "sips:secure.test").await.expect("resolved"),
        ["tls 10.0.2.1:5061 (secure.test)"]
    );
    // NAPTR offers only SIP+D2T and SIP+D2U: unusable for sips, so A on 5061.
    assert_eq!(
        resolve(&dns, "sips:example.test").await.expect("resolved"),
        ["tls 10.0.0.9:5061 (example.test)"]
    );
}

#[tokio::test]
async fn numeric_hosts_need_no_dns() {
    let dns = DnsServer::start(zone()).await;
    assert_eq!(
        resolve(&dns, "sip:127.0.0.1").await.expect("resolved"),
        ["udp 127.0.0.1:5060"]
    );
    assert_eq!(
        resolve(&dns, "sips:[::1]:5071").await.expect("resolved"),
        ["tls [::1]:5071 (::1)"]
    );
    assert_eq!(
        resolve(&dns, "wss://127.0.0.1/ws").await.expect("resolved"),
        ["wss 127.0.0.1:443 (127.0.0.1/ws)"]
    );
    assert!(dns.queries().is_empty(), "{:?}", dns.queries());
}

#[tokio::test]
async fn unknown_host_is_not_found() {
    let dns = DnsServer::start(zone()).await;
    let err = resolve(&dns, "sip:missing.test")
        .await
        .expect_err("nothing there");
    // The test server answers NXDOMAIN for names it does not know: said as such (issue 15).
    assert!(matches!(err, ResolveError::NxDomain { .. }), "{err:?}");
    assert_eq!(err.kind(), "nxdomain");
    assert!(err.is_network());
    assert!(err.to_string().contains("missing.test"), "{err}");
}

#[test]
fn bad_targets_are_explained() {
    let err = TargetSpec::parse("xyz:example.test").expect_err("bad transport");
    assert_eq!(
        err.to_string(),
        "unknown transport `xyz` in target `xyz:example.test`; expected udp, tcp, tls, ws or wss"
    );
    for bad in [
        "",
        "udp:",
        "udp:[::1",
        "tcp:host:70000",
        "sips:a.test;transport=udp",
        "sip:a b",
    ] {
        let err: TargetError = TargetSpec::parse(bad).expect_err(bad);
        assert!(!err.to_string().is_empty());
    }
}
