//! A DNS server on loopback for RFC 3263 tests: answers UDP queries from a fixed table of
//! NAPTR, SRV, A and AAAA records and logs every question, so tests never depend on the
//! machine's resolver and can check which queries were (not) asked.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NAPTR, SRV};
use hickory_proto::rr::{Name, RData, Record};
use tokio::net::UdpSocket;

/// A running server; stops when dropped.
pub struct DnsServer {
    /// Where it listens (127.0.0.1, an ephemeral port).
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    /// Start serving `records` on the current tokio runtime.
    pub async fn start(records: Vec<Record>) -> DnsServer {
        DnsServer::serve(records, None).await
    }

    /// Start a server that answers every query with `code` (SERVFAIL, REFUSED...).
    pub async fn failing(code: ResponseCode) -> DnsServer {
        DnsServer::serve(Vec::new(), Some(code)).await
    }

    async fn serve(records: Vec<Record>, fail: Option<ResponseCode>) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("binding the test DNS server");
        let addr = socket.local_addr().expect("test DNS server address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Some(query) = buf.get(..n).and_then(|b| Message::from_vec(b).ok()) else {
                    continue;
                };
                let mut reply = answer(&query, &records, &task_log);
                if let Some(code) = fail {
                    reply.set_response_code(code);
                }
                if let Ok(bytes) = reply.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        DnsServer { addr, log, task }
    }

    /// The questions asked so far, as `TYPE name.` (names lower-cased).
    pub fn queries(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(query: &Message, records: &[Record], log: &Mutex<Vec<String>>) -> Message {
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true);
    let mut known_name = false;
    for q in query.queries() {
        reply.add_query(q.clone());
        if let Ok(mut l) = log.lock() {
            l.push(format!("{} {}", q.query_type(), q.name().to_lowercase()));
        }
        for r in records {
            if r.name().to_lowercase() == q.name().to_lowercase() {
                known_name = true;
                if r.record_type() == q.query_type() {
                    reply.add_answer(r.clone());
                }
            }
        }
    }
    reply.set_response_code(if known_name {
        ResponseCode::NoError
    } else {
        ResponseCode::NXDomain
    });
    reply
}

fn name(s: &str) -> Name {
    let fqdn = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_str(&fqdn).expect("a valid test domain name")
}

/// `name NAPTR order pref "S" "service" "" replacement`.
pub fn naptr(owner: &str, order: u16, pref: u16, service: &str, replacement: &str) -> Record {
    let rdata = NAPTR::new(
        order,
        pref,
        b"S".to_vec().into_boxed_slice(),
        service.as_bytes().to_vec().into_boxed_slice(),
        Vec::new().into_boxed_slice(),
        name(replacement),
    );
    Record::from_rdata(name(owner), 60, RData::NAPTR(rdata))
}

/// `name SRV priority weight port target`.
pub fn srv(owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Record {
    let rdata = SRV::new(priority, weight, port, name(target));
    Record::from_rdata(name(owner), 60, RData::SRV(rdata))
}

/// `name A ip`.
pub fn a(owner: &str, ip: &str) -> Record {
    let ip: Ipv4Addr = ip.parse().expect("a test IPv4 address");
    Record::from_rdata(name(owner), 60, RData::A(A(ip)))
}

/// `name AAAA ip`.
pub fn aaaa(owner: &str, ip: &str) -> Record {
    let ip: Ipv6Addr = ip.parse().expect("a test IPv6 address");
    Record::from_rdata(name(owner), 60, RData::AAAA(AAAA(ip)))
}
