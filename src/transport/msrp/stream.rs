//! One byte stream per MSRP connection, TCP or TLS behind one type, and the connection rules of
//! RFC 4975 §6.2: connect to the first URI of the peer's path; `msrps` means TLS.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::MsrpError;
use crate::proto::msrp::{MsrpUri, Scheme};
use crate::transport::tls::server_name;
use crate::transport::{ClientTls, ServerTls, TransportError};

/// Plain TCP (`msrp:`) or TLS (`msrps:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// `msrp://...;tcp`
    Tcp,
    /// `msrps://...;tcp`, TLS over TCP (RFC 4975 §6).
    Tls,
}

/// Anything a connection can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// A connected TCP or TLS stream.
pub(crate) type BoxIo = Box<dyn Io>;

/// The URIs of a path (`a=path` value or To-Path header), leftmost first.
pub(crate) fn split_path(path: &str) -> Result<Vec<String>, MsrpError> {
    let uris: Vec<String> = path.split_ascii_whitespace().map(str::to_owned).collect();
    if uris.is_empty() {
        return Err(MsrpError::Path {
            path: path.to_owned(),
            reason: "expected at least one MSRP URI".into(),
        });
    }
    for u in &uris {
        let parsed = MsrpUri::parse(u).map_err(|e| MsrpError::Path {
            path: path.to_owned(),
            reason: e.message.clone(),
        })?;
        if !parsed.transport.eq_ignore_ascii_case("tcp") {
            return Err(MsrpError::Path {
                path: path.to_owned(),
                reason: format!(
                    "transport {:?} is not supported (only tcp)",
                    parsed.transport
                ),
            });
        }
    }
    Ok(uris)
}

/// Open a connection to `first_hop` (RFC 4975 §6.2: the first URI of the To-Path), with TLS for
/// `msrps`. A host name is resolved with the system resolver (MSRP URIs use A/AAAA, not SRV).
pub(crate) async fn connect(
    first_hop: &str,
    tls: Option<&ClientTls>,
    timeout: Duration,
) -> Result<(BoxIo, SocketAddr), MsrpError> {
    let uri = MsrpUri::parse(first_hop).map_err(|e| MsrpError::Path {
        path: first_hop.to_owned(),
        reason: e.message.clone(),
    })?;
    let Some(port) = uri.port else {
        return Err(MsrpError::Path {
            path: first_hop.to_owned(),
            reason: "the URI has no port (RFC 4975 §6.2 gives no default)".into(),
        });
    };
    let bare = uri.host.trim_start_matches('[').trim_end_matches(']');
    let addr = match uri.ip {
        Some(ip) => SocketAddr::new(ip, port),
        None => tokio::net::lookup_host((bare, port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| MsrpError::Path {
                path: first_hop.to_owned(),
                reason: format!("host {bare:?} did not resolve"),
            })?,
    };
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => return Err(TransportError::Connect { addr, source }.into()),
        Err(_) => {
            return Err(MsrpError::Timeout {
                what: "TCP connection".into(),
                peer: addr,
                after: timeout,
            });
        }
    };
    let _ = tcp.set_nodelay(true);
    if uri.scheme == Scheme::Msrp {
        return Ok((Box::new(tcp), addr));
    }
    let Some(tls) = tls else {
        return Err(TransportError::TlsConfig(format!(
            "{first_hop} asks for TLS (msrps) but no TLS client configuration was given"
        ))
        .into());
    };
    let name = server_name(bare).map_err(TransportError::TlsConfig)?;
    match tokio::time::timeout(timeout, tls.connector().connect(name, tcp)).await {
        Ok(Ok(s)) => Ok((Box::new(s), addr)),
        Ok(Err(source)) => Err(TransportError::Tls {
            addr,
            host: bare.to_owned(),
            source,
        }
        .into()),
        Err(_) => Err(MsrpError::Timeout {
            what: "TLS handshake".into(),
            peer: addr,
            after: timeout,
        }),
    }
}

/// Finish accepting `tcp`: the TLS handshake when `tls` is given.
pub(crate) async fn accept(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<&ServerTls>,
    timeout: Duration,
) -> Result<BoxIo, MsrpError> {
    let _ = tcp.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Box::new(tcp));
    };
    match tokio::time::timeout(timeout, tls.acceptor().accept(tcp)).await {
        Ok(Ok(s)) => Ok(Box::new(s)),
        Ok(Err(source)) => Err(TransportError::TlsAccept { peer, source }.into()),
        Err(_) => Err(MsrpError::Timeout {
            what: "TLS handshake".into(),
            peer,
            after: timeout,
        }),
    }
}
