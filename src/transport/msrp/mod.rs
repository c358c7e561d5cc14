//! MSRP sessions over TCP and TLS (RFC 4975 §5-§8, RFC 6135 for who opens the connection): the
//! receiving [`Endpoint`] behind `sipkit listen` and the [`MsrpSender`] behind `sipkit invite`.
//! The codec in [`crate::proto::msrp`] frames and builds messages; this module owns sockets,
//! sessions, transactions, reports and where delivered bytes go (memory or a file, hashed with
//! SHA-256 as they arrive). Neither side ever holds a whole file in memory: the sender reads one
//! chunk ahead from any `AsyncRead`, the receiver spills large messages to disk.
//!
//! Relays (RFC 4976): [`relay::authenticate`] AUTHs to the sender's first relay and
//! [`MsrpSender::through_relay`] runs the session over that connection; the receiving side
//! needs nothing special (relayed SENDs arrive with the relays in front of the From-Path).

// Errors carry the peer, the status and the chunk so a printer needs nothing else; they are
// returned once per failed session, never in a hot loop, so their size does not matter.
#![allow(clippy::result_large_err)]
// Per-chunk state holds an owned request head inline: one per connection, not worth a box.
#![allow(clippy::large_enum_variant)]

mod cpim;
mod error;
mod receiver;
pub mod relay;
mod sender;

mod store;
mod stream;
mod wire;

pub use cpim::{CpimEnvelope, CpimParts, unwrap as cpim_unwrap, wrap_prefix as cpim_wrap_prefix};
pub use error::MsrpError;
pub use receiver::{
    CONFIRM_WAIT, Confirm, Delivered, Endpoint, EndpointConfig, LocalSession, ReceiveEvent,
    ReceivedMessage, ReceiverLimits, SessionConfig,
};

pub use relay::{RelayCredentials, RelayError, Relayed};
pub use sender::{MsrpSender, Outgoing, SendEvent, SendSummary, SenderConfig};
pub use store::StoreConfig;
pub use stream::{Security, Tap, Tapped};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::proto::msrp::IdGenerator;

/// The port MSRP endpoints listen on when nothing else is chosen (RFC 4975 §15.3 registers
/// 2855 for msrp and msrps).
pub const DEFAULT_PORT: u16 = 2855;

static SESSION_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh session id for our own MSRP URI (RFC 4975 §6: at least 80 bits of randomness, here
/// about 95). Random per process; with `SIPKIT_TEST` set the sequence is fixed (its value is
/// the seed if numeric) so test output can be compared exactly.
pub fn new_session_id() -> String {
    let n = SESSION_COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = match std::env::var("SIPKIT_TEST") {
        Ok(v) => v.parse::<u64>().unwrap_or(1),
        Err(_) => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u32(std::process::id());
            if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
                h.write_u128(t.as_nanos());
            }
            h.finish()
        }
    };
    let mut ids = IdGenerator::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    ids.next_id().as_str().to_owned()
}

/// Our MSRP URI, as put in the SDP `a=path` (RFC 4975 §8.1):
/// `msrp://HOST:PORT/SESSIONID;tcp`, `msrps://` over TLS. An IPv6 host gets brackets.
pub fn local_uri(host: &str, port: u16, session_id: &str, security: Security) -> String {
    let scheme = match security {
        Security::Tcp => "msrp",
        Security::Tls => "msrps",
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("{scheme}://[{host}]:{port}/{session_id};tcp")
    } else {
        format!("{scheme}://{host}:{port}/{session_id};tcp")
    }
}

/// A seed for transaction and message ids: fixed under `SIPKIT_TEST`, random otherwise.
pub(crate) fn id_seed() -> u64 {
    let id = new_session_id();
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::msrp::MsrpUri;

    #[test]
    fn local_uris_parse_back() {
        let id = new_session_id();
        assert_eq!(id.len(), 16);
        for (host, sec, want) in [
            ("127.0.0.1", Security::Tcp, "msrp://127.0.0.1:2855/"),
            ("::1", Security::Tls, "msrps://[::1]:2855/"),
            ("example.com", Security::Tcp, "msrp://example.com:2855/"),
        ] {
            let u = local_uri(host, DEFAULT_PORT, &id, sec);
            assert!(u.starts_with(want), "{u}");
            let parsed = MsrpUri::parse(&u).expect("our own URI parses");
            assert_eq!(parsed.session_id, Some(id.as_str()));
            assert_eq!(parsed.port, Some(2855));
        }
    }

    #[test]
    fn session_ids_differ() {
        assert_ne!(new_session_id(), new_session_id());
    }
}
