//! Calls (INVITE dialogs) and statistics, kept as small summaries so memory grows with the
//! number of calls, never with the number of messages.
//!
//! A capture taken at a proxy, a B2BUA or on two interfaces shows one call on several hops:
//! the first INVITE's hop (its source and destination) is the call's first leg, where setup
//! times and the outcome are read, and a retransmission is a message repeated on the same hop.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The tables here are keyed by Call-IDs and message hashes from the capture: foldhash (the
/// crate's one fast hasher) instead of SipHash, which was a tenth of `--stats`.
type FastState = foldhash::fast::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;

use crate::capture::Timestamp;
use crate::proto::sip;

/// How a call ended, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    /// Answered (2xx) and ended by BYE.
    Completed,
    /// A final response of 300 or more, with no CANCEL before it.
    Rejected,
    /// CANCEL before the final response, and that response was not a 2xx (487 usually, but
    /// 408, 500... too: the caller gave up either way).
    Cancelled,
    /// No final response yet, or answered and not yet ended.
    InProgress,
}

impl CallState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CallState::Completed => "completed",
            CallState::Rejected => "rejected",
            CallState::Cancelled => "cancelled",
            CallState::InProgress => "in_progress",
        }
    }

    /// `rejected 486` for people.
    pub(crate) fn label(self, code: Option<u16>) -> String {
        match (self, code) {
            (CallState::Rejected, Some(c)) => format!("rejected {c}"),
            (CallState::InProgress, _) => "in progress".into(),
            _ => self.name().into(),
        }
    }
}

/// Where and when a message was seen: its hop is its source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) time: Timestamp,
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
}

/// What is kept of one call.
#[derive(Debug, Clone)]
pub(crate) struct CallSummary {
    pub(crate) call_id: String,
    /// The time of the first INVITE.
    pub(crate) start: Timestamp,
    /// From and To URIs of the INVITE.
    pub(crate) from: String,
    pub(crate) to: String,
    /// The first leg: source and destination of the first INVITE seen.
    leg: (SocketAddr, SocketAddr),
    /// The first 18x to the INVITE on the first leg.
    pub(crate) first_provisional: Option<Timestamp>,
    /// The first 2xx to the INVITE on the first leg.
    pub(crate) answered: Option<Timestamp>,
    pub(crate) bye: Option<Timestamp>,
    pub(crate) cancelled: bool,
    /// The first final response to the INVITE on the first leg, not counting authentication
    /// challenges.
    pub(crate) final_status: Option<u16>,
    /// The first final response seen on another leg: the outcome when the capture shows none
    /// on the first leg.
    other_final: Option<u16>,
    /// A 401 or 407 not yet followed by a new INVITE: the caller usually retries with
    /// credentials in the same call (RFC 3261 §22.2), so it ends the call only if nothing
    /// follows.
    challenge: Option<u16>,
    pub(crate) messages: u64,
}

/// Microseconds from `from` to `to` (0 when the capture's clock went backwards).
fn micros(from: Timestamp, to: Option<Timestamp>) -> Option<u64> {
    to.map(|t| u64::try_from(t.nanos_since(from).max(0) / 1000).unwrap_or(u64::MAX))
}

impl CallSummary {
    /// The status that decided the call: its final response, or an unanswered challenge.
    pub(crate) fn final_code(&self) -> Option<u16> {
        self.final_status.or(self.challenge).or(self.other_final)
    }

    pub(crate) fn state(&self) -> CallState {
        match self.final_code() {
            Some(200..=299) if self.bye.is_some() => CallState::Completed,
            // A 2xx that won the race against the CANCEL answered the call.
            Some(200..=299) => CallState::InProgress,
            Some(c) if c >= 300 && self.cancelled => CallState::Cancelled,
            Some(c) if c >= 300 => CallState::Rejected,
            _ if self.cancelled => CallState::Cancelled,
            _ => CallState::InProgress,
        }
    }

    /// Whether the INVITE got a 2xx (on the first leg, or on another when the first shows
    /// no final response).
    pub(crate) fn is_answered(&self) -> bool {
        matches!(self.final_code(), Some(200..=299))
    }

    /// INVITE to the first 18x, in microseconds.
    pub(crate) fn ringing(&self) -> Option<u64> {
        micros(self.start, self.first_provisional)
    }

    /// INVITE to the 2xx, in microseconds.
    pub(crate) fn answer(&self) -> Option<u64> {
        micros(self.start, self.answered)
    }

    /// 2xx to BYE, in microseconds.
    pub(crate) fn duration(&self) -> Option<u64> {
        self.answered.and_then(|a| micros(a, self.bye))
    }
}

/// Calls by Call-ID, in order of their first INVITE.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    by_id: HashMap<String, usize, FastState>,
    pub(crate) calls: Vec<CallSummary>,
}

impl Calls {
    /// Account one SIP message; returns the index of its call, if it belongs to one.
    pub(crate) fn add(&mut self, at: Seen, m: &sip::Message<'_>) -> Option<usize> {
        let id = m.call_id().ok()?;
        let idx = match self.by_id.get(id) {
            Some(&i) => i,
            None => {
                if !opens_call(m) {
                    return None;
                }
                let uri = |a: Result<sip::headers::NameAddr<'_>, _>| {
                    a.map_or_else(|_| String::new(), |a| a.uri.raw.to_string())
                };
                self.calls.push(CallSummary::new(
                    id.to_string(),
                    at,
                    uri(m.from_addr()),
                    uri(m.to_addr()),
                ));
                self.by_id.insert(id.to_string(), self.calls.len() - 1);
                self.calls.len() - 1
            }
        };
        self.calls[idx].update(at, m);
        Some(idx)
    }
}

/// Only an initial INVITE (no To tag) opens a call.
fn opens_call(m: &sip::Message<'_>) -> bool {
    m.method() == Some("INVITE") && m.to_addr().ok().and_then(|t| t.tag()).is_none()
}

impl CallSummary {
    fn new(call_id: String, invite: Seen, from: String, to: String) -> CallSummary {
        CallSummary {
            call_id,
            start: invite.time,
            from,
            to,
            leg: (invite.src, invite.dst),
            first_provisional: None,
            answered: None,
            bye: None,
            cancelled: false,
            final_status: None,
            other_final: None,
            challenge: None,
            messages: 0,
        }
    }

    /// Whether a response travels the first leg back: from where the first INVITE went, to
    /// the host it came from (any port: a UDP response goes to the Via's port, RFC 3261
    /// §18.2.2, which need not be the port the INVITE was sent from).
    fn on_first_leg(&self, at: Seen) -> bool {
        at.src == self.leg.1 && at.dst.ip() == self.leg.0.ip()
    }

    /// Account one message of this call.
    fn update(&mut self, at: Seen, m: &sip::Message<'_>) {
        let first_leg = self.on_first_leg(at);
        let c = self;
        c.messages += 1;
        let cseq_method = m.cseq().ok().map(|c| c.method);
        match (m.method(), m.status(), cseq_method) {
            (Some("CANCEL"), _, _) if c.final_status.is_none() => c.cancelled = true,
            (Some("INVITE"), _, _) => c.challenge = None,
            (Some("BYE"), _, _) if c.bye.is_none() => c.bye = Some(at.time),
            (None, Some(code), Some("INVITE")) => match code {
                180..=189 if first_leg && c.first_provisional.is_none() => {
                    c.first_provisional = Some(at.time);
                }
                200..=299 if first_leg => {
                    c.answered.get_or_insert(at.time);
                    c.final_status.get_or_insert(code);
                }
                401 | 407 if c.final_status.is_none() => c.challenge = Some(code),
                200.. if first_leg => {
                    c.final_status.get_or_insert(code);
                }
                200.. => {
                    c.other_final.get_or_insert(code);
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Whether what [`Stats`] counts of this call can no longer change: it was refused
    /// (a final status of 300 or more is kept, and a CANCEL after it is not counted), or it
    /// was ended by BYE (answered or not, the setup time is then fixed too).
    fn decided(&self) -> bool {
        self.bye.is_some() || self.final_status.is_some_and(|s| s >= 300)
    }
}

/// `--stats` without a calls table: calls still undecided are kept by a hash of their Call-ID
/// (no strings), and a call is counted and forgotten as soon as its outcome is decided, so
/// memory follows the calls in progress, plus eight bytes per finished call so that a late
/// retransmitted INVITE does not open it again.
#[derive(Debug, Default)]
pub(crate) struct CallCounter {
    open: HashMap<u64, CallSummary, FastState>,
    done: HashSet<u64, FastState>,
    hasher: FastState,
}

impl CallCounter {
    pub(crate) fn add(&mut self, at: Seen, m: &sip::Message<'_>, stats: &mut Stats) {
        let Ok(id) = m.call_id() else {
            return;
        };
        let key = self.hasher.hash_one(id);
        if self.done.contains(&key) {
            return;
        }
        let c = match self.open.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                if !opens_call(m) {
                    return;
                }
                e.insert(CallSummary::new(
                    String::new(),
                    at,
                    String::new(),
                    String::new(),
                ))
            }
        };
        c.update(at, m);
        if c.decided() {
            if let Some(c) = self.open.remove(&key) {
                stats.add_call(&c);
            }
            self.done.insert(key);
        }
    }

    /// Count the calls still open at the end of the capture.
    pub(crate) fn finish(&mut self, stats: &mut Stats) {
        for c in self.open.values() {
            stats.add_call(c);
        }
        self.open.clear();
        stats.setup_us.sort_unstable();
    }
}

/// Counts for `--stats`.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) messages: u64,
    pub(crate) msrp_messages: u64,
    pub(crate) methods: BTreeMap<String, u64>,
    statuses: Box<[u64; 600]>,
    pub(crate) retransmissions: u64,
    pub(crate) attempted: u64,
    pub(crate) answered: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
    setup_us: Vec<u64>,
    seen: Recent,
    /// Messages with at least one error-level finding.
    pub(crate) malformed: u64,
    /// Messages with at least one finding, with warnings.
    pub(crate) with_problems: u64,
    /// Messages per finding code (a code counts once per message).
    pub(crate) problems: BTreeMap<&'static str, u64>,
}

/// Most distinct method names counted; beyond, they count as `other` (hostile captures).
const MAX_METHODS: usize = 256;

impl Default for Stats {
    fn default() -> Self {
        Stats {
            messages: 0,
            msrp_messages: 0,
            methods: BTreeMap::new(),
            statuses: Box::new([0; 600]),
            retransmissions: 0,
            attempted: 0,
            answered: 0,
            failed: 0,
            cancelled: 0,
            setup_us: Vec::new(),
            seen: Recent::default(),
            malformed: 0,
            with_problems: 0,
            problems: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Count a message's findings (validate's codes, and the capture's).
    pub(crate) fn add_findings(&mut self, findings: &[crate::proto::Finding]) {
        if findings.is_empty() {
            return;
        }
        self.with_problems += 1;
        if findings
            .iter()
            .any(|f| f.severity == crate::proto::Severity::Error)
        {
            self.malformed += 1;
        }
        for (i, f) in findings.iter().enumerate() {
            if findings[..i].iter().all(|g| g.error.code != f.error.code) {
                *self.problems.entry(f.error.code).or_insert(0) += 1;
            }
        }
    }

    /// Count one SIP message seen on the hop `src` -> `dst`.
    pub(crate) fn add_sip(&mut self, m: &sip::Message<'_>, src: SocketAddr, dst: SocketAddr) {
        self.messages += 1;
        if let Some(method) = m.method() {
            let full = self.methods.len() >= MAX_METHODS;
            if let Some(n) = self.methods.get_mut(method) {
                *n += 1;
            } else if !full {
                self.methods.insert(method.to_string(), 1);
            } else {
                *self.methods.entry("other".into()).or_default() += 1;
            }
        }
        if let Some(code) = m.status() {
            if let Some(n) = self.statuses.get_mut(usize::from(code).saturating_sub(100)) {
                *n += 1;
            }
        }
        if self.seen.check(m, src, dst) {
            self.retransmissions += 1;
        }
    }

    /// Count the outcome of every call once the capture is read.
    #[cfg(test)]
    pub(crate) fn add_calls(&mut self, calls: &[CallSummary]) {
        for c in calls {
            self.add_call(c);
        }
        self.setup_us.sort_unstable();
    }

    /// Count the outcome of one call (the setup times are sorted by the caller, at the end).
    fn add_call(&mut self, c: &CallSummary) {
        self.attempted += 1;
        match c.state() {
            CallState::Cancelled => self.cancelled += 1,
            CallState::Rejected => self.failed += 1,
            _ => {}
        }
        if c.is_answered() {
            self.answered += 1;
        }
        if let Some(us) = c.answer() {
            self.setup_us.push(us);
        }
    }

    /// Response codes seen, with counts, ascending.
    pub(crate) fn statuses(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.statuses
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (i as u16 + 100, *n))
    }

    /// Answer-seizure ratio: answered calls over attempted calls.
    pub(crate) fn asr(&self) -> Option<f64> {
        (self.attempted > 0).then(|| self.answered as f64 / self.attempted as f64)
    }

    pub(crate) fn setup_avg(&self) -> Option<u64> {
        let n = self.setup_us.len() as u64;
        (n > 0).then(|| self.setup_us.iter().sum::<u64>() / n)
    }

    /// Nearest-rank 95th percentile.
    pub(crate) fn setup_p95(&self) -> Option<u64> {
        let n = self.setup_us.len();
        if n == 0 {
            return None;
        }
        let rank = (95 * n).div_ceil(100).max(1);
        self.setup_us.get(rank - 1).copied()
    }
}

/// Recently seen messages, to spot retransmissions (RFC 3261 §17: same transaction, same
/// message, sent again on the same hop) in bounded memory: two generations of hashes, the
/// older dropped when the newer fills up.
///
/// The hop (source and destination address and port) is part of the key: a proxy's copy of a
/// request, or a capture taken on two interfaces, shows the same message on another hop, and
/// that is not a retransmission. The same message twice on one hop is counted as one, even
/// when it is one packet captured twice: nothing in the SIP message tells the two apart, and
/// real retransmissions can come less than a millisecond apart.
#[derive(Debug, Default)]
struct Recent {
    current: HashSet<u64, FastState>,
    previous: HashSet<u64, FastState>,
    hasher: FastState,
}

const RECENT_GENERATION: usize = 1 << 16;

impl Recent {
    /// Whether `m` was seen recently (and remember it).
    fn check(&mut self, m: &sip::Message<'_>, src: SocketAddr, dst: SocketAddr) -> bool {
        let mut h = self.hasher.build_hasher();
        (src, dst).hash(&mut h);
        // A retransmission repeats the transaction (top Via branch, CSeq) and, for responses,
        // the status code; the To tag tells forked responses apart.
        m.top_via().ok().and_then(|v| v.branch).hash(&mut h);
        m.call_id().ok().hash(&mut h);
        m.cseq().ok().map(|c| (c.seq, c.method)).hash(&mut h);
        m.method().hash(&mut h);
        m.status().hash(&mut h);
        m.to_addr().ok().and_then(|t| t.tag()).hash(&mut h);
        let key = h.finish();
        if self.current.contains(&key) || self.previous.contains(&key) {
            return true;
        }
        if self.current.len() >= RECENT_GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> sip::Message<'_> {
        match sip::parse(text.as_bytes(), &sip::ParseOptions::datagram()) {
            Ok(crate::proto::Status::Complete(m, _)) => m,
            other => panic!("test message did not parse: {other:?}"),
        }
    }

    fn req(method: &str, cseq: u32, cseq_method: &str, to_tag: bool) -> String {
        format!(
            "{method} sip:bob@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK{cseq}{cseq_method}\r\n\
             From: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>{}\r\nCall-ID: x\r\nCSeq: {cseq} {cseq_method}\r\n\r\n",
            if to_tag { ";tag=2" } else { "" }
        )
    }

    fn resp(code: u16, cseq: u32, method: &str) -> String {
        format!(
            "SIP/2.0 {code} R\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK{cseq}{method}\r\n\
             From: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>;tag=2\r\nCall-ID: x\r\nCSeq: {cseq} {method}\r\n\r\n"
        )
    }

    fn t(ms: i64) -> Timestamp {
        Timestamp {
            secs: 1000 + ms / 1000,
            nanos: (ms % 1000) as u32 * 1_000_000,
        }
    }

    const CALLER: &str = "10.0.0.1:5060";
    const CALLEE: &str = "10.0.0.2:5060";

    /// `m` at `ms`, on the hop between the caller and the callee: requests one way,
    /// responses the other.
    fn at(ms: i64, m: &sip::Message<'_>) -> Seen {
        hop(ms, m, CALLER, CALLEE)
    }

    /// `m` at `ms` on the hop `a` <-> `b` (requests `a` -> `b`).
    fn hop(ms: i64, m: &sip::Message<'_>, a: &str, b: &str) -> Seen {
        let (a, b) = (a.parse().expect("addr"), b.parse().expect("addr"));
        let (src, dst) = if m.method().is_some() { (a, b) } else { (b, a) };
        Seen {
            time: t(ms),
            src,
            dst,
        }
    }

    /// Add `text` at `ms` on the caller-callee hop.
    fn add(calls: &mut Calls, ms: i64, text: &str) -> Option<usize> {
        let m = msg(text);
        calls.add(at(ms, &m), &m)
    }

    #[test]
    fn call_counter_counts_as_the_calls_table_and_forgets_decided_calls() {
        let script = [
            (0, "a", req("INVITE", 1, "INVITE", false)),
            (1, "b", req("INVITE", 1, "INVITE", false)),
            (2, "c", req("INVITE", 1, "INVITE", false)),
            (5, "a", resp(486, 1, "INVITE")),
            (6, "b", resp(200, 1, "INVITE")),
            (9, "b", req("BYE", 2, "BYE", true)),
            // A late retransmission of a decided call's INVITE does not open it again.
            (10, "a", req("INVITE", 1, "INVITE", false)),
        ];
        let mut calls = Calls::default();
        let mut by_table = Stats::default();
        let mut counter = CallCounter::default();
        let mut by_counter = Stats::default();
        for (ms, id, text) in &script {
            let text = text.replace("Call-ID: x\r\n", &format!("Call-ID: {id}\r\n"));
            let m = msg(&text);
            if *ms < 10 {
                calls.add(at(*ms, &m), &m);
            }
            counter.add(at(*ms, &m), &m, &mut by_counter);
        }
        assert_eq!(counter.open.len(), 1, "only call c is undecided");
        assert_eq!(counter.done.len(), 2);
        by_table.add_calls(&calls.calls);
        counter.finish(&mut by_counter);
        let counts = |s: &Stats| {
            (
                s.attempted,
                s.answered,
                s.failed,
                s.cancelled,
                s.setup_p95(),
            )
        };
        assert_eq!(counts(&by_counter), counts(&by_table));
        assert_eq!(counts(&by_counter), (3, 1, 1, 0, Some(5_000)));
    }

    #[test]
    fn completed_call_with_setup_times_and_duration() {
        let mut calls = Calls::default();
        let mut stats = Stats::default();
        let script = [
            (0, req("INVITE", 1, "INVITE", false)),
            (0, req("INVITE", 1, "INVITE", false)),
            (20, resp(100, 1, "INVITE")),
            (300, resp(180, 1, "INVITE")),
            (2500, resp(200, 1, "INVITE")),
            (2510, req("ACK", 1, "ACK", true)),
            (62500, req("BYE", 2, "BYE", true)),
            (62510, resp(200, 2, "BYE")),
        ];
        for (ms, text) in &script {
            let m = msg(text);
            calls.add(at(*ms, &m), &m);
            let seen = at(*ms, &m);
            stats.add_sip(&m, seen.src, seen.dst);
        }
        let c = &calls.calls[0];
        assert_eq!(c.state(), CallState::Completed);
        assert_eq!(
            (c.ringing(), c.answer(), c.duration()),
            (Some(300_000), Some(2_500_000), Some(60_000_000))
        );
        assert_eq!(c.messages, 8);
        stats.add_calls(&calls.calls);
        assert_eq!(stats.retransmissions, 1);
        assert_eq!(stats.methods.get("INVITE"), Some(&2));
        assert_eq!(
            stats.statuses().collect::<Vec<_>>(),
            [(100, 1), (180, 1), (200, 2)]
        );
        assert_eq!((stats.attempted, stats.answered), (1, 1));
        assert_eq!(stats.asr(), Some(1.0));
        assert_eq!(stats.setup_p95(), Some(2_500_000));
    }

    #[test]
    fn rejected_and_cancelled_calls() {
        let mut calls = Calls::default();
        add(&mut calls, 0, &req("INVITE", 1, "INVITE", false));
        add(&mut calls, 5, &resp(486, 1, "INVITE"));
        assert_eq!(calls.calls[0].state(), CallState::Rejected);
        assert_eq!(
            calls.calls[0].state().label(calls.calls[0].final_status),
            "rejected 486"
        );
        let mut calls = Calls::default();
        add(&mut calls, 0, &req("INVITE", 1, "INVITE", false));
        add(&mut calls, 5, &req("CANCEL", 1, "CANCEL", false));
        add(&mut calls, 6, &resp(487, 1, "INVITE"));
        assert_eq!(calls.calls[0].state(), CallState::Cancelled);
        // A challenge answered with credentials does not end the call; one left alone does.
        let mut calls = Calls::default();
        add(&mut calls, 0, &req("INVITE", 1, "INVITE", false));
        add(&mut calls, 5, &resp(407, 1, "INVITE"));
        assert_eq!(
            calls.calls[0].state().label(calls.calls[0].final_code()),
            "rejected 407"
        );
        add(&mut calls, 9, &req("INVITE", 2, "INVITE", false));
        assert_eq!(calls.calls[0].state(), CallState::InProgress);
        add(&mut calls, 20, &resp(488, 2, "INVITE"));
        assert_eq!(
            calls.calls[0].state().label(calls.calls[0].final_code()),
            "rejected 488"
        );
        // A message of a dialog that started before the capture opens no call.
        let mut calls = Calls::default();
        assert_eq!(add(&mut calls, 0, &req("BYE", 2, "BYE", true)), None);
        assert!(calls.calls.is_empty());
    }

    #[test]
    fn issue_14_cancel_then_any_non_2xx_final_is_cancelled() {
        for code in [487, 408, 480, 500, 503, 603] {
            let mut calls = Calls::default();
            add(&mut calls, 0, &req("INVITE", 1, "INVITE", false));
            add(&mut calls, 5, &req("CANCEL", 1, "CANCEL", false));
            add(&mut calls, 6, &resp(200, 1, "CANCEL"));
            add(&mut calls, 7, &resp(code, 1, "INVITE"));
            let c = &calls.calls[0];
            assert_eq!(c.state(), CallState::Cancelled, "CANCEL then {code}");
            assert_eq!(c.final_code(), Some(code));
            let mut stats = Stats::default();
            stats.add_calls(&calls.calls);
            assert_eq!(
                (stats.cancelled, stats.failed),
                (1, 0),
                "CANCEL then {code}"
            );
        }
        // The 200 won the race against the CANCEL: the call was answered.
        let mut calls = Calls::default();
        add(&mut calls, 0, &req("INVITE", 1, "INVITE", false));
        add(&mut calls, 5, &req("CANCEL", 1, "CANCEL", false));
        add(&mut calls, 6, &resp(200, 1, "INVITE"));
        add(&mut calls, 7, &resp(481, 1, "CANCEL"));
        assert_eq!(calls.calls[0].state(), CallState::InProgress);
        add(&mut calls, 9, &req("BYE", 2, "BYE", true));
        assert_eq!(calls.calls[0].state(), CallState::Completed);
        let mut stats = Stats::default();
        stats.add_calls(&calls.calls);
        assert_eq!((stats.answered, stats.cancelled), (1, 0));
        // A CANCEL that comes after the final response cancelled nothing.
        let mut calls = Calls::default();
        add(&mut calls, 0, &req("INVITE", 1, "INVITE", false));
        add(&mut calls, 5, &resp(486, 1, "INVITE"));
        add(&mut calls, 6, &req("CANCEL", 1, "CANCEL", false));
        assert_eq!(calls.calls[0].state(), CallState::Rejected);
    }

    /// A call through a proxy P: leg 1 caller -> P, leg 2 P -> callee.
    const PROXY: &str = "10.0.0.9:5060";

    #[test]
    fn issue_14_setup_times_are_measured_on_the_first_leg() {
        let script = [
            (0, req("INVITE", 1, "INVITE", false), 1),
            (10, req("INVITE", 1, "INVITE", false), 2),
            (20, resp(180, 1, "INVITE"), 2),
            (30, resp(180, 1, "INVITE"), 1),
            (50, resp(200, 1, "INVITE"), 2),
            (60, resp(200, 1, "INVITE"), 1),
            (70, req("ACK", 1, "ACK", true), 1),
            (80, req("BYE", 2, "BYE", true), 1),
        ];
        let mut calls = Calls::default();
        let mut counter = CallCounter::default();
        let mut stats = Stats::default();
        for (ms, text, leg) in &script {
            let m = msg(text);
            let seen = match leg {
                1 => hop(*ms, &m, CALLER, PROXY),
                _ => hop(*ms, &m, PROXY, CALLEE),
            };
            calls.add(seen, &m);
            counter.add(seen, &m, &mut stats);
            stats.add_sip(&m, seen.src, seen.dst);
        }
        counter.finish(&mut stats);
        let c = &calls.calls[0];
        assert_eq!(c.state(), CallState::Completed);
        assert_eq!(
            (c.ringing(), c.answer(), c.duration()),
            (Some(30_000), Some(60_000), Some(20_000))
        );
        assert_eq!((stats.answered, stats.setup_p95()), (1, Some(60_000)));
        // The proxied INVITE is one message per hop, not a retransmission.
        assert_eq!(stats.retransmissions, 0);
        // Only the second leg in the capture: it is the first leg seen.
        let mut calls = Calls::default();
        for (ms, text, leg) in &script {
            let m = msg(text);
            if *leg == 2 {
                calls.add(hop(*ms, &m, PROXY, CALLEE), &m);
            }
        }
        let c = &calls.calls[0];
        assert_eq!((c.ringing(), c.answer()), (Some(10_000), Some(40_000)));
    }

    #[test]
    fn issue_14_outcome_is_read_on_the_first_leg() {
        // A forking proxy: one branch busy (486 on its leg), the other answers; the caller
        // gets the 200.
        let mut calls = Calls::default();
        let invite_text = req("INVITE", 1, "INVITE", false);
        let invite = msg(&invite_text);
        calls.add(hop(0, &invite, CALLER, PROXY), &invite);
        calls.add(hop(1, &invite, PROXY, CALLEE), &invite);
        calls.add(hop(2, &invite, PROXY, "10.0.0.3:5060"), &invite);
        let busy_text = resp(486, 1, "INVITE");
        let busy = msg(&busy_text);
        calls.add(hop(5, &busy, PROXY, "10.0.0.3:5060"), &busy);
        // Until the caller's leg shows a final response, the other legs' one stands in.
        assert_eq!(calls.calls[0].final_code(), Some(486));
        let ok_text = resp(200, 1, "INVITE");
        let ok = msg(&ok_text);
        calls.add(hop(8, &ok, PROXY, CALLEE), &ok);
        calls.add(hop(9, &ok, CALLER, PROXY), &ok);
        let c = &calls.calls[0];
        assert_eq!(
            (c.state(), c.final_code()),
            (CallState::InProgress, Some(200))
        );
        assert_eq!(c.answer(), Some(9_000));
    }

    #[test]
    fn issue_14_retransmissions_are_counted_per_hop() {
        let invite_text = req("INVITE", 1, "INVITE", false);
        let invite = msg(&invite_text);
        let mut stats = Stats::default();
        // The same bytes on two hops (a capture on both sides of a NAT or a proxy that keeps
        // the branch): two messages, no retransmission.
        let one = hop(0, &invite, CALLER, PROXY);
        let two = hop(1, &invite, PROXY, CALLEE);
        stats.add_sip(&invite, one.src, one.dst);
        stats.add_sip(&invite, two.src, two.dst);
        assert_eq!((stats.messages, stats.retransmissions), (2, 0));
        // Sent again on a hop: a retransmission, counted once per hop.
        stats.add_sip(&invite, one.src, one.dst);
        stats.add_sip(&invite, two.src, two.dst);
        assert_eq!((stats.messages, stats.retransmissions), (4, 2));
        // The response likewise.
        let ringing_text = resp(180, 1, "INVITE");
        let ringing = msg(&ringing_text);
        let back = hop(2, &ringing, PROXY, CALLEE);
        let front = hop(3, &ringing, CALLER, PROXY);
        stats.add_sip(&ringing, back.src, back.dst);
        stats.add_sip(&ringing, front.src, front.dst);
        assert_eq!(stats.retransmissions, 2);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let s = Stats {
            setup_us: (1..=20).map(|i| i * 100).collect(),
            ..Stats::default()
        };
        assert_eq!(s.setup_p95(), Some(1900));
        assert_eq!(s.setup_avg(), Some(1050));
    }
}
