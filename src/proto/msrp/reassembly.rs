//! Putting chunked MSRP messages back together (RFC 4975 §7.1.1, §7.3.1).
//!
//! Chunks of one message share a Message-ID and say where their body goes with Byte-Range
//! (1-based). They may arrive out of order, overlap, or be aborted with `#`, and the total may
//! stay `*` until the `$` chunk. Storage is behind [`ChunkSink`] so `listen` can write straight
//! to a file; memory for bookkeeping is bounded by [`ReassemblerLimits`].

use std::collections::HashMap;

use super::message::Flag;

/// Where reassembled bytes go: a file, or memory ([`VecSink`]).
pub trait ChunkSink {
    /// Store `data` at 0-based `offset` of the message. Later writes to the same bytes win
    /// (§7.3.1: the last chunk received takes precedence).
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()>;
}

/// An in-memory sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VecSink(pub Vec<u8>);

impl ChunkSink for VecSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset)
            .map_err(|_| std::io::Error::other("offset does not fit in memory"))?;
        let end = start
            .checked_add(data.len())
            .ok_or_else(|| std::io::Error::other("offset overflow"))?;
        if self.0.len() < end {
            self.0.resize(end, 0);
        }
        self.0[start..end].copy_from_slice(data);
        Ok(())
    }
}

/// Sorted, disjoint, non-adjacent half-open ranges of received byte offsets (0-based).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    ranges: Vec<(u64, u64)>,
}

impl IntervalSet {
    /// Add `[start, end)`, merging with overlapping or touching ranges.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let i = self.ranges.partition_point(|&(_, e)| e < start);
        let mut j = i;
        let (mut s, mut e) = (start, end);
        while let Some(&(rs, re)) = self.ranges.get(j) {
            if rs > e {
                break;
            }
            s = s.min(rs);
            e = e.max(re);
            j += 1;
        }
        self.ranges.splice(i..j, [(s, e)]);
    }

    /// The ranges, sorted.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Number of distinct bytes covered.
    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    /// Whether `[0, len)` is entirely covered.
    pub fn covers_prefix(&self, len: u64) -> bool {
        len == 0
            || self
                .ranges
                .first()
                .is_some_and(|&(s, e)| s == 0 && e >= len)
    }

    /// The highest covered offset + 1 (0 when empty).
    pub fn max_end(&self) -> u64 {
        self.ranges.last().map_or(0, |&(_, e)| e)
    }
}

/// Bounds that keep a hostile peer from exhausting memory or disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblerLimits {
    /// Largest message accepted, in bytes.
    pub max_message_size: u64,
    /// Most messages in progress at once.
    pub max_messages: usize,
    /// Most separate received ranges tracked per message (a peer sending every other byte
    /// would otherwise grow the interval set without bound).
    pub max_ranges: usize,
}

impl Default for ReassemblerLimits {
    fn default() -> Self {
        ReassemblerLimits {
            max_message_size: 16 << 20,
            max_messages: 64,
            max_ranges: 4096,
        }
    }
}

/// Why a chunk was refused. The message it belonged to is dropped (its sink is returned inside
/// nothing: `listen` should answer 413 or 400 and delete any partial file).
#[derive(Debug, thiserror::Error)]
pub enum ReassemblyError {
    /// The message would exceed `max_message_size`.
    #[error("message {message_id:?} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The Message-ID.
        message_id: String,
        /// The configured limit.
        limit: u64,
    },
    /// Starting this message would exceed `max_messages`.
    #[error("too many messages in progress (limit {limit})")]
    TooManyMessages {
        /// The configured limit.
        limit: usize,
    },
    /// Byte-Range start 0 (positions are 1-based, RFC 4975 §7.1.1) or an overflowing range.
    #[error("invalid byte range for message {message_id:?}: {reason}")]
    InvalidRange {
        /// The Message-ID.
        message_id: String,
        /// What was wrong.
        reason: String,
    },
    /// Chunks disagree about the total size or place data beyond it.
    #[error("inconsistent chunks for message {message_id:?}: {reason}")]
    Inconsistent {
        /// The Message-ID.
        message_id: String,
        /// What was wrong.
        reason: String,
    },
    /// The data was received but ended up with too many gaps to track.
    #[error("message {message_id:?} is too fragmented")]
    Fragmented {
        /// The Message-ID.
        message_id: String,
    },
    /// The sink failed to store the data.
    #[error("storing message {message_id:?}: {source}")]
    Sink {
        /// The Message-ID.
        message_id: String,
        /// The sink's error.
        source: std::io::Error,
    },
}

/// What a finished chunk did to its message.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress<S> {
    /// More chunks are needed; `received` distinct bytes so far, `total` if known.
    Incomplete {
        /// Distinct bytes stored.
        received: u64,
        /// The total size, once known.
        total: Option<u64>,
    },
    /// Every byte of the message arrived; the sink holds exactly `total` bytes.
    Complete {
        /// The sink, handed back.
        sink: S,
        /// The message size.
        total: u64,
    },
    /// The sender aborted the message with `#` (§7.1); the sink holds what arrived.
    Aborted {
        /// The sink, handed back.
        sink: S,
        /// What had been received.
        received: IntervalSet,
    },
}

#[derive(Debug)]
struct Partial<S> {
    sink: S,
    received: IntervalSet,
    total: Option<u64>,
}

/// Reassembles chunked messages keyed by Message-ID. Feed body bytes with [`Reassembler::data`]
/// as they arrive (or whole chunks with [`Reassembler::chunk`]) and close each chunk with
/// [`Reassembler::end_chunk`].
#[derive(Debug)]
pub struct Reassembler<S> {
    limits: ReassemblerLimits,
    messages: HashMap<String, Partial<S>>,
}

impl<S: ChunkSink> Reassembler<S> {
    /// An empty reassembler.
    pub fn new(limits: ReassemblerLimits) -> Reassembler<S> {
        Reassembler {
            limits,
            messages: HashMap::new(),
        }
    }

    /// Messages in progress.
    pub fn in_progress(&self) -> usize {
        self.messages.len()
    }

    /// Received ranges (0-based, half-open) of a message in progress.
    pub fn received(&self, message_id: &str) -> Option<&IntervalSet> {
        self.messages.get(message_id).map(|p| &p.received)
    }

    /// Drop a message in progress and return its sink (e.g. when the session ends).
    pub fn remove(&mut self, message_id: &str) -> Option<S> {
        self.messages.remove(message_id).map(|p| p.sink)
    }

    fn fail(&mut self, message_id: &str, e: ReassemblyError) -> ReassemblyError {
        self.messages.remove(message_id);
        e
    }

    /// Store `data` whose first byte is at 1-based `position` of message `message_id`,
    /// declaring the Byte-Range `total` if known. `new_sink` is called for a new Message-ID.
    /// On error the message is dropped.
    pub fn data(
        &mut self,
        message_id: &str,
        position: u64,
        total: Option<u64>,
        data: &[u8],
        new_sink: impl FnOnce() -> S,
    ) -> Result<(), ReassemblyError> {
        let id = || message_id.to_string();
        if position == 0 {
            let e = ReassemblyError::InvalidRange {
                message_id: id(),
                reason: "range-start is 0; positions start at 1".into(),
            };
            return Err(self.fail(message_id, e));
        }
        let start = position - 1;
        let Some(end) = start.checked_add(data.len() as u64) else {
            let e = ReassemblyError::InvalidRange {
                message_id: id(),
                reason: "range overflows".into(),
            };
            return Err(self.fail(message_id, e));
        };
        let limit = self.limits.max_message_size;
        if end > limit || total.is_some_and(|t| t > limit) {
            let e = ReassemblyError::TooLarge {
                message_id: id(),
                limit,
            };
            return Err(self.fail(message_id, e));
        }
        if !self.messages.contains_key(message_id) {
            if self.messages.len() >= self.limits.max_messages {
                return Err(ReassemblyError::TooManyMessages {
                    limit: self.limits.max_messages,
                });
            }
            self.messages.insert(
                id(),
                Partial {
                    sink: new_sink(),
                    received: IntervalSet::default(),
                    total: None,
                },
            );
        }
        let max_ranges = self.limits.max_ranges;
        let Some(p) = self.messages.get_mut(message_id) else {
            return Ok(());
        };
        let problem = match (p.total, total) {
            (Some(a), Some(b)) if a != b => Some(format!("total {b} differs from earlier {a}")),
            _ => None,
        }
        .or_else(|| {
            let t = p.total.or(total)?;
            (end > t).then(|| format!("data up to byte {end} is beyond the total {t}"))
        });
        if let Some(reason) = problem {
            let e = ReassemblyError::Inconsistent {
                message_id: id(),
                reason,
            };
            return Err(self.fail(message_id, e));
        }
        if p.total.is_none() {
            p.total = total;
        }
        if let Err(source) = p.sink.write_at(start, data) {
            let e = ReassemblyError::Sink {
                message_id: id(),
                source,
            };
            return Err(self.fail(message_id, e));
        }
        p.received.insert(start, end);
        if p.received.ranges().len() > max_ranges {
            let e = ReassemblyError::Fragmented { message_id: id() };
            return Err(self.fail(message_id, e));
        }
        Ok(())
    }

    /// Close a chunk whose body ended at 1-based position `last` (`start - 1` for an empty
    /// body) with `flag`. A `$` chunk fixes the total at `last` (§7.3.1); `#` aborts.
    pub fn end_chunk(
        &mut self,
        message_id: &str,
        last: u64,
        flag: Flag,
        new_sink: impl FnOnce() -> S,
    ) -> Result<Progress<S>, ReassemblyError> {
        if !self.messages.contains_key(message_id) {
            // A bodiless or empty chunk still creates the message (e.g. "1-0/0" with "$").
            self.data(
                message_id,
                last.saturating_add(1).max(1),
                None,
                &[],
                new_sink,
            )?;
        }
        self.finish(message_id, last, flag)
    }

    fn finish(
        &mut self,
        message_id: &str,
        last: u64,
        flag: Flag,
    ) -> Result<Progress<S>, ReassemblyError> {
        let Some(p) = self.messages.get_mut(message_id) else {
            return Ok(Progress::Incomplete {
                received: 0,
                total: None,
            });
        };
        match flag {
            Flag::Abort => {
                let Some(p) = self.messages.remove(message_id) else {
                    return Ok(Progress::Incomplete {
                        received: 0,
                        total: None,
                    });
                };
                return Ok(Progress::Aborted {
                    sink: p.sink,
                    received: p.received,
                });
            }
            Flag::End => match p.total {
                Some(t) if t != last => {
                    let e = ReassemblyError::Inconsistent {
                        message_id: message_id.to_string(),
                        reason: format!("final chunk ends at {last}, total is {t}"),
                    };
                    return Err(self.fail(message_id, e));
                }
                _ => p.total = Some(last),
            },
            Flag::Continue => {}
        }
        if let Some(t) = p.total {
            if p.received.max_end() > t {
                let e = ReassemblyError::Inconsistent {
                    message_id: message_id.to_string(),
                    reason: format!("data beyond the total {t}"),
                };
                return Err(self.fail(message_id, e));
            }
        }
        let progress = Progress::Incomplete {
            received: p.received.covered(),
            total: p.total,
        };
        let done = p.total.filter(|&t| p.received.covers_prefix(t));
        if let Some(total) = done {
            if let Some(p) = self.messages.remove(message_id) {
                return Ok(Progress::Complete {
                    sink: p.sink,
                    total,
                });
            }
        }
        Ok(progress)
    }

    /// Store a whole chunk: `data` then `end_chunk`. `start` and `total` come from Byte-Range
    /// (`start` 1 when the chunk had none); the chunk's end is taken from the body length, not
    /// from range-end (§7.3.1: the receiver SHOULD inspect the payload itself).
    pub fn chunk(
        &mut self,
        message_id: &str,
        start: u64,
        total: Option<u64>,
        body: &[u8],
        flag: Flag,
        new_sink: impl FnOnce() -> S,
    ) -> Result<Progress<S>, ReassemblyError> {
        self.data(message_id, start, total, body, new_sink)?;
        let last = start.saturating_sub(1).saturating_add(body.len() as u64);
        self.finish(message_id, last, flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = Reassembler<VecSink>;

    fn r() -> R {
        Reassembler::new(ReassemblerLimits {
            max_message_size: 1000,
            max_messages: 2,
            max_ranges: 8,
        })
    }

    #[test]
    fn interval_set_merges() {
        let mut s = IntervalSet::default();
        s.insert(10, 20);
        s.insert(30, 40);
        s.insert(0, 5);
        assert_eq!(s.ranges(), &[(0, 5), (10, 20), (30, 40)]);
        s.insert(20, 30);
        assert_eq!(s.ranges(), &[(0, 5), (10, 40)]);
        s.insert(3, 12);
        assert_eq!(s.ranges(), &[(0, 40)]);
        s.insert(5, 5);
        assert_eq!(s.covered(), 40);
        assert!(s.covers_prefix(40));
        assert!(!s.covers_prefix(41));
    }

    #[test]
    fn rfc_5_1_chunks_out_of_order() {
        // Figure 3: "abcd" (1-*/8, '+') and "EFGH" (5-8/8, '$'), delivered in reverse.
        let mut r = r();
        let p = r.chunk("4564dpWd", 5, Some(8), b"EFGH", Flag::End, VecSink::default);
        assert_eq!(
            p.expect("ok"),
            Progress::Incomplete {
                received: 4,
                total: Some(8)
            }
        );
        let p = r.chunk(
            "4564dpWd",
            1,
            Some(8),
            b"abcd",
            Flag::Continue,
            VecSink::default,
        );
        assert_eq!(
            p.expect("ok"),
            Progress::Complete {
                sink: VecSink(b"abcdEFGH".to_vec()),
                total: 8
            }
        );
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn unknown_total_overlap_and_abort() {
        let mut r = r();
        let p = r
            .chunk("m1", 1, None, b"hello ", Flag::Continue, VecSink::default)
            .expect("ok");
        assert_eq!(
            p,
            Progress::Incomplete {
                received: 6,
                total: None
            }
        );
        // Overlapping retransmission: bytes 4..=9, last write wins.
        let p = r
            .chunk("m1", 4, None, b"LO WOR", Flag::Continue, VecSink::default)
            .expect("ok");
        assert_eq!(
            p,
            Progress::Incomplete {
                received: 9,
                total: None
            }
        );
        let p = r
            .chunk("m1", 10, None, b"LD", Flag::End, VecSink::default)
            .expect("ok");
        assert_eq!(
            p,
            Progress::Complete {
                sink: VecSink(b"helLO WORLD".to_vec()),
                total: 11
            }
        );
        // Abort hands back what arrived.
        r.chunk("m2", 1, Some(10), b"abc", Flag::Continue, VecSink::default)
            .expect("ok");
        let p = r
            .end_chunk("m2", 3, Flag::Abort, VecSink::default)
            .expect("ok");
        match p {
            Progress::Aborted { sink, received } => {
                assert_eq!(sink.0, b"abc");
                assert_eq!(received.ranges(), &[(0, 3)]);
            }
            other => panic!("expected abort, got {other:?}"),
        }
        // Empty message "1-0/0" completes at once.
        let p = r
            .chunk("m3", 1, Some(0), b"", Flag::End, VecSink::default)
            .expect("ok");
        assert_eq!(
            p,
            Progress::Complete {
                sink: VecSink(Vec::new()),
                total: 0
            }
        );
    }

    #[test]
    fn streaming_data_then_end() {
        let mut r = r();
        r.data("s1", 1, None, b"ab", VecSink::default).expect("ok");
        r.data("s1", 3, None, b"cd", VecSink::default).expect("ok");
        let p = r
            .end_chunk("s1", 4, Flag::End, VecSink::default)
            .expect("ok");
        assert_eq!(
            p,
            Progress::Complete {
                sink: VecSink(b"abcd".to_vec()),
                total: 4
            }
        );
    }

    #[test]
    fn limits_and_inconsistencies_are_errors() {
        let mut r = r();
        let e = r
            .chunk("big", 990, None, &[0; 20], Flag::End, VecSink::default)
            .expect_err("big");
        assert!(matches!(e, ReassemblyError::TooLarge { .. }));
        let e = r
            .chunk("big", 1, Some(5000), b"x", Flag::End, VecSink::default)
            .expect_err("big");
        assert!(matches!(e, ReassemblyError::TooLarge { .. }));
        let e = r
            .chunk("z", 0, None, b"x", Flag::End, VecSink::default)
            .expect_err("zero");
        assert!(matches!(e, ReassemblyError::InvalidRange { .. }));
        let e = r
            .chunk("ovf", u64::MAX, None, b"xy", Flag::End, VecSink::default)
            .expect_err("overflow");
        assert!(matches!(e, ReassemblyError::InvalidRange { .. }));
        r.chunk("a", 1, Some(10), b"x", Flag::Continue, VecSink::default)
            .expect("ok");
        r.chunk("b", 1, Some(10), b"x", Flag::Continue, VecSink::default)
            .expect("ok");
        let e = r
            .chunk("c", 1, Some(10), b"x", Flag::Continue, VecSink::default)
            .expect_err("many");
        assert!(matches!(e, ReassemblyError::TooManyMessages { limit: 2 }));
        let e = r
            .chunk("a", 2, Some(11), b"x", Flag::Continue, VecSink::default)
            .expect_err("total");
        assert!(matches!(e, ReassemblyError::Inconsistent { .. }));
        assert!(r.received("a").is_none(), "failed message dropped");
        let e = r
            .chunk("b", 10, Some(10), b"xy", Flag::Continue, VecSink::default)
            .expect_err("beyond");
        assert!(matches!(e, ReassemblyError::Inconsistent { .. }));
        r.chunk("f", 1, None, b"x", Flag::Continue, VecSink::default)
            .expect("ok");
        for i in 0..8 {
            let res = r.chunk("f", 3 + 2 * i, None, b"x", Flag::Continue, VecSink::default);
            if i < 7 {
                res.expect("ok");
            } else {
                assert!(matches!(res, Err(ReassemblyError::Fragmented { .. })));
            }
        }
        r.chunk("g", 1, Some(4), b"ab", Flag::Continue, VecSink::default)
            .expect("ok");
        let e = r
            .chunk("g", 3, Some(4), b"c", Flag::End, VecSink::default)
            .expect_err("short $");
        assert!(matches!(e, ReassemblyError::Inconsistent { .. }));
    }
}
