//! RFC 3261 §17.2 server transactions (with the RFC 6026 "Accepted" state) as state machines
//! without IO, so `listen` can answer retransmitted requests with the response it already sent
//! and the timers can be tested in virtual time. The caller parses each request, asks
//! [`ServerTransactions::on_request`] what it is (new, retransmission, ACK, CANCEL), reports
//! each response it sends with [`ServerTransactions::respond`], and calls
//! [`ServerTransactions::on_timer`] at [`ServerTransactions::next_deadline`].
//!
//! Retransmitting a 2xx to INVITE until the ACK comes is the TU's job, not the transaction's
//! (RFC 3261 §13.3.1.4, RFC 6026 §7.1); [`Retransmit2xx`] keeps that schedule.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use smallvec::SmallVec;

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
            let host = out.len();
            out.extend_from_slice(via.host_raw.as_bytes());
            if let Some(host) = out.get_mut(host..) {
                host.make_ascii_lowercase();
            }
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

/// A handle on one server transaction, never reused within a table (its slot in the low 32
/// bits, the slot's generation in the high 32).
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

/// One live transaction, in its slot of the [`Slab`].
#[derive(Debug)]
struct Tx<C> {
    /// The hash of `key`, which `by_key` is keyed on.
    hash: u64,
    /// The next slot whose key has the same hash, or [`NO_SLOT`]: a chain that is empty but for
    /// a 64-bit collision, kept so that a collision cannot merge two transactions.
    next: u32,
    invite: bool,
    reliable: bool,
    state: TxState,
    /// The key as [`write_key`] wrote it, compared on lookup: the hash alone is not exact.
    /// Inline, so a transaction costs no allocation for it in the common case.
    key: SmallVec<[u8; KEY_INLINE]>,
    last_response: Option<Box<[u8]>>,
    ctx: C,
    /// Timer G: the next retransmission (the interval after it is in [`Timeline::g`]).
    g: Option<Instant>,
    /// Timers H, I, J or L: when the current state ends. An entry of an end queue is live only
    /// while it names this instant (see [`Timeline`]).
    end: Option<Instant>,
}

/// Keys up to this long live inside the transaction (a `z9hG4bK` key with a 20-odd byte
/// branch and an IPv4 sent-by is about 45 bytes).
const KEY_INLINE: usize = 48;

/// The end of a [`Tx::next`] chain.
const NO_SLOT: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<C> {
    /// Bumped each time the slot is freed, so a [`TxId`] of an earlier occupant finds nothing.
    generation: u32,
    tx: Option<Tx<C>>,
}

/// The live transactions in a vector of slots addressed by [`TxId`] (slot index in the low 32
/// bits, the slot's generation in the high 32), with a free list: a lookup by id is an index,
/// not a hash, and a new transaction reuses a slot instead of growing a table.
#[derive(Debug)]
struct Slab<C> {
    slots: Vec<Slot<C>>,
    /// Free slot indexes, taken from the end.
    free: Vec<u32>,
    len: usize,
    /// The generation a newly pushed slot starts at: at least that of any slot cut off by
    /// [`Slab::compact`], so no id comes back when the vector grows again.
    fresh_generation: u32,
    /// Slots freed since the last compaction.
    freed: usize,
}

impl<C> Slab<C> {
    fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            fresh_generation: 0,
            freed: 0,
        }
    }

    fn id(index: u32, generation: u32) -> TxId {
        TxId(u64::from(generation) << 32 | u64::from(index))
    }

    /// The slot index of `id` (its low 32 bits; the truncation is the encoding).
    fn index(id: TxId) -> u32 {
        id.0 as u32
    }

    fn slot(&self, id: TxId) -> Option<&Slot<C>> {
        let slot = self.slots.get(Self::index(id) as usize)?;
        (Self::id(Self::index(id), slot.generation) == id).then_some(slot)
    }

    fn get(&self, id: TxId) -> Option<&Tx<C>> {
        self.slot(id)?.tx.as_ref()
    }

    fn get_mut(&mut self, id: TxId) -> Option<&mut Tx<C>> {
        let slot = self.slots.get_mut(Self::index(id) as usize)?;
        if Self::id(Self::index(id), slot.generation) != id {
            return None;
        }
        slot.tx.as_mut()
    }

    /// The transaction in slot `index`, whatever its generation (for the key chains).
    fn at(&self, index: u32) -> Option<(TxId, &Tx<C>)> {
        let slot = self.slots.get(index as usize)?;
        Some((Self::id(index, slot.generation), slot.tx.as_ref()?))
    }

    fn at_mut(&mut self, index: u32) -> Option<&mut Tx<C>> {
        self.slots.get_mut(index as usize)?.tx.as_mut()
    }

    fn insert(&mut self, tx: Tx<C>) -> TxId {
        self.len += 1;
        if let Some(index) = self.free.pop()
            && let Some(slot) = self.slots.get_mut(index as usize)
        {
            slot.tx = Some(tx);
            return Self::id(index, slot.generation);
        }
        // Fewer than 2^32 slots: each holds a transaction of well over 64 bytes.
        let index = self.slots.len() as u32;
        let generation = self.fresh_generation;
        self.slots.push(Slot {
            generation,
            tx: Some(tx),
        });
        Self::id(index, generation)
    }

    fn remove(&mut self, id: TxId) -> Option<Tx<C>> {
        let index = Self::index(id);
        let slot = self.slots.get_mut(index as usize)?;
        if Self::id(index, slot.generation) != id {
            return None;
        }
        let tx = slot.tx.take()?;
        self.len -= 1;
        self.freed += 1;
        // A slot whose generation would wrap is retired: reusing it could hand out an id
        // again.
        if let Some(generation) = slot.generation.checked_add(1) {
            slot.generation = generation;
            self.free.push(index);
        }
        Some(tx)
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Give memory back once most slots are free: cut off the free slots at the end, and
    /// reuse the lowest free slots first from now on, so the live ones gather at the front and
    /// the next compaction can cut more. Runs at most once per quarter of the slots freed,
    /// so its sort costs a logarithm per transaction, and once more when the last one has
    /// ended: the ones alive at the previous compaction may have held slots anywhere, and
    /// fewer than a quarter of the slots were freed since.
    fn compact(&mut self) {
        let slots = self.slots.len();
        if slots <= SHRINK_FLOOR
            || self.len >= slots / 4
            || (self.freed < slots / 4 && self.len > 0)
        {
            return;
        }
        self.freed = 0;
        while let Some(last) = self.slots.last() {
            // A retired slot (generation u32::MAX) stays, or its last id could come back.
            if last.tx.is_some() || last.generation == u32::MAX {
                break;
            }
            self.fresh_generation = self.fresh_generation.max(last.generation);
            self.slots.pop();
        }
        let end = self.slots.len();
        self.free.retain(|&index| (index as usize) < end);
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        self.slots.shrink_to(self.len * 2);
        self.free.shrink_to(self.free.len() * 2);
    }
}

/// An armed end timer in a FIFO queue of [`Timeline`].
#[derive(Debug, Clone, Copy)]
struct Due {
    at: Instant,
    id: TxId,
}

/// Which end queue a timer goes to: every timer of a queue has the same duration, so the
/// queue is in deadline order by appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndQueue {
    /// Timers H, J and L: 64*T1.
    Long,
    /// Timer I: T4.
    Short,
}

/// The armed timers. Timer G, rare and short-lived (a non-2xx final response to INVITE over
/// UDP), is in an ordered set. The end timers (H, J, L: 64*T1; I: T4) keep a fixed duration
/// per kind, so each kind is a FIFO queue in deadline order (an entry goes in by binary search
/// only if a caller's clock went back), which costs an append instead of a tree insert.
/// Entries are deleted lazily: a transaction that ends early or is re-armed leaves its old
/// entry behind, and an entry counts only while its transaction is alive with that deadline.
/// The front of each queue is always live, so [`ServerTransactions::next_deadline`] is exact.
#[derive(Debug, Default)]
struct Timeline {
    /// Timer G, with the interval after it.
    g: BTreeMap<(Instant, TxId), Duration>,
    long: VecDeque<Due>,
    short: VecDeque<Due>,
}

impl Timeline {
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.g.is_empty() && self.long.is_empty() && self.short.is_empty()
    }

    fn queue(&mut self, which: EndQueue) -> &mut VecDeque<Due> {
        match which {
            EndQueue::Long => &mut self.long,
            EndQueue::Short => &mut self.short,
        }
    }

    /// The earliest timer, timer G before an end timer due at the same instant (G then does
    /// nothing, the transaction ending), and H/J/L before I.
    fn first(&self) -> Option<(Instant, TxId, Option<EndQueue>)> {
        let mut first = self
            .g
            .first_key_value()
            .map(|(&(at, id), _)| (at, id, None));
        for (queue, which) in [(&self.long, EndQueue::Long), (&self.short, EndQueue::Short)] {
            if let Some(due) = queue.front()
                && first.is_none_or(|(at, _, _)| due.at < at)
            {
                first = Some((due.at, due.id, Some(which)));
            }
        }
        first
    }
}

/// Whether a queue entry still stands for its transaction's end timer.
fn is_live<C>(txs: &Slab<C>, due: &Due) -> bool {
    txs.get(due.id).is_some_and(|tx| tx.end == Some(due.at))
}

/// Drop the dead entries at the front of `queue`.
fn purge<C>(txs: &Slab<C>, queue: &mut VecDeque<Due>) {
    while queue.front().is_some_and(|due| !is_live(txs, due)) {
        queue.pop_front();
    }
}

/// Append `due`, or insert it in deadline order when it is earlier than the last entry.
fn push_in_order(queue: &mut VecDeque<Due>, due: Due) {
    if queue.back().is_none_or(|last| last.at <= due.at) {
        queue.push_back(due);
    } else {
        let at = queue.partition_point(|other| other.at <= due.at);
        queue.insert(at, due);
    }
}

/// A `Hasher` for keys that are already hashes (the seeded hash of a transaction key).
#[derive(Debug, Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Every server transaction of an endpoint, keyed per RFC 3261 §17.2.3. `C` is what the caller
/// needs to send a retransmission by timer (its transport flow); it is stored per transaction.
///
/// At a few thousand requests a second over UDP, 64*T1 keeps hundreds of thousands of
/// transactions in Completed/Accepted, so what one costs matters: a transaction is a slot of
/// a [`Slab`] (no allocation for its key, no second table by id), found by the hash of its
/// key in a table of 64-bit hashes, and its end timer is an append to a FIFO queue (see
/// [`Timeline`]); a timer run costs what is due, not what is alive. The tables shrink again
/// when most of them has ended, so a burst does not leave its high-water mark behind.
#[derive(Debug)]
pub struct ServerTransactions<C> {
    timers: Timers,
    hasher: foldhash::fast::RandomState,
    /// Key hash -> first slot of its chain.
    by_key: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    txs: Slab<C>,
    timeline: Timeline,
    /// The key of the request being classified (see [`write_key`]).
    scratch: Vec<u8>,
    /// Tests set this to give every key the same hash, to exercise the collision chains.
    #[cfg(test)]
    collide: bool,
}

/// Below this many slots a table is not worth shrinking.
const SHRINK_FLOOR: usize = 1024;

impl<C: Clone> ServerTransactions<C> {
    /// An empty table using `timers`.
    pub fn new(timers: Timers) -> Self {
        ServerTransactions {
            timers,
            hasher: foldhash::fast::RandomState::default(),
            by_key: HashMap::default(),
            txs: Slab::new(),
            timeline: Timeline::default(),
            scratch: Vec::new(),
            #[cfg(test)]
            collide: false,
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
        let mut key = std::mem::take(&mut self.scratch);
        let action = self.classify(request, via, &mut key, reliable, ctx, now);
        self.scratch = key;
        action
    }

    /// [`ServerTransactions::on_request_via`] with the key buffer taken out of `self`.
    fn classify(
        &mut self,
        request: &Message<'_>,
        via: &Via<'_>,
        key: &mut Vec<u8>,
        reliable: bool,
        ctx: C,
        now: Instant,
    ) -> Result<Action, ParseError> {
        let Some(method) = request.method() else {
            return Err(not_a_request());
        };
        let is_ack = method == "ACK";
        let invite = write_key(request, via, if is_ack { "INVITE" } else { method }, key)?;
        let hash = self.hash_key(key);
        let Some(id) = self.find(hash, key) else {
            if is_ack {
                return Ok(Action::AckToTu(None));
            }
            let id = self.create(hash, key, invite, reliable, ctx);
            if method == "CANCEL" {
                // RFC 3261 §9.2: the INVITE it cancels has the same key but for the method.
                let invite = match write_key(request, via, "INVITE", key) {
                    Ok(_) => self.find(self.hash_key(key), key),
                    Err(_) => None,
                }
                .filter(|i| self.state(*i) == Some(TxState::Proceeding));
                return Ok(Action::Cancel { id, invite });
            }
            return Ok(Action::New(id));
        };
        let timers = self.timers;
        let Some(tx) = self.txs.get_mut(id) else {
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
                        self.set_end(id, now + timers.t4, EndQueue::Short);
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
        let tx = self.txs.get_mut(id).ok_or(RespondError::Unknown(id))?;
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
        if let Some(end) = end {
            // H, J and L all last 64*T1.
            self.set_end(id, end, EndQueue::Long);
        }
        Ok(())
    }

    /// Run the timers due at `now`. Events come in the order their timers were due.
    pub fn on_timer(&mut self, now: Instant) -> Vec<TimerEvent<C>> {
        let t2 = self.timers.t2;
        let mut events = Vec::new();
        let mut rearm = Vec::new();
        while let Some((at, id, which)) = self.timeline.first() {
            if at > now {
                break;
            }
            match which {
                Some(queue) => {
                    // The front entry is live: see `Timeline`.
                    self.timeline.queue(queue).pop_front();
                    let Some(tx) = self.txs.get(id) else {
                        continue;
                    };
                    if tx.state == TxState::Completed && tx.invite {
                        events.push(TimerEvent::NoAck {
                            id,
                            ctx: tx.ctx.clone(),
                        });
                    } else {
                        events.push(TimerEvent::Terminated(id));
                    }
                    self.remove(id);
                    // The next entries of that queue may have died meanwhile.
                    purge(&self.txs, self.timeline.queue(queue));
                }
                None => {
                    let interval = self
                        .timeline
                        .g
                        .pop_first()
                        .map_or(Duration::ZERO, |(_, interval)| interval);
                    let Some(tx) = self.txs.get_mut(id) else {
                        continue;
                    };
                    if tx.end.is_some_and(|end| end <= now) {
                        // Timer H (or I) due as well: the transaction ends, nothing is resent.
                        tx.g = None;
                        continue;
                    }
                    // Timer G doubles up to T2 (RFC 3261 §17.2.1).
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
        self.timeline.first().map(|(at, _, _)| at)
    }

    /// A transaction's state; `None` once it is terminated.
    pub fn state(&self, id: TxId) -> Option<TxState> {
        self.txs.get(id).map(|tx| tx.state)
    }

    /// The context stored with a transaction.
    pub fn ctx(&self, id: TxId) -> Option<&C> {
        self.txs.get(id).map(|tx| &tx.ctx)
    }

    /// How many transactions are alive.
    pub fn len(&self) -> usize {
        self.txs.len
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.txs.len == 0
    }

    fn hash_key(&self, key: &[u8]) -> u64 {
        #[cfg(test)]
        if self.collide {
            return 7;
        }
        self.hasher.hash_one(key)
    }

    /// The live transaction whose key is `key` (of hash `hash`).
    fn find(&self, hash: u64, key: &[u8]) -> Option<TxId> {
        let mut index = *self.by_key.get(&hash)?;
        loop {
            let (id, tx) = self.txs.at(index)?;
            if tx.key[..] == *key {
                return Some(id);
            }
            index = tx.next;
        }
    }

    fn create(&mut self, hash: u64, key: &[u8], invite: bool, reliable: bool, ctx: C) -> TxId {
        let id = self.txs.insert(Tx {
            hash,
            next: NO_SLOT,
            invite,
            reliable,
            state: if invite {
                TxState::Proceeding
            } else {
                TxState::Trying
            },
            key: SmallVec::from_slice(key),
            last_response: None,
            ctx,
            g: None,
            end: None,
        });
        let index = Slab::<C>::index(id);
        if let Some(next) = self.by_key.insert(hash, index)
            && let Some(tx) = self.txs.at_mut(index)
        {
            tx.next = next;
        }
        id
    }

    fn remove(&mut self, id: TxId) {
        let Some(tx) = self.txs.remove(id) else {
            return;
        };
        let index = Slab::<C>::index(id);
        match self.by_key.get(&tx.hash).copied() {
            Some(head) if head == index => {
                if tx.next == NO_SLOT {
                    self.by_key.remove(&tx.hash);
                } else {
                    self.by_key.insert(tx.hash, tx.next);
                }
            }
            Some(mut at) => {
                // A collision: unlink it from the middle of the chain.
                while let Some(other) = self.txs.at_mut(at) {
                    if other.next == index {
                        other.next = tx.next;
                        break;
                    }
                    at = other.next;
                }
            }
            None => {}
        }
        if let Some(at) = tx.g {
            self.timeline.g.remove(&(at, id));
        }
        if tx.end.is_some() {
            purge(&self.txs, &mut self.timeline.long);
            purge(&self.txs, &mut self.timeline.short);
        }
    }

    /// Arm (or disarm) timer G of a live transaction, keeping the timeline in step.
    fn set_g(&mut self, id: TxId, g: Option<(Instant, Duration)>) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        if let Some(at) = tx.g {
            self.timeline.g.remove(&(at, id));
        }
        tx.g = g.map(|(at, _)| at);
        if let Some((at, interval)) = g {
            self.timeline.g.insert((at, id), interval);
        }
    }

    /// Arm the timer ending a live transaction's state (H, I, J or L) in its queue; an entry
    /// of an earlier end timer dies.
    fn set_end(&mut self, id: TxId, at: Instant, queue: EndQueue) {
        let Some(tx) = self.txs.get_mut(id) else {
            return;
        };
        let rearmed = tx.end.replace(at).is_some();
        push_in_order(self.timeline.queue(queue), Due { at, id });
        if rearmed {
            purge(&self.txs, &mut self.timeline.long);
            purge(&self.txs, &mut self.timeline.short);
        }
    }

    /// Give memory back once most transactions have ended: a table keeps its largest size
    /// otherwise, and the peak of a burst would stay for the life of the process.
    fn shrink(&mut self) {
        self.txs.compact();
        shrink_map(&mut self.by_key);
        shrink_deque(&mut self.timeline.long);
        shrink_deque(&mut self.timeline.short);
    }
}

/// [`shrink_map`] for a queue.
fn shrink_deque<T>(queue: &mut VecDeque<T>) {
    if queue.capacity() > SHRINK_FLOOR && queue.len() < queue.capacity() / 4 {
        queue.shrink_to(queue.len() * 2);
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

    /// Load that reuses slots for a while, then stops: the transactions still alive when the
    /// last compaction ran sit anywhere in the slab, and when they have ended the slab must
    /// be given back all the same (the memory after a million transactions is an issue target).
    #[test]
    fn tables_shrink_after_steady_load_ends_gradually() {
        let timers = Timers {
            t1: ms(10),
            ..Timers::default()
        };
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let mut n = 0u32;
        // 8 per ms for 3 s, each alive 640 ms: about 5000 at once, slots reused.
        for step in 0..3000u64 {
            let at = t0 + ms(step);
            for _ in 0..8 {
                let options = request("OPTIONS", &format!("z9hG4bKs{n}"), "OPTIONS");
                n += 1;
                let Action::New(id) = feed(&mut t, &options, false, at) else {
                    panic!("a new OPTIONS");
                };
                t.respond(id, 200, b"200", at).expect("200");
            }
            if step % 20 == 0 {
                t.on_timer(at);
            }
        }
        assert!(t.len() > 4000, "{}", t.len());
        // The load stops; timers run every 20 ms until the last one has ended.
        let mut step = 3000u64;
        while !t.is_empty() {
            t.on_timer(t0 + ms(step));
            step += 20;
            assert!(step < 5000, "transactions outlived their timers");
        }
        assert!(t.txs.capacity() <= SHRINK_FLOOR, "{}", t.txs.capacity());
        assert!(
            t.by_key.capacity() <= SHRINK_FLOOR,
            "{}",
            t.by_key.capacity()
        );
    }

    /// A new transaction from `method` with its own branch, answered with `status` at `at`.
    fn answered(
        t: &mut ServerTransactions<&'static str>,
        method: &str,
        branch: &str,
        status: u16,
        reliable: bool,
        at: Instant,
    ) -> TxId {
        let bytes = request(method, branch, method);
        let Action::New(id) = feed(t, &bytes, reliable, at) else {
            panic!("a new {method}");
        };
        t.respond(id, status, format!("{status}").as_bytes(), at)
            .expect("response allowed");
        id
    }

    #[test]
    fn end_queues_drop_entries_of_ended_or_rearmed_transactions() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        // Re-armed: the ACK turns timer H (64*T1) into timer I (T4); H's entry dies at once,
        // being at the front.
        let a = answered(&mut t, "INVITE", "z9hG4bKa", 404, false, t0);
        assert_eq!(t.timeline.long.len(), 1);
        let ack = request("ACK", "z9hG4bKa", "ACK");
        assert_eq!(
            feed(&mut t, &ack, false, t0 + ms(100)),
            Action::AckForNon2xx(a)
        );
        assert!(t.timeline.long.is_empty(), "dead front entry purged");
        assert_eq!(t.next_deadline(), Some(t0 + ms(100) + timers.t4));
        assert_eq!(
            t.on_timer(t0 + ms(100) + timers.t4),
            vec![TimerEvent::Terminated(a)]
        );
        assert!(t.timeline.is_empty());
        assert!(t.on_timer(t0 + timers.timeout()).is_empty(), "no late H");

        // Ended early in the middle of the queue: the entry stays until it reaches the front,
        // and is then skipped without an event.
        let b = answered(&mut t, "OPTIONS", "z9hG4bKb", 200, false, t0);
        let c = answered(&mut t, "INVITE", "z9hG4bKc", 404, true, t0 + ms(1));
        let d = answered(&mut t, "OPTIONS", "z9hG4bKd", 200, false, t0 + ms(2));
        let ack = request("ACK", "z9hG4bKc", "ACK");
        assert_eq!(
            feed(&mut t, &ack, true, t0 + ms(3)),
            Action::AckForNon2xx(c)
        );
        assert_eq!(t.state(c), None);
        assert_eq!(t.timeline.long.len(), 3);
        assert_eq!(t.next_deadline(), Some(t0 + timers.timeout()));
        assert_eq!(
            t.on_timer(t0 + timers.timeout() + ms(1)),
            vec![TimerEvent::Terminated(b)]
        );
        assert_eq!(t.timeline.long.len(), 1, "c's dead entry went with b's");
        assert_eq!(t.next_deadline(), Some(t0 + ms(2) + timers.timeout()));
        assert_eq!(
            t.on_timer(t0 + ms(2) + timers.timeout()),
            vec![TimerEvent::Terminated(d)]
        );
        assert!(t.is_empty());
        assert!(t.timeline.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn timers_of_every_kind_fire_in_deadline_order() {
        let timers = Timers {
            t1: ms(10),
            t2: ms(40),
            t4: ms(50),
        };
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let x = answered(&mut t, "OPTIONS", "z9hG4bKx", 200, false, t0); // J at 640
        let y = answered(&mut t, "INVITE", "z9hG4bKy", 486, false, t0 + ms(5)); // G.., H at 645
        let z = answered(&mut t, "INVITE", "z9hG4bKz", 404, false, t0 + ms(10)); // G.., ACK
        let invite = request("INVITE", "z9hG4bKw", "INVITE");
        let Action::New(w) = feed(&mut t, &invite, false, t0 + ms(20)) else {
            panic!("a new INVITE");
        };
        t.respond(w, 200, b"200", t0 + ms(20)).expect("200"); // L at 660
        let ack = request("ACK", "z9hG4bKz", "ACK");
        let mut acked = false;
        let mut log = Vec::new();
        while let Some(at) = t.next_deadline() {
            if !acked && at > t0 + ms(590) {
                // Timer I at 640, the same instant as x's timer J.
                assert_eq!(
                    feed(&mut t, &ack, false, t0 + ms(590)),
                    Action::AckForNon2xx(z)
                );
                acked = true;
                continue;
            }
            for event in t.on_timer(at) {
                log.push(((at - t0).as_millis(), event));
            }
        }
        assert!(log.windows(2).all(|w| w[0].0 <= w[1].0), "{log:?}");
        let resent = |id| {
            log.iter()
                .filter(|(_, e)| matches!(e, TimerEvent::Retransmit { id: i, .. } if *i == id))
                .map(|(at, _)| *at)
                .collect::<Vec<_>>()
        };
        let y_times: Vec<u128> = [15, 35].into_iter().chain((75..=635).step_by(40)).collect();
        assert_eq!(resent(y), y_times);
        let z_times: Vec<u128> = [20, 40].into_iter().chain((80..=560).step_by(40)).collect();
        assert_eq!(resent(z), z_times);
        let ends: Vec<_> = log
            .into_iter()
            .filter(|(_, e)| !matches!(e, TimerEvent::Retransmit { .. }))
            .collect();
        assert_eq!(
            ends,
            vec![
                (640, TimerEvent::Terminated(x)),
                (640, TimerEvent::Terminated(z)),
                (645, TimerEvent::NoAck { id: y, ctx: "flow" }),
                (660, TimerEvent::Terminated(w)),
            ]
        );
        assert!(t.is_empty());
        assert!(t.timeline.is_empty());
    }

    #[test]
    fn an_earlier_clock_keeps_the_queue_in_deadline_order() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        let late = answered(&mut t, "OPTIONS", "z9hG4bKlate", 200, false, t0 + ms(100));
        let early = answered(&mut t, "OPTIONS", "z9hG4bKearly", 200, false, t0);
        let middle = answered(&mut t, "OPTIONS", "z9hG4bKmid", 200, false, t0 + ms(50));
        assert_eq!(t.next_deadline(), Some(t0 + timers.timeout()));
        assert_eq!(
            t.on_timer(t0 + ms(100) + timers.timeout()),
            vec![
                TimerEvent::Terminated(early),
                TimerEvent::Terminated(middle),
                TimerEvent::Terminated(late)
            ]
        );
    }

    #[test]
    fn ids_of_ended_transactions_find_nothing_when_their_slot_is_reused() {
        let mut t = ServerTransactions::new(Timers::default());
        let t0 = Instant::now();
        let options = request("OPTIONS", "z9hG4bKo1", "OPTIONS");
        let Action::New(first) = feed(&mut t, &options, true, t0) else {
            panic!("a new OPTIONS");
        };
        t.respond(first, 200, b"200", t0).expect("200");
        assert!(t.is_empty(), "timer J is zero over TCP");
        let Action::New(second) = feed(&mut t, &options, true, t0) else {
            panic!("a new OPTIONS");
        };
        assert_eq!(Slab::<&str>::index(first), Slab::<&str>::index(second));
        assert_ne!(first, second);
        assert_eq!(t.state(first), None);
        assert_eq!(t.ctx(first), None);
        assert_eq!(t.state(second), Some(TxState::Trying));
        assert_eq!(
            t.respond(first, 200, b"200", t0),
            Err(RespondError::Unknown(first))
        );
        assert_eq!(t.state(second), Some(TxState::Trying));
        // An id naming a slot that does not exist finds nothing either.
        assert_eq!(t.state(TxId(u64::from(u32::MAX - 1))), None);
    }

    #[test]
    fn keys_with_the_same_hash_stay_apart() {
        let mut t = ServerTransactions::new(Timers::default());
        t.collide = true;
        let t0 = Instant::now();
        let ids: Vec<TxId> = (0..4)
            .map(|n| answered(&mut t, "OPTIONS", &format!("z9hG4bKh{n}"), 200, false, t0))
            .collect();
        assert_eq!(t.by_key.len(), 1, "one chain");
        let find = |t: &mut ServerTransactions<&'static str>, n: usize| {
            let options = request("OPTIONS", &format!("z9hG4bKh{n}"), "OPTIONS");
            match feed(t, &options, false, t0) {
                Action::Retransmit { id, .. } => Some(id),
                Action::New(_) => None,
                other => panic!("{other:?}"),
            }
        };
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(find(&mut t, n), Some(*id));
        }
        // Unlink from the middle of the chain (ids[3] is its head), then the head, then the
        // tail.
        for gone in [1, 3, 0] {
            let id = ids.get(gone).copied().expect("id");
            t.remove(id);
            assert_eq!(t.state(id), None);
            for (n, id) in ids.iter().enumerate() {
                let alive = t.state(*id).is_some();
                if alive {
                    assert_eq!(find(&mut t, n), Some(*id), "{n} after removing {gone}");
                }
            }
        }
        assert_eq!(t.len(), 1);
        assert_eq!(find(&mut t, 2), ids.get(2).copied());
        assert_eq!(find(&mut t, 1), None, "a new transaction again");
    }

    #[test]
    fn slots_compact_behind_transactions_that_stay() {
        let timers = Timers::default();
        let mut t = ServerTransactions::new(timers);
        let t0 = Instant::now();
        for n in 0..5000 {
            answered(&mut t, "OPTIONS", &format!("z9hG4bKb{n}"), 200, false, t0);
        }
        // A straggler in the last slot keeps the burst's slots from being cut off.
        let straggler = answered(&mut t, "OPTIONS", "z9hG4bKs", 200, false, t0 + ms(1000));
        assert_eq!(t.on_timer(t0 + timers.timeout()).len(), 5000);
        assert!(t.txs.capacity() >= 5001);
        // Later transactions take the lowest slots; some stay (no final response yet).
        let mut keepers = Vec::new();
        for n in 0..10 {
            let invite = request("INVITE", &format!("z9hG4bKk{n}"), "INVITE");
            let Action::New(id) = feed(&mut t, &invite, false, t0 + ms(2000)) else {
                panic!("a new INVITE");
            };
            t.respond(id, 180, b"180", t0 + ms(2000)).expect("180");
            assert!(Slab::<&str>::index(id) < 10, "{id:?}");
            keepers.push(id);
        }
        for n in 0..2000 {
            answered(
                &mut t,
                "OPTIONS",
                &format!("z9hG4bKc{n}"),
                200,
                false,
                t0 + ms(3000),
            );
        }
        assert_eq!(
            t.on_timer(t0 + ms(1000) + timers.timeout()),
            vec![TimerEvent::Terminated(straggler)]
        );
        assert_eq!(t.on_timer(t0 + ms(3000) + timers.timeout()).len(), 2000);
        assert_eq!(t.len(), 10);
        assert!(t.txs.capacity() <= SHRINK_FLOOR, "{}", t.txs.capacity());
        assert!(t.txs.free.capacity() <= SHRINK_FLOOR);
        assert!(t.by_key.capacity() <= SHRINK_FLOOR);
        assert!(t.timeline.long.capacity() <= SHRINK_FLOOR);
        for (n, id) in keepers.iter().enumerate() {
            let invite = request("INVITE", &format!("z9hG4bKk{n}"), "INVITE");
            assert_eq!(
                feed(&mut t, &invite, false, t0 + ms(4000)),
                Action::Retransmit {
                    id: *id,
                    response: b"180".to_vec()
                }
            );
        }
        // New slots after the cut get generations no earlier id had.
        let fresh = answered(&mut t, "OPTIONS", "z9hG4bKf", 200, false, t0 + ms(5000));
        assert_eq!(Slab::<&str>::index(fresh), 10);
        assert_eq!(fresh.0 >> 32, 2, "slots 10..2010 were used twice");
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
