//! The callee's side of an answered call (issue 15 item 6): what `invite` answers to the
//! requests the callee sends inside the dialog, and the session timer (RFC 4028) the call
//! runs under. Without IO: bytes in, the reply and what to report out, so the transfer loop
//! and the hold loop answer the same way and unit tests need no socket.

use std::collections::VecDeque;
use std::time::Duration;

use crate::output::invite::InDialogRecord;
use crate::proto::sip::build::MessageBuilder;
use crate::proto::sip::{self, HeaderName, Message, ParseOptions};

/// The methods `invite` handles inside a call: the Allow of its INVITE, its answers and 501s.
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS, NOTIFY, MESSAGE";

/// The smallest session interval accepted (RFC 4028 §4: Min-SE is never below 90 s).
const MIN_SE: u64 = 90;

/// How many answered requests are kept to answer their retransmissions (RFC 3261 §17.2).
const REMEMBERED: usize = 16;

/// The session timer agreed for the call (RFC 4028 §7.2, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionTimer {
    /// The session interval (Session-Expires).
    pub(super) interval: Duration,
    /// Whether we send the refreshes (refresher is our role in the transaction that set it).
    pub(super) we_refresh: bool,
}

impl SessionTimer {
    /// When the next refresh is due after one at `at`: half the interval (RFC 4028 §10).
    pub(super) fn refresh_after(&self) -> Duration {
        self.interval / 2
    }
}

/// `Session-Expires: delta-seconds [;refresher=uac|uas]` (RFC 4028 §4):
/// `Session-Expires = ("Session-Expires" / "x") HCOLON delta-seconds *(SEMI se-params)`.
pub(super) fn session_expires(m: &Message<'_>) -> Option<(u64, Option<String>)> {
    let h = m.header(HeaderName::SessionExpires)?;
    let text = String::from_utf8_lossy(h.value);
    let mut parts = text.split(';');
    let secs = parts.next()?.trim().parse::<u64>().ok()?;
    let refresher = parts.find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_ascii_lowercase())
    });
    Some((secs, refresher))
}

/// The session timer a 2xx to our INVITE sets: we refresh when it names us (`uac`).
pub(super) fn timer_of_answer(resp: &Message<'_>) -> Option<SessionTimer> {
    let (secs, refresher) = session_expires(resp)?;
    Some(SessionTimer {
        // Below RFC 4028's 90 s is out of spec but harmless to honour; 2 s keeps refreshes sane.
        interval: Duration::from_secs(secs.max(2)),
        we_refresh: refresher.as_deref() == Some("uac"),
    })
}

/// What to do with one message received on the call's connection.
#[derive(Debug, Default)]
pub(super) struct Handled {
    /// Bytes to send back (a response, or the ACK again for a retransmitted 2xx).
    pub(super) reply: Option<Vec<u8>>,
    /// A request of the callee that was answered, to report.
    pub(super) record: Option<InDialogRecord>,
    /// The callee ended the call with BYE (answered 200).
    pub(super) hung_up: bool,
    /// The callee's request changed the session timer.
    pub(super) timer: Option<SessionTimer>,
}

/// The state of the answered call as its UAS side needs it.
#[derive(Debug)]
pub(super) struct InDialog {
    call_id: String,
    contact: String,
    /// Our current session description, given again to every offer (RFC 3264 §8: unchanged,
    /// so the o= version stays).
    sdp: String,
    /// The ACK of each 2xx of ours INVITEs, by CSeq number, for retransmitted 2xx.
    acks: Vec<(u32, Vec<u8>)>,
    /// The highest CSeq of the callee's requests (RFC 3261 §12.2.2).
    remote_cseq: Option<u32>,
    /// (branch, method, response) of recent answers, for retransmitted requests.
    answered: VecDeque<(String, String, Vec<u8>)>,
    /// A re-INVITE of ours is pending: another INVITE gets 491 (RFC 3261 §14.2).
    pub(super) our_invite_pending: bool,
    /// Our 2xx to the callee's re-INVITE (its CSeq number and bytes) until the ACK comes:
    /// over UDP it is sent again on T1, 2·T1... (RFC 3261 §13.3.1.4).
    pub(super) unacked: Option<(u32, Vec<u8>)>,
}

impl InDialog {
    pub(super) fn new(call_id: &str, contact: &str, sdp: &str, ack: (u32, Vec<u8>)) -> InDialog {
        InDialog {
            call_id: call_id.to_owned(),
            contact: contact.to_owned(),
            sdp: sdp.to_owned(),
            acks: vec![ack],
            remote_cseq: None,
            answered: VecDeque::new(),
            our_invite_pending: false,
            unacked: None,
        }
    }

    /// Remember the ACK of a 2xx to a re-INVITE of ours.
    pub(super) fn add_ack(&mut self, cseq: u32, ack: Vec<u8>) {
        self.acks.push((cseq, ack));
    }

    /// Our current session description.
    pub(super) fn sdp(&self) -> &str {
        &self.sdp
    }

    /// Answer one message from the callee: a request inside the dialog, or a retransmitted
    /// 2xx of one of our INVITEs. Responses to our own transactions are not handled here.
    pub(super) fn handle(&mut self, data: &[u8]) -> Handled {
        let Ok(Some((m, _))) = sip::parse(data, &ParseOptions::datagram()).map(|s| s.complete())
        else {
            return Handled::default();
        };
        if !m.is_request() {
            let seq = m
                .cseq()
                .ok()
                .filter(|c| c.method == "INVITE")
                .map(|c| c.seq);
            let reply = match (m.status(), seq) {
                (Some(200..=299), Some(seq)) => self
                    .acks
                    .iter()
                    .find(|(s, _)| *s == seq)
                    .map(|(_, a)| a.clone()),
                _ => None,
            };
            return Handled {
                reply,
                ..Handled::default()
            };
        }
        let method = m.method().unwrap_or_default().to_owned();
        // RFC 3261 §17.2.3: a request of a transaction already answered gets the answer again.
        let branch = m
            .top_via()
            .ok()
            .and_then(|v| v.branch)
            .unwrap_or_default()
            .to_owned();
        if method == "ACK" {
            let seq = m.cseq().map(|c| c.seq).ok();
            if self.unacked.as_ref().is_some_and(|(s, _)| Some(*s) == seq) {
                self.unacked = None;
            }
            return Handled::default();
        }
        if let Some((_, _, resp)) = self
            .answered
            .iter()
            .find(|(b, me, _)| !b.is_empty() && *b == branch && *me == method)
        {
            return Handled {
                reply: Some(resp.clone()),
                ..Handled::default()
            };
        }
        let mut out = Handled::default();
        let (code, reason, builder) = self.answer(&m, &method, &mut out);
        let reply = builder.build();
        if method == "INVITE" && code == 200 {
            let seq = m.cseq().map(|c| c.seq).unwrap_or(0);
            self.unacked = Some((seq, reply.clone()));
        }
        let body = m.body;
        out.record = Some(InDialogRecord {
            method: method.clone(),
            status: code,
            reason: reason.to_owned(),
            content_type: m
                .header(HeaderName::ContentType)
                .map(|h| String::from_utf8_lossy(h.value).into_owned()),
            body_bytes: body.len(),
            body: std::str::from_utf8(body)
                .ok()
                .filter(|b| !b.is_empty() && b.len() <= 1024)
                .map(str::to_owned),
        });
        if self.answered.len() == REMEMBERED {
            self.answered.pop_front();
        }
        self.answered.push_back((branch, method, reply.clone()));
        out.reply = Some(reply);
        out
    }

    fn answer(
        &mut self,
        m: &Message<'_>,
        method: &str,
        out: &mut Handled,
    ) -> (u16, &'static str, MessageBuilder) {
        let reject = |code, reason| {
            (
                code,
                reason,
                MessageBuilder::response_to(m, code, reason, None),
            )
        };
        if m.call_id().ok() != Some(self.call_id.as_str()) {
            return reject(481, "Call/Transaction Does Not Exist");
        }
        let seq = m.cseq().map(|c| c.seq).unwrap_or(0);
        if method != "CANCEL" {
            if self.remote_cseq.is_some_and(|r| seq < r) {
                // RFC 3261 §12.2.2: out of order.
                return reject(500, "CSeq Out of Order");
            }
            self.remote_cseq = Some(seq);
        }
        match method {
            "BYE" => {
                out.hung_up = true;
                reject(200, "OK")
            }
            "INVITE" | "UPDATE" => {
                if method == "INVITE" && self.our_invite_pending {
                    return reject(491, "Request Pending");
                }
                let mut b = MessageBuilder::response_to(m, 200, "OK", None);
                if let Some((secs, refresher)) = session_expires(m) {
                    if secs < MIN_SE {
                        // RFC 4028 §8.1.
                        let (c, r, b) = reject(422, "Session Interval Too Small");
                        return (c, r, b.header("Min-SE", &MIN_SE.to_string()));
                    }
                    // RFC 4028 §9: the refresher the request named, else the requester.
                    let refresher = refresher.unwrap_or_else(|| "uac".to_owned());
                    out.timer = Some(SessionTimer {
                        interval: Duration::from_secs(secs),
                        we_refresh: refresher == "uas",
                    });
                    b = b
                        .header("Require", "timer")
                        .header("Session-Expires", &format!("{secs};refresher={refresher}"));
                }
                b = b
                    .header("Contact", &self.contact)
                    .header("Allow", ALLOW)
                    .header("Supported", "timer");
                // An offer gets our current description as the answer; an INVITE without
                // one gets it as our offer (RFC 3264 §4, RFC 3311 §5.2).
                if method == "INVITE" || !m.body.is_empty() {
                    b = b.body("application/sdp", self.sdp.as_bytes().to_vec());
                }
                (200, "OK", b)
            }
            "OPTIONS" => (
                200,
                "OK",
                MessageBuilder::response_to(m, 200, "OK", None)
                    .header("Allow", ALLOW)
                    .header("Accept", "application/sdp")
                    .header("Supported", "timer"),
            ),
            "INFO" | "NOTIFY" | "MESSAGE" => reject(200, "OK"),
            // Our INVITE transactions are answered already: nothing is left to cancel.
            "CANCEL" => reject(200, "OK"),
            _ => {
                let (c, r, b) = reject(501, "Not Implemented");
                (c, r, b.header("Allow", ALLOW))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> InDialog {
        InDialog::new(
            "c1",
            "<sip:sipkit@127.0.0.1:5070>",
            "v=0\r\nours\r\n",
            (1, b"ACK 1".to_vec()),
        )
    }

    fn request(method: &str, cseq: u32, branch: &str, extra: &str, body: &str) -> Vec<u8> {
        format!(
            "{method} sip:sipkit@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch={branch}\r\n\
             From: <sip:b@x>;tag=b1\r\nTo: <sip:a@x>;tag=a1\r\nCall-ID: c1\r\nCSeq: {cseq} {method}\r\n\
             {extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn text(h: &Handled) -> String {
        String::from_utf8_lossy(h.reply.as_deref().unwrap_or_default()).into_owned()
    }

    #[test]
    fn a_reinvite_gets_our_current_sdp_contact_and_allow_issue_15() {
        let mut d = call();
        let h = d.handle(&request("INVITE", 2, "z9hG4bKr", "", "v=0\r\ntheirs\r\n"));
        let t = text(&h);
        assert!(t.starts_with("SIP/2.0 200 OK\r\n"), "{t}");
        assert!(
            t.contains("Contact: <sip:sipkit@127.0.0.1:5070>\r\n"),
            "{t}"
        );
        assert!(t.contains(&format!("Allow: {ALLOW}\r\n")), "{t}");
        assert!(t.ends_with("\r\n\r\nv=0\r\nours\r\n"), "{t}");
        assert_eq!(h.record.as_ref().map(|r| r.status), Some(200));
        assert_eq!(
            d.unacked.as_ref().map(|(s, _)| *s),
            Some(2),
            "waits for its ACK"
        );
        // The same request again (a retransmission) gets the same answer, not a new one.
        let again = d.handle(&request("INVITE", 2, "z9hG4bKr", "", "v=0\r\ntheirs\r\n"));
        assert_eq!(again.reply, h.reply);
        assert!(again.record.is_none());
        assert!(
            d.handle(&request("ACK", 2, "z9hG4bKa", "", ""))
                .reply
                .is_none()
        );
        assert!(d.unacked.is_none(), "the ACK ends the retransmissions");
    }

    #[test]
    fn session_timers_are_accepted_and_say_who_refreshes_issue_15() {
        let mut d = call();
        let h = d.handle(&request(
            "UPDATE",
            2,
            "z9hG4bKu",
            "Supported: timer\r\nSession-Expires: 120;refresher=uas\r\nMin-SE: 90\r\n",
            "",
        ));
        let t = text(&h);
        assert!(t.contains("Session-Expires: 120;refresher=uas\r\n"), "{t}");
        assert!(t.contains("Require: timer\r\n"), "{t}");
        assert!(
            t.contains("Content-Length: 0\r\n"),
            "no offer, no answer: {t}"
        );
        assert_eq!(
            h.timer,
            Some(SessionTimer {
                interval: Duration::from_secs(120),
                we_refresh: true
            })
        );
        let h = d.handle(&request(
            "UPDATE",
            3,
            "z9hG4bKu2",
            "Session-Expires: 1800\r\n",
            "",
        ));
        assert!(text(&h).contains("Session-Expires: 1800;refresher=uac\r\n"));
        assert_eq!(h.timer.map(|t| t.we_refresh), Some(false));
        let h = d.handle(&request(
            "UPDATE",
            4,
            "z9hG4bKu3",
            "Session-Expires: 30\r\n",
            "",
        ));
        let t = text(&h);
        assert!(
            t.starts_with("SIP/2.0 422 ") && t.contains("Min-SE: 90\r\n"),
            "{t}"
        );
    }

    #[test]
    fn info_options_notify_message_get_200_and_others_501_with_allow_issue_15() {
        let mut d = call();
        for (i, m) in ["INFO", "OPTIONS", "NOTIFY", "MESSAGE"].iter().enumerate() {
            let h = d.handle(&request(m, 2 + i as u32, &format!("z9hG4bK{m}"), "", "x"));
            assert!(
                text(&h).starts_with("SIP/2.0 200 OK\r\n"),
                "{m}: {}",
                text(&h)
            );
            assert_eq!(h.record.as_ref().map(|r| r.method.as_str()), Some(*m));
        }
        let h = d.handle(&request("SUBSCRIBE", 9, "z9hG4bKs", "", ""));
        let t = text(&h);
        assert!(t.starts_with("SIP/2.0 501 "), "{t}");
        assert!(t.contains(&format!("Allow: {ALLOW}\r\n")), "{t}");
        // A lower CSeq than one already seen is out of order (RFC 3261 §12.2.2).
        let h = d.handle(&request("INFO", 3, "z9hG4bKold", "", ""));
        assert!(text(&h).starts_with("SIP/2.0 500 "), "{}", text(&h));
    }

    #[test]
    fn bye_ends_the_call_and_a_2xx_retransmission_gets_its_ack_issue_15() {
        let mut d = call();
        let h = d.handle(&request("BYE", 2, "z9hG4bKb", "", ""));
        assert!(h.hung_up);
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
From: <sip:a@x>;tag=a1\r\nTo: <sip:b@x>;tag=b1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";
        assert_eq!(d.handle(resp).reply.as_deref(), Some(&b"ACK 1"[..]));
        let other = request("INFO", 5, "z9hG4bKi", "", "").to_vec();
        let other = String::from_utf8_lossy(&other).replace("Call-ID: c1", "Call-ID: c2");
        assert!(text(&d.handle(other.as_bytes())).starts_with("SIP/2.0 481 "));
    }
}
