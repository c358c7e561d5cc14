//! The parts of a message head a session keeps after the stream buffer moved on (the codec's
//! `Head` borrows the buffer), and the writing of responses and requests from owned paths.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::MsrpError;
use crate::proto::ParseError;
use crate::proto::msrp::{
    ByteRange, Flag, Head, Method, MsrpUri, ReportValue, RequestHeaders, StartLine, StatusHeader,
    write_request,
};

/// A request head, owned.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub tid: String,
    pub method: String,
    pub to_path: Vec<String>,
    pub from_path: Vec<String>,
    pub message_id: Option<String>,
    pub byte_range: Option<ByteRange>,
    pub success_report: Option<ReportValue>,
    pub failure_report: Option<ReportValue>,
    pub content_type: Option<String>,
    /// `(code, comment)` of a Status header (REPORT).
    pub status: Option<(u16, Option<String>)>,
    /// The end-line followed the headers: no body at all.
    pub bodiless: bool,
}

impl Request {
    /// Whether a response is due (RFC 4975 §7.1.1, §7.2): never for REPORT; for SEND, by
    /// Failure-Report (absent means `yes`; `partial` only for errors; `no` never).
    pub fn wants_response(&self, ok: bool) -> bool {
        if self.method == "REPORT" {
            return false;
        }
        match self.failure_report {
            None | Some(ReportValue::Yes) => true,
            Some(ReportValue::Partial) => !ok,
            Some(ReportValue::No) => false,
        }
    }
}

/// A head, owned.
#[derive(Debug, Clone)]
pub(crate) enum OwnedHead {
    Request(Request),
    Response {
        tid: String,
        code: u16,
        comment: Option<String>,
    },
}

/// A head whose headers break the grammar; `reply` holds what a 400 needs when it is known.
#[derive(Debug)]
pub(crate) struct BadHead {
    pub reply: Option<Request>,
    pub error: ParseError,
}

fn uris(p: &[MsrpUri<'_>]) -> Vec<String> {
    p.iter().map(|u| u.raw.to_owned()).collect()
}

/// Copy what the session needs out of `head`, checking each header's grammar.
pub(crate) fn own_head(head: &Head<'_>) -> Result<OwnedHead, BadHead> {
    let tid = head.tid.to_owned();
    let method = match head.start {
        StartLine::Response { code, comment } => {
            return Ok(OwnedHead::Response {
                tid,
                code,
                comment: comment.map(str::to_owned),
            });
        }
        StartLine::Request(m) => m.as_str().to_owned(),
    };
    let h = &head.headers;
    let bad = |reply: Option<Request>| move |error: ParseError| BadHead { reply, error };
    let to_path = h.to_path().map_err(bad(None))?;
    let from_path = h.from_path().map_err(bad(None))?;
    let mut req = Request {
        tid,
        method,
        to_path: uris(&to_path),
        from_path: uris(&from_path),
        message_id: None,
        byte_range: None,
        success_report: None,
        failure_report: None,
        content_type: None,
        status: None,
        bodiless: head.bodiless_end.is_some(),
    };
    // Failure-Report decides whether the 400 itself may be sent, so read it first.
    req.failure_report = h.failure_report().map_err(bad(Some(req.clone())))?;
    req.message_id = h
        .message_id()
        .map_err(bad(Some(req.clone())))?
        .map(str::to_owned);
    req.byte_range = h.byte_range().map_err(bad(Some(req.clone())))?;
    req.success_report = h.success_report().map_err(bad(Some(req.clone())))?;
    req.status = h
        .status()
        .map_err(bad(Some(req.clone())))?
        .map(|s| (s.code, s.comment.map(str::to_owned)));
    req.content_type = h
        .content_type()
        .map_err(bad(Some(req.clone())))?
        .and_then(|_| h.get("Content-Type").map(|c| c.value.to_owned()));
    Ok(OwnedHead::Request(req))
}

/// The reason phrase we send with a status code (RFC 4975 §10).
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        408 => "Request Timeout",
        413 => "Message Too Large",
        415 => "Unsupported Media Type",
        423 => "Interval Out-of-Bounds",
        481 => "Session Does Not Exist",
        501 => "Unknown Method",
        506 => "Session Already Bound",
        _ => "Error",
    }
}

/// The response to `req` (RFC 4975 §7.2): same transaction id, To-Path the first From-Path URI
/// for SEND and the whole From-Path otherwise, From-Path `ours`, flag `$`.
pub(crate) fn response(req: &Request, code: u16, ours: &str) -> Vec<u8> {
    let to = if req.method == "SEND" {
        req.from_path.first().cloned().unwrap_or_default()
    } else {
        req.from_path.join(" ")
    };
    format!(
        "MSRP {tid} {code:03} {r}\r\nTo-Path: {to}\r\nFrom-Path: {ours}\r\n-------{tid}$\r\n",
        tid = req.tid,
        r = reason(code),
    )
    .into_bytes()
}

/// The fields of a request we write, with owned paths.
#[derive(Debug, Default)]
pub(crate) struct Outgoing<'a> {
    pub to_path: &'a [String],
    pub from_path: &'a [String],
    pub message_id: Option<&'a str>,
    pub byte_range: Option<ByteRange>,
    pub success_report: Option<ReportValue>,
    pub failure_report: Option<ReportValue>,
    pub status: Option<(u16, &'a str)>,
    pub content_type: Option<&'a str>,
}

fn parse_all(p: &[String]) -> Result<Vec<MsrpUri<'_>>, MsrpError> {
    p.iter()
        .map(|u| MsrpUri::parse(u).map_err(MsrpError::Build))
        .collect()
}

/// Append the head of a request (with the blank line when `has_body`).
pub(crate) fn request_head(
    out: &mut Vec<u8>,
    tid: &str,
    method: Method<'_>,
    o: &Outgoing<'_>,
    has_body: bool,
) -> Result<(), MsrpError> {
    let to = parse_all(o.to_path)?;
    let from = parse_all(o.from_path)?;
    let h = RequestHeaders {
        to_path: &to,
        from_path: &from,
        message_id: o.message_id,
        byte_range: o.byte_range,
        success_report: o.success_report,
        failure_report: o.failure_report,
        status: o.status.map(|(code, comment)| StatusHeader {
            namespace: 0,
            code,
            comment: Some(comment),
        }),
        extra: &[],
        content_type: o.content_type,
    };
    crate::proto::msrp::write_request_head(out, tid, method, &h, has_body).map_err(MsrpError::Build)
}

/// A whole bodiless request (a binding SEND, a REPORT).
pub(crate) fn bodiless_request(
    tid: &str,
    method: Method<'_>,
    o: &Outgoing<'_>,
) -> Result<Vec<u8>, MsrpError> {
    let to = parse_all(o.to_path)?;
    let from = parse_all(o.from_path)?;
    let h = RequestHeaders {
        to_path: &to,
        from_path: &from,
        message_id: o.message_id,
        byte_range: o.byte_range,
        success_report: o.success_report,
        failure_report: o.failure_report,
        status: o.status.map(|(code, comment)| StatusHeader {
            namespace: 0,
            code,
            comment: Some(comment),
        }),
        extra: &[],
        content_type: None,
    };
    let mut out = Vec::new();
    write_request(&mut out, tid, method, &h, None, Flag::End).map_err(MsrpError::Build)?;
    Ok(out)
}

/// Write all of `bytes`, mapping failures to [`MsrpError::Io`].
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    peer: SocketAddr,
) -> Result<(), MsrpError> {
    w.write_all(bytes).await.map_err(|source| MsrpError::Io {
        op: "sending to",
        peer,
        source,
    })
}

/// Append up to 64 KiB from `r` to `buf`; `Ok(false)` at end of stream. `idle` bounds the wait.
pub(crate) async fn read_more<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    idle: Duration,
    during: &str,
) -> Result<bool, MsrpError> {
    read_more_up_to(r, buf, 64 * 1024, peer, idle, during).await
}

/// [`read_more`] with up to `max` bytes per read.
pub(crate) async fn read_more_up_to<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    peer: SocketAddr,
    idle: Duration,
    during: &str,
) -> Result<bool, MsrpError> {
    buf.reserve(max);
    let mut limited = (&mut *r).take(max as u64);
    match tokio::time::timeout(idle, limited.read_buf(buf)).await {
        Ok(Ok(0)) => Ok(false),
        Ok(Ok(_)) => Ok(true),
        Ok(Err(source)) => Err(MsrpError::Io {
            op: "receiving from",
            peer,
            source,
        }),
        Err(_) => Err(MsrpError::Timeout {
            what: format!("data ({during})"),
            peer,
            after: idle,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Status;
    use crate::proto::msrp::parse;

    const SEND: &[u8] = b"MSRP a786hjs2 SEND\r\n\
To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n\
From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n\
Message-ID: 87652491\r\n\
Byte-Range: 1-25/25\r\n\
Failure-Report: partial\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hey Bob, are you there?\r\n\
-------a786hjs2$\r\n";

    fn head() -> Request {
        let Ok(Status::Complete(m, _)) = parse(SEND) else {
            panic!("fixture parses");
        };
        let h = Head {
            tid: m.tid,
            start: m.start,
            headers: m.headers.clone(),
            bodiless_end: None,
        };
        match own_head(&h) {
            Ok(OwnedHead::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn owned_head_and_response_bytes() {
        let r = head();
        assert_eq!(r.message_id.as_deref(), Some("87652491"));
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.failure_report, Some(ReportValue::Partial));
        assert!(!r.wants_response(true));
        assert!(r.wants_response(false));
        let resp = response(&r, 200, "msrp://bob.example.com:8888/9di4eae923wzd;tcp");
        assert_eq!(
            resp,
            b"MSRP a786hjs2 200 OK\r\n\
To-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n\
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n\
-------a786hjs2$\r\n"
        );
        assert!(matches!(parse(&resp), Ok(Status::Complete(..))));
    }

    #[test]
    fn report_request_round_trips() {
        let to = vec!["msrp://a.example:1/abcd;tcp".to_owned()];
        let from = vec!["msrp://b.example:2/efgh;tcp".to_owned()];
        let bytes = bodiless_request(
            "tid12345",
            Method::Report,
            &Outgoing {
                to_path: &to,
                from_path: &from,
                message_id: Some("msg1"),
                byte_range: Some(ByteRange {
                    start: 1,
                    end: Some(5),
                    total: Some(5),
                }),
                status: Some((200, "OK")),
                ..Default::default()
            },
        )
        .expect("builds");
        assert_eq!(
            bytes,
            b"MSRP tid12345 REPORT\r\nTo-Path: msrp://a.example:1/abcd;tcp\r\n\
From-Path: msrp://b.example:2/efgh;tcp\r\nMessage-ID: msg1\r\nByte-Range: 1-5/5\r\n\
Status: 000 200 OK\r\n-------tid12345$\r\n"
        );
    }
}
