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

/// Bytes that crossed a connection, for a capture (`listen --write-pcap`): TLS already removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    /// `true` for bytes we wrote, `false` for bytes we read.
    pub sent: bool,
    /// Our end of the connection.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// The bytes, in stream order per direction (not aligned to MSRP messages).
    pub bytes: Vec<u8>,
}

/// Where an endpoint copies the plaintext of its connections; see [`Tapped`].
pub type Tap = tokio::sync::mpsc::UnboundedSender<Tapped>;

/// A stream that copies what is read and written to a [`Tap`]. It sits above TLS so the copy is
/// the MSRP text; a closed tap is ignored (the capture is a side matter, never the session's).
pub(crate) struct TapIo {
    pub(crate) inner: BoxIo,
    pub(crate) tap: Tap,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
}

impl TapIo {
    fn copy(&self, sent: bool, bytes: &[u8]) {
        if !bytes.is_empty() {
            let _ = self.tap.send(Tapped {
                sent,
                local: self.local,
                remote: self.remote,
                bytes: bytes.to_vec(),
            });
        }
    }
}

impl AsyncRead for TapIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = r {
            let new = buf.filled().get(before..).unwrap_or_default();
            self.copy(false, new);
        }
        r
    }
}

impl AsyncWrite for TapIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = r {
            self.copy(true, buf.get(..n).unwrap_or_default());
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `io` with its traffic copied to `tap`, when there is one.
pub(crate) fn tapped(io: BoxIo, tap: Option<&Tap>, local: SocketAddr, remote: SocketAddr) -> BoxIo {
    match tap {
        Some(tap) => Box::new(TapIo {
            inner: io,
            tap: tap.clone(),
            local,
            remote,
        }),
        None => io,
    }
}
