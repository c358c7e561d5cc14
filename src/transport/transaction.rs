//! RFC 3261 §17 transactions as state machines without IO: the caller feeds them events (sent,
//! received, timer fired) and gets back what to do (retransmit, deliver, give up), so the
//! retransmission schedule can be tested exactly without waiting on a clock.
//!
//! Time is a [`Duration`] since any fixed origin the caller chooses (tests use virtual time).
//! The INVITE machine includes RFC 6026's Accepted state: a 2xx does not end the transaction,
//! so retransmitted 2xx responses still reach the caller, who ACKs them end to end.

use std::time::Duration;

use crate::proto::sip::Message;
use crate::proto::sip::build::MessageBuilder;
use crate::proto::sip::name::HeaderName;

/// The timer base values (RFC 3261 §17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Cap on non-INVITE retransmission intervals, 4 s by default.
    pub t2: Duration,
    /// How long a message may stay in the network, 5 s by default.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F and M (client, RFC 3261 §17.1, RFC 6026), H, J and L (server, §17.2).
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Timer D on unreliable transports: "at least 32 seconds" (RFC 3261 §17.1.1.2).
const TIMER_D: Duration = Duration::from_secs(32);

/// What the transaction is for: the request's top Via branch and method, which a response
/// must carry to belong to it (RFC 3261 §17.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The branch parameter of the request's top Via (`z9hG4bK...`).
    pub branch: String,
    /// The request method; the response's CSeq method must equal it.
    pub method: String,
}

impl Key {
    /// Whether `response` belongs to this transaction: same top Via branch and CSeq method.
    pub fn matches(&self, response: &Message<'_>) -> bool {
        let branch_ok = response
            .top_via()
            .is_ok_and(|v| v.branch == Some(self.branch.as_str()));
        let method_ok = response.cseq().is_ok_and(|c| c.method == self.method);
        branch_ok && method_ok
    }

    fn is_invite(&self) -> bool {
        self.method == "INVITE"
    }
}

/// The states of Figures 5 and 6 of RFC 3261, with Accepted from RFC 6026 §7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// INVITE sent, no response yet.
    Calling,
    /// Non-INVITE sent, no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived (any final for non-INVITE, 3xx-6xx for INVITE); absorbing
    /// retransmissions until Timer D or K.
    Completed,
    /// INVITE answered 2xx; later 2xx retransmissions are still delivered until Timer M.
    Accepted,
    /// Done; the transaction can be dropped.
    Terminated,
}

/// What the caller must do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing (a timer checked early, a response retransmission absorbed).
    Nothing,
    /// Send the request again.
    Retransmit,
    /// Hand this provisional response to the user.
    Provisional,
    /// Hand this final response to the user.
    Final,
    /// A 3xx-6xx to an INVITE: send the ACK built by [`ack_for`], then hand the response to
    /// the user.
    AckAndFinal,
    /// A retransmission of the 3xx-6xx already answered: send the same ACK again.
    Ack,
    /// No final response in time (Timer B or F): report a timeout (408 semantics, §8.1.3.1).
    Timeout,
    /// The transaction is over.
    Terminated,
    /// The response does not belong to this transaction.
    NotMatched,
}

/// One client transaction (RFC 3261 §17.1.1 INVITE, §17.1.2 non-INVITE).
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    key: Key,
    reliable: bool,
    timers: Timers,
    state: State,
    /// Next retransmission (Timer A or E) and its current interval.
    retransmit_at: Option<Duration>,
    interval: Duration,
    /// Timer B or F while waiting; D, K or M after a final response.
    end_at: Option<Duration>,
    retransmissions: u32,
}

impl ClientTransaction {
    /// Start a transaction for a request that was just sent at `now`. `reliable` is true for
    /// TCP, TLS and WebSocket, where the transport retransmits and Timers A/E do not run.
    pub fn new(key: Key, reliable: bool, timers: Timers, now: Duration) -> Self {
        let state = if key.is_invite() {
            State::Calling
        } else {
            State::Trying
        };
        ClientTransaction {
            key,
            reliable,
            timers,
            state,
            retransmit_at: (!reliable).then(|| now + timers.t1),
            interval: timers.t1,
            end_at: Some(now + timers.timeout()),
            retransmissions: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The key responses are matched against.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// How many times the request has been retransmitted.
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// When [`on_timer`](Self::on_timer) must next be called, or `None` once terminated.
    pub fn next_deadline(&self) -> Option<Duration> {
        match (self.retransmit_at, self.end_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A response arrived at `now`.
    pub fn on_response(&mut self, response: &Message<'_>, now: Duration) -> Action {
        let Some(code) = response.status() else {
            return Action::NotMatched;
        };
        if !self.key.matches(response) {
            return Action::NotMatched;
        }
        let provisional = code < 200;
        let success = (200..300).contains(&code);
        match (self.state, self.key.is_invite()) {
            (State::Calling | State::Trying | State::Proceeding, _) if provisional => {
                self.state = State::Proceeding;
                if self.key.is_invite() {
                    // §17.1.1.2: a provisional stops Timer A; Timer B only matters in Calling.
                    self.retransmit_at = None;
                    self.end_at = None;
                } else if let Some(at) = &mut self.retransmit_at {
                    // §17.1.2.2: in Proceeding, retransmit every T2.
                    self.interval = self.timers.t2;
                    *at = (*at).min(now + self.timers.t2);
                }
                Action::Provisional
            }
            (State::Calling | State::Proceeding, true) if success => {
                self.state = State::Accepted;
                self.retransmit_at = None;
                self.end_at = Some(now + self.timers.timeout());
                Action::Final
            }
            (State::Calling | State::Proceeding, true) => {
                self.state = State::Completed;
                self.retransmit_at = None;
                self.end_at = Some(
                    now + if self.reliable {
                        Duration::ZERO
                    } else {
                        TIMER_D
                    },
                );
                Action::AckAndFinal
            }
            (State::Trying | State::Proceeding, false) => {
                self.state = State::Completed;
                self.retransmit_at = None;
                let k = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                self.end_at = Some(now + k);
                Action::Final
            }
            // RFC 6026 §7.2: 2xx retransmissions go up to the TU, which ACKs each one.
            (State::Accepted, _) if success => Action::Final,
            (State::Completed, true) if !provisional && !success => Action::Ack,
            _ => Action::Nothing,
        }
    }

    /// Timers may have fired at `now`: handle the earliest due one. Call again while
    /// [`next_deadline`](Self::next_deadline) is not after `now`.
    pub fn on_timer(&mut self, now: Duration) -> Action {
        let end_due = self.end_at.is_some_and(|t| t <= now);
        let retransmit_due = self.retransmit_at.is_some_and(|t| t <= now);
        if end_due {
            self.retransmit_at = None;
            self.end_at = None;
            let waiting = matches!(
                self.state,
                State::Calling | State::Trying | State::Proceeding
            );
            self.state = State::Terminated;
            return if waiting {
                Action::Timeout
            } else {
                Action::Terminated
            };
        }
        if retransmit_due && let Some(at) = self.retransmit_at {
            self.retransmissions += 1;
            self.interval = match self.state {
                // §17.1.1.2: Timer A doubles without a cap.
                State::Calling => self.interval.saturating_mul(2),
                // §17.1.2.2: Timer E doubles up to T2 while Trying, stays at T2 in Proceeding.
                State::Trying => self.interval.saturating_mul(2).min(self.timers.t2),
                _ => self.timers.t2,
            };
            self.retransmit_at = Some(at + self.interval);
            return Action::Retransmit;
        }
        Action::Nothing
    }
}

/// The ACK for a 3xx-6xx response to an INVITE (RFC 3261 §17.1.1.3): the original's
/// Request-URI, Call-ID, From, top Via and Route set, the response's To (with its tag), the
/// same CSeq number with method ACK, and no body.
pub fn ack_for(invite: &Message<'_>, response: &Message<'_>) -> Vec<u8> {
    let uri = match invite.start {
        crate::proto::sip::StartLine::Request { uri, .. } => uri,
        crate::proto::sip::StartLine::Response { .. } => "",
    };
    let text = |h: &crate::proto::sip::Header<'_>| String::from_utf8_lossy(h.value).into_owned();
    let mut b = MessageBuilder::request("ACK", uri);
    if let Some(via) = invite.header(HeaderName::Via) {
        // Only the top Via value: the first element of the first Via field.
        let v = text(via);
        let top = crate::proto::scan::split_outside_quotes(v.as_bytes(), b',')
            .next()
            .map(|s| String::from_utf8_lossy(s).trim().to_string())
            .unwrap_or_default();
        b = b.header("Via", &top);
    }
    b = b.header("Max-Forwards", "70");
    for h in &invite.headers {
        if h.id == HeaderName::From || h.id == HeaderName::CallId || h.id == HeaderName::Route {
            b = b.header(h.id.canonical().unwrap_or(h.name), &text(h));
        }
    }
    if let Some(to) = response.header(HeaderName::To) {
        b = b.header("To", &text(to));
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(0);
    b = b.header("CSeq", &format!("{seq} ACK"));
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sip::{ParseOptions, parse};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn key(method: &str) -> Key {
        Key {
            branch: "z9hG4bKt1".into(),
            method: method.into(),
        }
    }

    fn response(code: u16, method: &str, branch: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn feed(t: &mut ClientTransaction, code: u16, now: Duration) -> Action {
        let method = t.key().method.clone();
        let bytes = response(code, &method, "z9hG4bKt1");
        let (m, _) = parse(&bytes, &ParseOptions::default())
            .expect("valid")
            .complete()
            .expect("complete");
        t.on_response(&m, now)
    }

    /// Run timers only until `until`, returning (time, action) for each that fired.
    fn run_timers(t: &mut ClientTransaction, until: Duration) -> Vec<(u64, Action)> {
        let mut out = Vec::new();
        while let Some(d) = t.next_deadline() {
            if d > until {
                break;
            }
            let a = t.on_timer(d);
            out.push((d.as_millis() as u64, a));
        }
        out
    }

    fn times(events: &[(u64, Action)], action: Action) -> Vec<u64> {
        events
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(t, _)| *t)
            .collect()
    }

    #[test]
    fn non_invite_over_udp_doubles_to_t2_then_times_out_at_64_t1() {
        let mut t = ClientTransaction::new(key("OPTIONS"), false, Timers::default(), ms(0));
        let ev = run_timers(&mut t, Duration::from_secs(60));
        assert_eq!(
            times(&ev, Action::Retransmit),
            [
                500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
            ]
        );
        assert_eq!(ev.last(), Some(&(32000, Action::Timeout)));
        assert_eq!(t.state(), State::Terminated);
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.retransmissions(), 10);
    }

    #[test]
    fn invite_over_udp_doubles_without_cap_and_times_out_at_timer_b() {
        let mut t = ClientTransaction::new(key("INVITE"), false, Timers::default(), ms(0));
        let ev = run_timers(&mut t, Duration::from_secs(60));
        assert_eq!(
            times(&ev, Action::Retransmit),
            [500, 1500, 3500, 7500, 15500, 31500]
        );
        assert_eq!(ev.last(), Some(&(32000, Action::Timeout)));
    }

    #[test]
    fn reliable_transports_never_retransmit() {
        for method in ["OPTIONS", "INVITE"] {
            let mut t = ClientTransaction::new(key(method), true, Timers::default(), ms(0));
            let ev = run_timers(&mut t, Duration::from_secs(60));
            assert_eq!(ev, [(32000, Action::Timeout)], "{method}");
        }
    }

    #[test]
    fn custom_timers_scale_the_schedule() {
        let timers = Timers {
            t1: ms(100),
            t2: ms(400),
            t4: ms(1000),
        };
        let mut t = ClientTransaction::new(key("MESSAGE"), false, timers, ms(1000));
        let ev = run_timers(&mut t, Duration::from_secs(60));
        assert_eq!(
            times(&ev, Action::Retransmit),
            [
                1100, 1300, 1700, 2100, 2500, 2900, 3300, 3700, 4100, 4500, 4900, 5300, 5700, 6100,
                6500, 6900, 7300
            ]
        );
        assert_eq!(ev.last(), Some(&(7400, Action::Timeout)));
    }

    #[test]
    fn non_invite_provisional_switches_to_t2_and_final_starts_timer_k() {
        let mut t = ClientTransaction::new(key("REGISTER"), false, Timers::default(), ms(0));
        assert_eq!(
            times(&run_timers(&mut t, ms(600)), Action::Retransmit),
            [500]
        );
        assert_eq!(feed(&mut t, 100, ms(700)), Action::Provisional);
        assert_eq!(t.state(), State::Proceeding);
        // The next retransmission stays at 1500 (earlier than now + T2), then every T2.
        let ev = run_timers(&mut t, ms(10_000));
        assert_eq!(times(&ev, Action::Retransmit), [1500, 5500, 9500]);
        assert_eq!(feed(&mut t, 200, ms(10_000)), Action::Final);
        assert_eq!(t.state(), State::Completed);
        // Retransmitted finals are absorbed; Timer K = T4 ends it.
        assert_eq!(feed(&mut t, 200, ms(11_000)), Action::Nothing);
        assert_eq!(t.next_deadline(), Some(ms(15_000)));
        assert_eq!(t.on_timer(ms(15_000)), Action::Terminated);
    }

    #[test]
    fn non_invite_final_on_a_reliable_transport_ends_at_once() {
        let mut t = ClientTransaction::new(key("OPTIONS"), true, Timers::default(), ms(0));
        assert_eq!(feed(&mut t, 404, ms(20)), Action::Final);
        assert_eq!(t.next_deadline(), Some(ms(20)));
        assert_eq!(t.on_timer(ms(20)), Action::Terminated);
    }

    #[test]
    fn invite_non_2xx_is_acked_and_retransmissions_acked_again_until_timer_d() {
        let mut t = ClientTransaction::new(key("INVITE"), false, Timers::default(), ms(0));
        assert_eq!(feed(&mut t, 180, ms(100)), Action::Provisional);
        // A provisional stops Timer A and Timer B.
        assert_eq!(t.next_deadline(), None);
        assert_eq!(feed(&mut t, 486, ms(2000)), Action::AckAndFinal);
        assert_eq!(feed(&mut t, 486, ms(2500)), Action::Ack);
        assert_eq!(t.next_deadline(), Some(ms(34_000)));
        assert_eq!(t.on_timer(ms(34_000)), Action::Terminated);
    }

    #[test]
    fn invite_2xx_enters_accepted_and_delivers_retransmissions_until_timer_m() {
        let mut t = ClientTransaction::new(key("INVITE"), true, Timers::default(), ms(0));
        assert_eq!(feed(&mut t, 200, ms(50)), Action::Final);
        assert_eq!(t.state(), State::Accepted);
        assert_eq!(feed(&mut t, 200, ms(60)), Action::Final);
        assert_eq!(t.next_deadline(), Some(ms(32_050)));
        assert_eq!(t.on_timer(ms(32_050)), Action::Terminated);
    }

    #[test]
    fn responses_of_other_transactions_do_not_match() {
        let mut t = ClientTransaction::new(key("OPTIONS"), false, Timers::default(), ms(0));
        let other_branch = response(200, "OPTIONS", "z9hG4bKother");
        let other_method = response(200, "INVITE", "z9hG4bKt1");
        for bytes in [other_branch, other_method] {
            let (m, _) = parse(&bytes, &ParseOptions::default())
                .expect("valid")
                .complete()
                .expect("complete");
            assert_eq!(t.on_response(&m, ms(10)), Action::NotMatched);
        }
        assert_eq!(t.state(), State::Trying);
    }

    #[test]
    fn ack_for_a_rejected_invite_follows_17_1_1_3() {
        let invite = b"INVITE sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1;rport, SIP/2.0/UDP 10.0.0.1\r\n\
Max-Forwards: 70\r\nRoute: <sip:p.example;lr>\r\nFrom: <sip:a@a.example>;tag=f1\r\n\
To: <sip:bob@b.example>\r\nCall-ID: call1\r\nCSeq: 7 INVITE\r\n\
Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0";
        let resp = response(486, "INVITE", "z9hG4bKt1");
        let opts = ParseOptions::default();
        let (inv, _) = parse(invite, &opts).expect("ok").complete().expect("c");
        let (res, _) = parse(&resp, &opts).expect("ok").complete().expect("c");
        let ack = ack_for(&inv, &res);
        assert_eq!(
            String::from_utf8(ack).expect("utf8"),
            "ACK sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1;rport\r\n\
Max-Forwards: 70\r\nRoute: <sip:p.example;lr>\r\nFrom: <sip:a@a.example>;tag=f1\r\n\
Call-ID: call1\r\nTo: <sip:b@x>;tag=2\r\nCSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"
        );
    }
}
