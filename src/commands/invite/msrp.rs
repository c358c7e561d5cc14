//! The MSRP half of `sipkit invite` (#6): where our end of the session is (a=path, a=setup),
//! then, once the call is up, the connection the answer asks for (RFC 6135: we connect to the
//! first hop of its a=path, or take the connection when it answers `active`), and the content
//! streamed through [`MsrpSender`] while events and the progress bar follow the chunks. The
//! content is read as it is sent: a file or standard input is never held whole.

use std::io::Write;
use std::net::IpAddr;

use tokio::io::AsyncRead;
use tokio::net::TcpListener;

use super::{Content, Run};
use crate::commands::sip_client::Stop;
use crate::exit::Exit;
use crate::output::invite::{
    AnswerRecord, InviteEvent, MsrpConnectedRecord, Progress, RelayRecord, TransferRecord,
};
use crate::proto::sdp::Setup;
use crate::transport::msrp::relay::authenticate;
use crate::transport::msrp::{
    CpimEnvelope, MsrpError, MsrpSender, Outgoing, RelayCredentials, RelayError, Relayed, Security,
    SendEvent, SenderConfig, local_uri,
};
use crate::transport::{ClientTls, ServerTls};

/// Our end of the MSRP session, decided before the offer is built.
#[derive(Debug)]
pub(super) struct Local {
    /// Our MSRP URI, the From-Path.
    pub(super) uri: String,
    /// The offer's a=path: our URI, behind the relay's Use-Path with --relay.
    pub(super) path: String,
    /// The authenticated connection to our relay (--relay), which the session will use.
    relayed: Option<Relayed>,
    /// The m= port: the listener's, or 9 (discard) when we only connect (RFC 4145 §4).
    pub(super) port: u16,
    /// `actpass` when we can take a connection, `active` otherwise (RFC 6135 §4.2).
    pub(super) setup: Setup,
    listener: Option<TcpListener>,
    server_tls: Option<ServerTls>,
}

/// `--relay`: where, as whom, and how long to wait.
#[derive(Debug)]
pub(super) struct RelayPlan<'a> {
    pub(super) uri: &'a str,
    pub(super) credentials: Option<RelayCredentials<'a>>,
    pub(super) tls: Option<ClientTls>,
    pub(super) timeout: std::time::Duration,
}

impl Local {
    /// The `relay` event, when a relay is used.
    pub(super) fn relay_record(&self) -> Option<RelayRecord> {
        let r = self.relayed.as_ref()?;
        Some(RelayRecord {
            relay: r.relay().to_owned(),
            peer: r.peer().to_string(),
            use_path: r.use_path().to_vec(),
            expires: r.expires(),
        })
    }
}

/// One line and an exit status for a relay that could not be used.
fn relay_failure(e: &RelayError) -> Stop {
    match e {
        RelayError::Msrp(MsrpError::Timeout { .. }) => {
            Stop::Failure(Exit::Timeout, format!("MSRP relay: {e}"))
        }
        RelayError::Msrp(MsrpError::Transport(t)) if !t.is_network() => {
            Stop::Failure(Exit::Usage, format!("MSRP relay: {e}"))
        }
        RelayError::Msrp(MsrpError::Path { .. }) => {
            Stop::Failure(Exit::Usage, format!("MSRP relay: {e}"))
        }
        RelayError::Msrp(_) => Stop::Failure(Exit::Network, format!("MSRP relay: {e}")),
        RelayError::Refused { .. }
        | RelayError::Challenge { .. }
        | RelayError::NoUsePath { .. } => Stop::Failure(Exit::Negative, e.to_string()),
    }
}

/// Bind a listener on `ip` so the callee may connect to us (RFC 6135 §4.2 asks offers for
/// `actpass`). Over TLS that needs a certificate (--cert/--key); without one we offer
/// `active` and always connect. With a relay, AUTH to it now (its Use-Path goes in the
/// offer) and offer `active`: we never take a connection, the relay reaches the callee.
pub(super) async fn prepare(
    ip: IpAddr,
    session: &str,
    msrps: bool,
    server_tls: Option<ServerTls>,
    relay: Option<&RelayPlan<'_>>,
) -> Result<Local, Stop> {
    let security = if msrps { Security::Tls } else { Security::Tcp };
    let host = ip.to_string();
    if let Some(plan) = relay {
        let uri = local_uri(&host, 9, session, security);
        let relayed = authenticate(
            plan.uri,
            &uri,
            plan.tls.as_ref(),
            plan.credentials,
            plan.timeout,
        )
        .await
        .map_err(|e| relay_failure(&e))?;
        return Ok(Local {
            path: relayed.sdp_path(&uri),
            uri,
            relayed: Some(relayed),
            port: 9,
            setup: Setup::Active,
            listener: None,
            server_tls: None,
        });
    }
    if msrps && server_tls.is_none() {
        let uri = local_uri(&host, 9, session, security);
        return Ok(Local {
            path: uri.clone(),
            uri,
            relayed: None,
            port: 9,
            setup: Setup::Active,
            listener: None,
            server_tls: None,
        });
    }
    let listener = TcpListener::bind((ip, 0)).await.map_err(|e| {
        Stop::Failure(
            Exit::Network,
            format!("cannot listen for MSRP on {ip}: {e}"),
        )
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| Stop::Failure(Exit::Network, format!("MSRP listener: {e}")))?
        .port();
    let uri = local_uri(&host, port, session, security);
    Ok(Local {
        path: uri.clone(),
        uri,
        relayed: None,
        port,
        setup: Setup::ActPass,
        listener: Some(listener),
        server_tls,
    })
}

/// How the content goes out.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    pub(super) content: &'a Content,
    pub(super) cpim: Option<CpimEnvelope>,
    pub(super) sender: SenderConfig,
    pub(super) client_tls: Option<ClientTls>,
    pub(super) progress: bool,
}

/// Whether `ty` (parameters ignored) is in an a=accept-types list (`*` and `type/*` allowed,
/// RFC 4975 §8.6).
pub(super) fn accepts(list: &[String], ty: &str) -> bool {
    let bare = |t: &str| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let ty = bare(ty);
    let (major, _) = ty.split_once('/').unwrap_or((&ty, ""));
    list.iter().any(|a| {
        let a = bare(a);
        a == "*" || a == ty || a.strip_suffix("/*").is_some_and(|m| m == major)
    })
}

/// Whether to wrap in message/cpim: asked for, or the only way the callee takes the content.
pub(super) fn must_wrap(forced: bool, answer: &AnswerRecord, content_type: &str) -> bool {
    forced
        || (!accepts(&answer.accept_types, content_type)
            && accepts(&answer.accept_types, "message/cpim"))
}

/// An RFC 3339 UTC time for the CPIM DateTime header (RFC 3862 §4.7).
pub(super) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian, era arithmetic).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// What the content is, for error lines: `the file x.bin (application/pdf, 12 bytes)`.
fn describe(content: &Content) -> String {
    match content {
        Content::Text { content_type, text } => {
            format!("the text ({content_type}, {} bytes)", text.len())
        }
        Content::File {
            path,
            content_type,
            size,
            ..
        } => format!(
            "the file {} ({content_type}, {size} bytes)",
            crate::commands::sip_client::shown(path)
        ),
        Content::Stdin { content_type } => format!("standard input ({content_type})"),
        Content::Audio => "nothing".to_owned(),
    }
}

/// One line and an exit status for a failed MSRP session.
fn failure(e: &MsrpError, content: &Content) -> Stop {
    let what = describe(content);
    let text = |c: &Option<String>| c.as_ref().map(|c| format!(" {c}")).unwrap_or_default();
    let (exit, line) = match e {
        MsrpError::Rejected {
            peer,
            code,
            comment,
            byte_range,
            ..
        } => (
            Exit::Negative,
            format!(
                "{peer} refused {what}: MSRP {code}{} (chunk {byte_range})",
                text(comment)
            ),
        ),
        MsrpError::FailureReport {
            peer,
            code,
            comment,
            byte_range,
            ..
        } => (
            Exit::Negative,
            format!(
                "{peer} reported failure {code}{} for {what} (bytes {byte_range})",
                text(comment)
            ),
        ),
        MsrpError::Timeout { .. } => (Exit::Timeout, format!("MSRP: {e}")),
        MsrpError::Transport(t) if !t.is_network() => (Exit::Usage, format!("MSRP: {e}")),
        MsrpError::Transport(_)
        | MsrpError::Io { .. }
        | MsrpError::Closed { .. }
        | MsrpError::Framing { .. } => (Exit::Network, format!("MSRP: {e}")),
        MsrpError::Source(_) => (Exit::Usage, format!("sending {what}: {e}")),
        MsrpError::Path { .. } => (Exit::Negative, format!("MSRP: {e}")),
        MsrpError::Store { .. } | MsrpError::Build(_) => (Exit::Usage, format!("MSRP: {e}")),
    };
    Stop::Failure(exit, line)
}

/// Standard input as a tokio file: its reads run on the blocking pool, so a slow pipe never
/// stalls the session (tokio's own `stdin` is not in this build's feature set).
fn stdin() -> Result<tokio::fs::File, Stop> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        let fd = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Stop::Failure(Exit::Usage, format!("cannot read standard input: {e}")))?;
        Ok(tokio::fs::File::from_std(std::fs::File::from(fd)))
    }
    #[cfg(not(unix))]
    {
        Err(Stop::Failure(
            Exit::Usage,
            "--stdin is only supported on Unix here".into(),
        ))
    }
}

async fn open(content: &Content) -> Result<(Box<dyn AsyncRead + Unpin + Send>, Option<u64>), Stop> {
    Ok(match content {
        Content::Text { text, .. } => (
            Box::new(std::io::Cursor::new(text.clone().into_bytes())),
            Some(text.len() as u64),
        ),
        Content::File { path, size, .. } => {
            let f = tokio::fs::File::open(path).await.map_err(|e| {
                Stop::Failure(
                    Exit::Usage,
                    format!(
                        "cannot read {}: {e}",
                        crate::commands::sip_client::shown(path)
                    ),
                )
            })?;
            (Box::new(f), Some(*size))
        }
        Content::Stdin { .. } => (Box::new(stdin()?), None),
        Content::Audio => (Box::new(tokio::io::empty()), Some(0)),
    })
}

/// Connect (or accept), bind the session and send the content; `Ok(confirmed)`.
pub(super) async fn transfer<W: Write>(
    run: &mut Run<W>,
    mut local: Local,
    answer: &AnswerRecord,
    plan: Plan<'_>,
) -> Result<bool, Stop> {
    let peer_path = answer.path.join(" ");
    let passive = answer.setup.as_deref() == Some("active") && local.listener.is_some();
    let content_type = plan.content.content_type().to_owned();
    let relayed = local.relayed.take();
    let mut sender = match (&local.listener, passive, relayed) {
        // RFC 6135 does not apply to the hop to our relay: we always use our connection to it.
        (_, _, Some(r)) => {
            MsrpSender::through_relay(r, &local.uri, &peer_path, plan.sender.clone()).await
        }
        (Some(listener), true, None) => {
            MsrpSender::accept(
                listener,
                local.server_tls.as_ref(),
                &local.uri,
                &peer_path,
                plan.sender.clone(),
            )
            .await
        }
        _ => {
            MsrpSender::connect(
                &local.uri,
                &peer_path,
                plan.client_tls.as_ref(),
                plan.sender.clone(),
            )
            .await
        }
    }
    .map_err(|e| failure(&e, plan.content))?;
    drop(local.listener);
    run.emit(&InviteEvent::MsrpConnected(&MsrpConnectedRecord {
        peer: sender.peer().to_string(),
        role: if passive { "passive" } else { "active" },
        tls: local.uri.starts_with("msrps:"),
        local_uri: local.uri.clone(),
        cpim: plan.cpim.is_some(),
    }));
    let (reader, size) = open(plan.content).await?;
    let mut progress = Progress::new(plan.progress);
    let result = sender
        .send(
            Outgoing {
                reader,
                content_type,
                size,
                cpim: plan.cpim,
            },
            |ev| match ev {
                SendEvent::ChunkAcked {
                    bytes,
                    total,
                    elapsed,
                    ..
                } => {
                    progress.update(bytes, total, elapsed.as_secs_f64(), false);
                    run.emit(&InviteEvent::ChunkAcked { bytes, total });
                }
                SendEvent::SuccessReport { bytes, .. } => {
                    progress.finish();
                    run.emit(&InviteEvent::DeliveryReport {
                        confirmed: true,
                        bytes,
                    });
                }
                SendEvent::Bound { .. } => {}
            },
        )
        .await;
    progress.finish();
    let summary = result.map_err(|e| failure(&e, plan.content))?;
    // Without a Success-Report, a 200 for every chunk is the confirmation.
    let confirmed = summary.confirmed || !plan.sender.success_report;
    run.emit(&InviteEvent::Transfer(&TransferRecord {
        message_id: summary.message_id.clone(),
        bytes: summary.bytes,
        chunks: summary.chunks,
        seconds: summary.elapsed.as_secs_f64(),
        throughput_mbps: summary.throughput / 1e6,
        confirmed,
    }));
    Ok(confirmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_types_match_wildcards_and_ignore_parameters() {
        let list = vec!["text/*".to_owned(), "message/CPIM".to_owned()];
        assert!(accepts(&list, "text/plain;charset=utf-8"));
        assert!(accepts(&list, "message/cpim"));
        assert!(!accepts(&list, "image/png"));
        assert!(accepts(&["*".to_owned()], "image/png"));
    }

    #[test]
    fn content_is_wrapped_only_when_cpim_is_the_way_in() {
        let answer = |types: &[&str]| AnswerRecord {
            accept_types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..AnswerRecord::default()
        };
        assert!(must_wrap(
            false,
            &answer(&["message/cpim"]),
            "application/pdf"
        ));
        assert!(!must_wrap(
            false,
            &answer(&["application/pdf", "message/cpim"]),
            "application/pdf"
        ));
        assert!(must_wrap(true, &answer(&["*"]), "text/plain"));
        assert!(!must_wrap(false, &answer(&["text/plain"]), "image/png"));
    }

    #[test]
    fn rfc3339_dates_are_civil_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
