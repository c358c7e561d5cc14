//! RFC 3261 §17.2 server transactions (with the RFC 6026 "Accepted" state) as state machines
//! without IO, so `listen` can answer retransmitted requests with the response it already sent
//! and the timers can be tested in virtual time. The caller parses each request, asks
//! [`ServerTransactions::on_request`] what it is (new, retransmission, ACK, CANCEL), reports
//! each response it sends with [`ServerTransactions::respond`], and calls
//! [`ServerTransactions::on_timer`] at [`ServerTransactions::next_deadline`].
//!
//! Retransmitting a 2xx to INVITE until the ACK comes is the TU's job, not the transaction's
//! (RFC 3261 §13.3.1.4, RFC 6026 §7.1); [`Retransmit2xx`] keeps that schedule.

use std::collections::BTreeSet;
use std::rc::Rc;

use foldhash::HashMap;
use std::time::{Duration, Instant};

use crate::proto::ParseError;
use crate::proto::sip::build::push_decimal;
use crate::proto::sip::headers::{BRANCH_COOKIE, Via};
use crate::proto::sip::{Message, StartLine};

/// The same T1/T2/T4 as client transactions: one setting serves both sides of a run.
pub use super::transaction::Timers;

/// What identifies a server transaction (RFC 3261 §17.2.3), in the form the table keys on
/// (see [`write_key`]): with the `z9hG4bK` cookie, method, branch and sent-by (host
/// lower-cased, `:port` when written); without it (RFC 2543), method, Request-URI, From tag,
/// Call-ID, CSeq number and the top Via as written, leaving out the To tag, which lets an
/// ACK (whose To carries our tag) find its INVITE. ACK and CANCEL are keyed with the method
/// of the transaction they look for (see [`TransactionKey::of`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(Vec<u8>);

impl TransactionKey {
    /// The key of the transaction `request` belongs to. An ACK maps to its INVITE's key (§17.2.3:
    /// "the method of the request matches the one that created the transaction, except for
    /// ACK, where the method of the request that created the transaction is INVITE").
    /// Fails on a response, or a request without a usable top Via or CSeq.
    pub fn of(request: &Message<'_>) -> Result<TransactionKey, ParseError> {
        let method = request.method().ok_or_else(not_a_request)?;
        Self::with_method(request, if method == "ACK" { "INVITE" } else { method })
    }

    /// The key of the INVITE transaction a CANCEL cancels (RFC 3261 §9.2: same matching as
    /// §17.2.3 except the method).
    pub fn of_cancelled(cancel: &Message<'_>) -> Result<TransactionKey, ParseError> {
        request_or_error(cancel)?;
        Self::with_method(cancel, "INVITE")
    }

    /// The key's fields, separated by LF.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn with_method(request: &Message<'_>, method: &str) -> Result<TransactionKey, ParseError> {
        let mut key = Vec::new();
        write_key(request, &request.top_via()?, method, &mut key)?;
        Ok(TransactionKey(key))
    }
}

fn request_or_error(m: &Message<'_>) -> Result<(), ParseError> {
    m.method().map(drop).ok_or_else(not_a_request)
}

/// A [`TransactionKey`]'s fields in one byte string, written into a
/// buffer the table reuses, so a retransmission or an ACK is looked up without allocating
/// and a new transaction costs one allocation for its key. Fields are separated by LF, which
/// none of them can contain (RFC 3261 §25.1: tokens, host names, header values without CR/LF).
/// Returns whether the key is an INVITE's.
fn write_key(
    request: &Message<'_>,
    via: &Via<'_>,
    method: &str,
    out: &mut Vec<u8>,
) -> Result<bool, ParseError> {
    use std::io::Write as _;
    out.clear();
    match via.branch {
        Some(branch) if branch.starts_with(BRANCH_COOKIE) => {
            out.extend_from_slice(b"3\n");
            out.extend_from_slice(method.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(branch.as_bytes());
            out.push(b'\n');
            out.extend(via.host_raw.bytes().map(|b| b.to_ascii_lowercase()));
            if let Some(port) = via.port {
                out.push(b':');
                push_decimal(out, port.into());
            }
        }
        _ => {
            let StartLine::Request { uri, .. } = request.start else {
                return Err(not_a_request());
            };
            let from = request.from_addr()?;
            let call_id = request.call_id()?;
            let seq = request.cseq()?.seq;
            out.extend_from_slice(b"2\n");
            out.extend_from_slice(method.as_bytes());
            let _ = write!(
                out,
                "\n{uri}\n{}\n{call_id}\n{seq}\n{}/{}/{} {}",
                from.tag().unwrap_or_default(),
                via.protocol,
                via.version,
                via.transport,
                via.host_raw,
            );
            if let Some(port) = via.port {
                let _ = write!(out, ":{port}");
            }
        }
    }
    Ok(method == "INVITE")
}

fn not_a_request() -> ParseError {
    ParseError::new(
        "sip.transaction.response",
        "expected a request, found a response".to_owned(),
        0,
        0,
        "RFC 3261 §17.2.3",
    )
}

/// A handle on one server transaction, never reused within a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

/// The states of RFC 3261 Figures 7 and 8, with RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    /// Non-INVITE, no response sent yet.
    Trying,
    /// A provisional response was sent (INVITE transactions start here).
    Proceeding,
    /// A final response (non-2xx for INVITE) was sent.
    Completed,
    /// INVITE: the ACK for a non-2xx arrived; absorbing retransmitted ACKs until timer I.
    Confirmed,
    /// INVITE: a 2xx was sent; absorbing INVITE retransmissions until timer L (RFC 6026).
    Accepted,
}

/// What a request is, as far as the transaction layer is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A new request: a transaction was created; hand it to the TU, which answers it.
    New(TxId),
    /// A retransmitted request: send `response` (the last response sent) back.
    Retransmit {
        /// The transaction.
        id: TxId,
        /// The bytes to send again.
        response: Vec<u8>,
    },
    /// A retransmitted request with nothing to resend (no response yet, or RFC 6026's
    /// Accepted state, where the TU retransmits the 2xx): drop it.
    Absorbed(TxId),
    /// The ACK for a non-2xx final response: the transaction is now Confirmed; drop it.
    AckForNon2xx(TxId),
    /// An ACK for the TU: an ACK matching no transaction (the ACK for a 2xx, a transaction of
    /// its own, RFC 3261 §17.1.1.3), or one matching an INVITE in the Accepted state (RFC 6026
    /// §7.1). Stop the 2xx retransmissions of that dialog.
    AckToTu(Option<TxId>),
    /// A new CANCEL: a non-INVITE transaction for it (`id`, answered by the TU), and the INVITE
    /// transaction it cancels, if one exists (RFC 3261 §9.2: otherwise answer 481).
    Cancel {
        /// The CANCEL's own transaction.
        id: TxId,
        /// The INVITE transaction cancelled, if still there and not yet answered finally.
        invite: Option<TxId>,
    },
}

/// What a fired timer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerEvent<C> {
    /// Timer G: send this non-2xx final response to INVITE again, over `ctx`.
    Retransmit {
        /// The transaction.
        id: TxId,
        /// The response.
        response: Vec<u8>,
        /// The context given with the request (where to send).
        ctx: C,
    },
    /// Timer H: no ACK came for the non-2xx final response; the transaction is gone and the TU
    /// is told (RFC 3261 §17.2.1).
    NoAck {
        /// The transaction.
        id: TxId,
        /// The context given with the request.
        ctx: C,
    },
    /// Timers I, J, L: the transaction ended normally and was removed.
    Terminated(TxId),
}

/// Why a response cannot be sent in the transaction's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    /// No such transaction (never created, or terminated).
    #[error("no server transaction {0:?} (terminated or never created)")]
    Unknown(TxId),
    /// The state allows no such response (a second final, a provisional after a final).
    #[error("cannot send a {status} response in state {state:?} (RFC 3261 §17.2)")]
    NotAllowed {
        /// The status code.
        status: u16,
        /// The transaction's state.
        state: TxState,
    },
}

#[derive(Debug)]
struct Tx<C> {
    /// Shared with the `by_key` entry: one allocation per transaction.
    key: Rc<[u8]>,
    invite: bool,
    reliable: bool,
    state: TxState,
    last_response: Option<Box<[u8]>>,
    ctx: C,
    /// Timer G: next retransmission and the interval after it.
    g: Option<(Instant, Duration)>,
    /// Timers H, I, J or L: when the current state ends.
    end: Option<Instant>,
}

/// Which of a transaction's two timers an entry of the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Timer G.
    G,
    /// Timer H, I, J or L.
    End,
}

/// Every server transaction of an endpoint, keyed per RFC 3261 §17.2.3. `C` is what the caller
/// needs to send a retransmission by timer (its transport flow); it is stored per transaction.
///
/// Armed timers are kept in one ordered set, so a timer run costs what is due, not what is
/// alive: at a few thousand requests a second over UDP, 64*T1 keeps hundreds of thousands of
/// transactions in Completed/Accepted, and scanning them all every tick was most of listen's
/// CPU. The tables shrink again when most of them has ended, so a burst does not leave its
/// high-water mark behind.
#[derive(Debug)]
pub struct ServerTransactions<C> {
    timers: Timers,
    by_key: HashMap<Rc<[u8]>, TxId>,
    txs: HashMap<TxId, Tx<C>>,
    timeline: BTreeSet<(Instant, TxId, Timer)>,
    next_id: u64,
    /// The key of the request being classified (see [`write_key`]).
    scratch: Vec<u8>,
}

/// Below this many slots a table is not worth shrinking.
const SHRINK_FLOOR: usize = 1024;

impl<C: Clone> ServerTransactions<C> {
    /// An empty table using `timers`.
    pub fn new(timers: Timers) -> Self {
        ServerTransactions {
            timers,
            by_key: HashMap::default(),
            txs: HashMap::default(),
            timeline: BTreeSet::new(),
            next_id: 1,
            scratch: Vec::new(),
        }
    }

    /// Classify a received request and update the matching transaction. `reliable` is whether
    /// it came over a reliable transport (timers G, I and J depend on it); `ctx` is stored with
    /// a new transaction. Fails when the request has no usable Via, CSeq, From or Call-ID.
    pub fn on_request(
        &mut self,
        request: &Message<'_>,
        reliable: bool,
        ctx: C,
        now: Instant,
    ) -> Result<Action, ParseError> {
        let via = request.top_via()?;
        self.on_request_via(request, &via, reliable, ctx, now)
    }

    /// [`ServerTransactions::on_request`] for a caller that already parsed the top Via.
    pub fn on_request_via(
        &mut self,
        request: &Message<'_>,
        via: &Via<'_>,
        reliable: bool,
        ctx: C,
        now: Instant,
    ) -> Result<Action, ParseError> {
        let Some(method) = request.method() else {
            return Err(not_a_request());
        };
        let is_ack = method == "ACK";
        let mut key = std::mem::take(&mut self.scratch);
        let invite = write_key(
            request,
            via,
            if is_ack { "INVITE" } else { method },
            &mut key,
        );
        let found = self.by_key.get(&key[..]).copied();
        let invite = match invite {
            Ok(invite) => invite,
            Err(e) => {
                self.scratch = key;
                return Err(e);
            }
        };
        let Some(id) = found else {
            if is_ack {
                self.scratch = key;
                return Ok(Action::AckToTu(None));
            }
            let id = self.create(Rc::from(&key[..]), invite, reliable, ctx);
            if method == "CANCEL" {
                // RFC 3261 §9.2: the INVITE it cancels has the same key but for the method.
                let cancelled = write_key(request, via, "INVITE", &mut key);
                let invite = match cancelled {
                    Ok(_) => self.by_key.get(&key[..]).copied(),
                    Err(_) => None,
                }
                .filter(|i| self.state(*i) == Some(TxState::Proceeding));
                self.scratch = key;
                return Ok(Action::Cancel { id, invite });
            }
            self.scratch = key;
            return Ok(Action::New(id));
        };
        self.scratch = key;
        let timers = self.timers;
        let Some(tx) = self.txs.get_mut(&id) else {
            return Ok(Action::Absorbed(id));
        };
        if is_ack {
            // Only an INVITE transaction has ACKs mapped onto its key.
            return Ok(match tx.state {
                TxState::Completed => {
                    tx.state = TxState::Confirmed;
                    // The response is not sent again in Confirmed.
                    tx.last_response = None;
                    let reliable = tx.reliable;
                    self.set_g(id, None);
                    if reliable {
                        // Timer I is zero on a reliable transport.
                        self.remove(id);
                    } else {
                        self.set_end(id, Some(now + timers.t4));
                    }
                    Action::AckForNon2xx(id)
                }
                TxState::Accepted => Action::AckToTu(Some(id)),
                _ => Action::Absorbed(id),
            });
        }
        // A retransmission of the request that created the transaction.
        Ok(match (&tx.last_response, tx.state) {
            (_, TxState::Accepted | TxState::Confirmed) => Action::Absorbed(id),
            (Some(response), _) => Action::Retransmit {
                id,
                response: response.to_vec(),
            },
            (None, _) => Action::Absorbed(id),
        })
    }

    /// Record that the TU sent `response` (status `status`) in transaction `id` at `now`; the
    /// caller sends the bytes. Starts timers G/H (non-2xx final to INVITE), L (2xx to INVITE)
    /// or J (final to non-INVITE). 2xx retransmissions in the Accepted state are allowed.
    pub fn respond(
        &mut self,
        id: TxId,
        status: u16,
        response: &[u8],
        now: Instant,
    ) -> Result<(), RespondError> {
        let timers = self.timers;
        let tx = self.txs.get_mut(&id).ok_or(RespondError::Unknown(id))?;
        let refused = RespondError::NotAllowed {
            status,
            state: tx.state,
        };
        let provisional = (100..200).contains(&status);
        let success = (200..300).contains(&status);
        let mut remove = false;
        let mut g = None;
        let mut end = None;
        // Whether a retransmitted request gets these bytes again: not in Accepted, where the
        // TU resends the 2xx itself (RFC 6026 §7.1), nor once the transaction is gone.
        let mut keep = true;
        match (tx.invite, tx.state) {
            (true, TxState::Proceeding) if provisional => {}
            (true, TxState::Proceeding) if success => {
                tx.state = TxState::Accepted;
                end = Some(now + timers.timeout());
                keep = false;
            }
            (true, TxState::Proceeding) => {
                tx.state = TxState::Completed;
                if !tx.reliable {
                    g = Some((now + timers.t1, timers.t1));
                }
                end = Some(now + timers.timeout());
            }
            (true, TxState::Accepted) if success => keep = false,
            (false, TxState::Trying | TxState::Proceeding) if provisional => {
                tx.state = TxState::Proceeding;
            }
            (false, TxState::Trying | TxState::Proceeding) => {
                tx.state = TxState::Completed;
                if tx.reliable {
                    // Timer J is zero on a reliable transport.
                    remove = true;
                } else {
                    end = Some(now + timers.timeout());
                }
            }
            _ => return Err(refused),
        }
        if remove {
            self.remove(id);
            return Ok(());
        }
        tx.last_response = keep.then(|| response.into());
        if g.is_some() {
            self.set_g(id, g);
        }
        if end.is_some() {
            self.set_end(id, end);
        }
        Ok(())
    }

    /// Run the timers due at `now`. Events come in the order their timers were due.
    pub fn on_timer(&mut self, now: Instant) -> Vec<TimerEvent<C>> {
        let t2 = self.timers.t2;
        let mut events = Vec::new();
        let mut rearm = Vec::new();
        while let Some(&(at, id, which)) = self.timeline.first() {
            if at > now {
                break;
            }
            self.timeline.pop_first();
            let Some(tx) = self.txs.get_mut(&id) else {
                continue;
            };
            match which {
                Timer::End => {
                    tx.end = None;
                    if tx.state == TxState::Completed && tx.invite {
                        events.push(TimerEvent::NoAck {
                            id,
                            ctx: tx.ctx.clone(),
                        });
                    } else {
                        events.push(TimerEvent::Terminated(id));
                    }
                    self.remove(id);
                }
                // Timer H (or I) due as well: the transaction ends, nothing is resent.
                Timer::G if tx.end.is_some_and(|end| end <= now) => tx.g = None,
                Timer::G => {
                    // Timer G doubles up to T2 (RFC 3261 §17.2.1).
                    let interval = tx.g.map_or(Duration::ZERO, |(_, i)| i);
                    let next = interval.saturating_mul(2).min(t2);
                    tx.g = None;
                    rearm.push((id, (now + next, next)));
                    if let Some(response) = &tx.last_response {
                        events.push(TimerEvent::Retransmit {
                            id,
                            response: response.to_vec(),
                            ctx: tx.ctx.clone(),
                        });
                    }
                }
            }
        }
        // Re-armed after the loop: with a zero T1 the next G would be due again at once.
        for (id, g) in rearm {
            self.set_g(id, Some(g));
        }
        self.shrink();
        events
    }

    /// When [`ServerTransactions::on_timer`] should next be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timeline.first().map(|&(at, _, _)| at)
    }

    /// A transaction's state; `None` once it is terminated.
    pub fn state(&self, id: TxId) -> Option<TxState> {
        self.txs.get(&id).map(|tx| tx.state)
    }

    /// The context stored with a transaction.
    pub fn ctx(&self, id: TxId) -> Option<&C> {
        self.txs.get(&id).map(|tx| &tx.ctx)
    }

    /// How many transactions are alive.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    fn create(&mut self, key: Rc<[u8]>, invite: bool, reliable: bool, ctx: C) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        self.by_key.insert(Rc::clone(&key), id);
        self.txs.insert(
            id,
            Tx {
                key,
                invite,
                reliable,
                state: if invite {
                    TxState::Proceeding
                } else {
                    TxState::Trying
                },
                last_response: None,
                ctx,
                g: None,
                end: None,
            },
        );
        id
    }

    fn remove(&mut self, id: TxId) {
        if let Some(tx) = self.txs.remove(&id) {
            self.by_key.remove(&tx.key[..]);
            if let Some((at, _)) = tx.g {
                self.timeline.remove(&(at, id, Timer::G));
            }
            if let Some(at) = tx.end {
                self.timeline.remove(&(at, id, Timer::End));
            }
        }
    }

    /// Arm (or disarm) timer G of a live transaction, keeping the timeline in step.
    fn set_g(&mut self, id: TxId, g: Option<(Instant, Duration)>) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if let Some((at, _)) = tx.g {
            self.timeline.remove(&(at, id, Timer::G));
        }
        tx.g = g;
        if let Some((at, _)) = g {
            self.timeline.insert((at, id, Timer::G));
        }
    }

    /// Arm (or disarm) the timer ending a live transaction's state (H, I, J or L).
    fn set_end(&mut self, id: TxId, end: Option<Instant>) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        if let Some(at) = tx.end {
            self.timeline.remove(&(at, id, Timer::End));
        }
        tx.end = end;
        if let Some(at) = end {
            self.timeline.insert((at, id, Timer::End));
        }
    }

    /// Give memory back once most transactions have ended: a hash table keeps its largest
    /// size otherwise, and the peak of a burst would stay for the life of the process.
    fn shrink(&mut self) {
        shrink_map(&mut self.txs);
        shrink_map(&mut self.by_key);
    }
}

/// Halve-and-more a table whose entries fill less than a quarter of it.
pub(crate) fn shrink_map<K: Eq + std::hash::Hash, V, S: std::hash::BuildHasher>(
    map: &mut std::collections::HashMap<K, V, S>,
) {
    if map.capacity() > SHRINK_FLOOR && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// The UAS core's 2xx retransmission schedule (RFC 3261 §13.3.1.4): resend at T1, then
/// doubling up to T2, until the ACK arrives; give up after 64*T1 (the session should then be
/// ended with a BYE). Applies on every transport, since a hop further on may be UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmit2xx {
    next: Instant,
    interval: Duration,
    give_up: Instant,
    t2: Duration,
}

/// What [`Retransmit2xx::on_timer`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retransmit2xxAction {
    /// Not yet.
    Wait,
    /// Send the 2xx again.
    Send,
    /// 64*T1 passed without ACK: stop, and end the session (BYE).
    GiveUp,
}

impl Retransmit2xx {
    /// The schedule of a 2xx first sent at `sent`.
    pub fn new(sent: Instant, timers: &Timers) -> Retransmit2xx {
        Retransmit2xx {
            next: sent + timers.t1,
            interval: timers.t1,
            give_up: sent + timers.timeout(),
            t2: timers.t2,
        }
    }

    /// When to call [`Retransmit2xx::on_timer`] next.
    pub fn deadline(&self) -> Instant {
        self.next.min(self.give_up)
    }

    /// What to do at `now`.
    pub fn on_timer(&mut self, now: Instant) -> Retransmit2xxAction {
        if now >= self.give_up {
            return Retransmit2xxAction::GiveUp;
        }
        if now < self.next {
            return Retransmit2xxAction::Wait;
        }
        self.interval = self.interval.saturating_mul(2).min(self.t2);
        self.next = now + self.interval;
        Retransmit2xxAction::Send
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Status;
    use crate::proto::sip::{ParseOptions, parse};

    fn request(method: &str, branch: &str, cseq_method: &str) -> Vec<u8> {
        format!(
            "{method} sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP Client.Example.com:5070;branch={branch}\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@example.com>\r\n\
From: <sip:alice@example.com>;tag=a1\r\n\
Call-ID: c1\r\n\
CSeq: 1 {cseq_method}\r\n\
Content-Length: 0\r\n\
\r\n"
        )
        .into_bytes()
    }

    fn with<T>(bytes: &[u8], f: impl FnOnce(&Message<'_>) -> T) -> T {
        match parse(bytes, &ParseOptions::datagram()) {
            Ok(Status::Complete(m, _)) => f(&m),
            other => panic!("test message does not parse: {other:?}"),
        }
    }

    const INVITE_BRANCH: &str = "z9hG4bKinv1";

    fn feed(
        t: &mut ServerTransactions<&'static str>,
        bytes: &[u8],
        reliable: bool,
        now: Instant,
    ) -> Action {
        with(bytes, |m| t.on_request(m, reliable, "flow", now)).expect("request classified")
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn keys_follow_17_2_3() {
        let invite = request("INVITE", INVITE_BRANCH, "INVITE");
        let key = with(&invite, TransactionKey::of).expect("key");
        assert_eq!(
            key.as_bytes(),
            b"3\nINVITE\nz9hG4bKinv1\nclient.example.com:5070"
        );
        // ACK maps onto its INVITE, CANCEL's own key differs but its target is the INVITE.
        let ack = request("ACK", INVITE_BRANCH, "ACK");
        assert_eq!(with(&ack, TransactionKey::of).expect("key"), key);
        let cancel = request("CANCEL", INVITE_BRANCH, "CANCEL");
        assert_ne!(with(&cancel, TransactionKey::of).expect("key"), key);
        assert_eq!(
            with(&cancel, TransactionKey::of_cancelled).expect("key"),
            key
        );
        // Without the cookie: the RFC 2543 fields.
        let old = request("INVITE", "1234", "INVITE");
        let legacy = with(&old, TransactionKey::of).expect("key");
        assert_eq!(
            legacy.as_bytes(),
            b"2\nINVITE\nsip:bob@example.com\na1\nc1\n1\nSIP/2.0/UDP Client.Example.com:5070"
        );
        let old_ack = request("ACK", "1234", "ACK");
        assert_eq!(with(&old_ack, TransactionKey::of).expect("key"), legacy);
        // A response is no request.
        let response = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(with(response, TransactionKey::of).is_err());
        assert!(with(response, TransactionKey::of_cancelled).is_err());
    }

    #[test]
    fn invite_non_2xx_over_udp_timer_g_h_and_ack() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let invite = request("INVITE", INVITE_BRANCH, "INVITE");
        let Action::New(id) = feed(&mut t, &invite, false, t0) else {
            panic!("a new INVITE");
        };
        assert_eq!(t.state(id), Some(TxState::Proceeding));
        // A retransmission before any response is absorbed; after a 100, the 100 is resent.
        assert_eq!(feed(&mut t, &invite, false, t0), Action::Absorbed(id));
        t.respond(id, 100, b"100", t0).expect("100");
        assert_eq!(
            feed(&mut t, &invite, false, t0 + ms(10)),
            Action::Retransmit {
                id,
                response: b"100".to_vec()
            }
        );
        assert_eq!(t.next_deadline(), None, "no timer while proceeding");
        t.respond(id, 486, b"486", t0).expect("486");
        assert_eq!(t.state(id), Some(TxState::Completed));
        // Timer G: T1, 2T1, 4T1, then capped at T2 (4 s).
        let mut now = t0;
        let mut gaps = Vec::new();
        while let Some(at) = t.next_deadline() {
            if at >= t0 + timers.timeout() {
                break;
            }
            gaps.push(at - now);
            now = at;
            let events = t.on_timer(now);
            assert_eq!(
                events,
                vec![TimerEvent::Retransmit {
                    id,
                    response: b"486".to_vec(),
                    ctx: "flow"
                }]
            );
        }
        assert_eq!(
            gaps.get(..5),
            Some(&[ms(500), ms(1000), ms(2000), ms(4000), ms(4000)][..])
        );
        // A retransmitted INVITE gets the 486 again.
        assert!(matches!(
            feed(&mut t, &invite, false, now),
            Action::Retransmit { .. }
        ));
        // Timer H at 64*T1: no ACK, the TU is told.
        assert_eq!(
            t.on_timer(t0 + timers.timeout()),
            vec![TimerEvent::NoAck { id, ctx: "flow" }]
        );
        assert!(t.is_empty());
        assert_eq!(
            t.respond(id, 486, b"486", now),
            Err(RespondError::Unknown(id))
        );
    }

    #[test]
    fn ack_confirms_then_timer_i() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let invite = request("INVITE", INVITE_BRANCH, "INVITE");
        let ack = request("ACK", INVITE_BRANCH, "ACK");
        let Action::New(id) = feed(&mut t, &invite, false, t0) else {
            panic!("a new INVITE");
        };
        t.respond(id, 404, b"404", t0).expect("404");
        assert_eq!(
            feed(&mut t, &ack, false, t0 + ms(100)),
            Action::AckForNon2xx(id)
        );
        assert_eq!(t.state(id), Some(TxState::Confirmed));
        // No more timer G; retransmitted ACKs and INVITEs are absorbed.
        assert_eq!(
            feed(&mut t, &ack, false, t0 + ms(200)),
            Action::Absorbed(id)
        );
        assert_eq!(
            feed(&mut t, &invite, false, t0 + ms(200)),
            Action::Absorbed(id)
        );
        assert_eq!(t.next_deadline(), Some(t0 + ms(100) + timers.t4));
        assert!(t.on_timer(t0 + ms(100) + timers.t4 - ms(1)).is_empty());
        assert_eq!(
            t.on_timer(t0 + ms(100) + timers.t4),
            vec![TimerEvent::Terminated(id)]
        );
        assert!(t.is_empty());

        // Over a reliable transport: no timer G, and the ACK ends the transaction at once.
        let Action::New(id) = feed(&mut t, &invite, true, t0) else {
            panic!("a new INVITE");
        };
        t.respond(id, 404, b"404", t0).expect("404");
        assert_eq!(
            t.next_deadline(),
            Some(t0 + timers.timeout()),
            "only timer H"
        );
        assert_eq!(feed(&mut t, &ack, true, t0), Action::AckForNon2xx(id));
        assert!(t.is_empty());
    }

    #[test]
    fn invite_2xx_is_accepted_until_timer_l() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let invite = request("INVITE", INVITE_BRANCH, "INVITE");
        let Action::New(id) = feed(&mut t, &invite, false, t0) else {
            panic!("a new INVITE");
        };
        t.respond(id, 180, b"180", t0).expect("180");
        t.respond(id, 200, b"200", t0).expect("200");
        assert_eq!(t.state(id), Some(TxState::Accepted));
        // RFC 6026: INVITE retransmissions absorbed (the TU resends the 2xx), no timer G.
        assert_eq!(
            feed(&mut t, &invite, false, t0 + ms(500)),
            Action::Absorbed(id)
        );
        assert_eq!(t.next_deadline(), Some(t0 + timers.timeout()));
        t.respond(id, 200, b"200", t0 + ms(500))
            .expect("2xx retransmission");
        assert!(matches!(
            t.respond(id, 486, b"486", t0),
            Err(RespondError::NotAllowed { status: 486, .. })
        ));
        // An ACK with the INVITE's branch goes to the TU; an ACK of its own is not ours.
        let ack = request("ACK", INVITE_BRANCH, "ACK");
        assert_eq!(feed(&mut t, &ack, false, t0), Action::AckToTu(Some(id)));
        let other_ack = request("ACK", "z9hG4bKack2", "ACK");
        assert_eq!(feed(&mut t, &other_ack, false, t0), Action::AckToTu(None));
        assert_eq!(
            t.on_timer(t0 + timers.timeout()),
            vec![TimerEvent::Terminated(id)]
        );
        // After timer L the same INVITE is new again.
        assert!(matches!(
            feed(&mut t, &invite, false, t0 + timers.timeout()),
            Action::New(_)
        ));
    }

    #[test]
    fn non_invite_trying_proceeding_completed_timer_j() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let options = request("OPTIONS", "z9hG4bKopt", "OPTIONS");
        let Action::New(id) = feed(&mut t, &options, false, t0) else {
            panic!("a new OPTIONS");
        };
        assert_eq!(t.state(id), Some(TxState::Trying));
        assert_eq!(feed(&mut t, &options, false, t0), Action::Absorbed(id));
        t.respond(id, 200, b"200", t0).expect("200");
        assert_eq!(t.state(id), Some(TxState::Completed));
        assert_eq!(
            feed(&mut t, &options, false, t0 + ms(1)),
            Action::Retransmit {
                id,
                response: b"200".to_vec()
            }
        );
        assert!(matches!(
            t.respond(id, 180, b"180", t0),
            Err(RespondError::NotAllowed { .. })
        ));
        assert_eq!(t.next_deadline(), Some(t0 + timers.timeout()));
        assert_eq!(
            t.on_timer(t0 + timers.timeout()),
            vec![TimerEvent::Terminated(id)]
        );
        // Reliable: timer J is zero.
        let Action::New(id) = feed(&mut t, &options, true, t0) else {
            panic!("a new OPTIONS");
        };
        t.respond(id, 200, b"200", t0).expect("200");
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancel_finds_the_invite_it_cancels() {
        let mut t = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let invite = request("INVITE", INVITE_BRANCH, "INVITE");
        let cancel = request("CANCEL", INVITE_BRANCH, "CANCEL");
        let Action::New(inv) = feed(&mut t, &invite, false, t0) else {
            panic!("a new INVITE");
        };
        let Action::Cancel { id, invite: found } = feed(&mut t, &cancel, false, t0) else {
            panic!("a CANCEL");
        };
        assert_eq!(found, Some(inv));
        assert_ne!(id, inv);
        t.respond(id, 200, b"200 CANCEL", t0)
            .expect("200 to CANCEL");
        // The retransmitted CANCEL matches the CANCEL's own transaction.
        assert_eq!(
            feed(&mut t, &cancel, false, t0),
            Action::Retransmit {
                id,
                response: b"200 CANCEL".to_vec()
            }
        );
        // A CANCEL for no INVITE (other branch): the TU answers 481.
        let stray = request("CANCEL", "z9hG4bKnone", "CANCEL");
        assert!(matches!(
            feed(&mut t, &stray, false, t0),
            Action::Cancel { invite: None, .. }
        ));
    }

    #[test]
    fn tables_shrink_after_a_burst_ends() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        for n in 0..5000 {
            let options = request("OPTIONS", &format!("z9hG4bKb{n}"), "OPTIONS");
            // Half of them a little later, so one timer run ends only the first half.
            let at = t0 + ms(if n < 2500 { 0 } else { 100 });
            let Action::New(id) = feed(&mut t, &options, false, at) else {
                panic!("a new OPTIONS");
            };
            t.respond(id, 200, b"200", at).expect("200");
        }
        let peak = t.txs.capacity();
        assert!(peak >= 5000);
        assert_eq!(t.on_timer(t0 + timers.timeout()).len(), 2500);
        assert_eq!(t.len(), 2500);
        assert_eq!(t.next_deadline(), Some(t0 + ms(100) + timers.timeout()));
        assert_eq!(t.on_timer(t0 + ms(100) + timers.timeout()).len(), 2500);
        assert!(t.is_empty());
        assert!(t.txs.capacity() <= SHRINK_FLOOR, "{}", t.txs.capacity());
        assert!(t.by_key.capacity() <= SHRINK_FLOOR);
        assert!(t.timeline.is_empty());
    }

    #[test]
    fn retransmit_2xx_schedule() {
        let timers = Timers::default();
        let t0 = Instant::now();
        let mut r = Retransmit2xx::new(t0, &timers);
        assert_eq!(r.on_timer(t0 + ms(499)), Retransmit2xxAction::Wait);
        let mut sends = Vec::new();
        let gave_up_at = loop {
            let now = r.deadline();
            match r.on_timer(now) {
                Retransmit2xxAction::Send => sends.push(now - t0),
                Retransmit2xxAction::GiveUp => break now,
                Retransmit2xxAction::Wait => panic!("deadline reached but nothing due"),
            }
        };
        assert_eq!(
            sends.get(..6),
            Some(&[ms(500), ms(1500), ms(3500), ms(7500), ms(11500), ms(15500)][..])
        );
        assert_eq!(gave_up_at - t0, timers.timeout());
    }
}
