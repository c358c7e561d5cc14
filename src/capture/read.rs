//! The file layer: recognising pcap, pcapng and gzip by their magic bytes, and walking the
//! records with pcap-parser's streaming readers so a capture of any size is read through one
//! reused buffer. Each packet record goes to [`Decoder`] with its link type and time; the
//! buffer is only advanced once the packet has been fully handled, so payloads can borrow it.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::decode::{Decoder, Pkt};
use super::{CaptureError, Notice, Options, Sink, Stats, Timestamp};

/// Bytes read before the format is decided; more than any file header.
const PREFIX: usize = 64 * 1024;
/// The reader's starting buffer; it grows for larger records up to [`MAX_BUFFER`].
const BUFFER: usize = 1 << 20;
/// No sane record is larger (pcapng blocks carry at most a few hundred KiB of packet).
const MAX_BUFFER: usize = 256 << 20;

/// Reads one capture and pushes what it finds into a [`Sink`].
///
/// ```no_run
/// # use sipkit::capture::{Reader, Sink, Payload, Notice};
/// struct Count(u64);
/// impl Sink for Count {
///     fn payload(&mut self, _: &Payload<'_>) -> std::ops::ControlFlow<()> {
///         self.0 += 1;
///         std::ops::ControlFlow::Continue(())
///     }
///     fn notice(&mut self, _: &Notice) {}
/// }
/// let mut reader = Reader::open(std::path::Path::new("call.pcap"), Default::default())?;
/// let stats = reader.run(&mut Count(0))?;
/// # Ok::<(), sipkit::capture::CaptureError>(())
/// ```
pub struct Reader {
    source: Source,
    decoder: Decoder,
    /// The last io::Error the underlying reader hit; pcap-parser only reports that one happened.
    io_error: Rc<RefCell<Option<io::Error>>>,
    /// Set when the file is gzip-compressed.
    gzip: Option<GzipState>,
}

/// What the gzip layer tells the reader: how far it read, and what it found after the data.
#[derive(Clone, Default)]
struct GzipState {
    /// Bytes of the compressed file read so far.
    compressed: Rc<Cell<u64>>,
    /// Bytes after the last member that are not another member: (offset, length).
    trailing: Rc<Cell<Option<(u64, u64)>>>,
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// gzip members one after another (RFC 1952 §2.2: a gzip file is a series of members), like
/// flate2's MultiGzDecoder, except that bytes after a member that do not start another one
/// (zero padding, garbage appended in transit) end the data with a notice instead of an error.
struct Gunzip {
    member: Option<flate2::bufread::GzDecoder<BufReader<Box<dyn Read>>>>,
    state: GzipState,
}

impl Read for Gunzip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = &mut self.member else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member ended (its CRC and length checked): what follows it?
            let Some(member) = self.member.take() else {
                return Ok(0);
            };
            let mut rest = member.into_inner();
            let next = rest.fill_buf()?;
            match next {
                [] => return Ok(0),
                [0x1f] | [0x1f, 0x8b, ..] => {
                    self.member = Some(flate2::bufread::GzDecoder::new(rest));
                }
                _ => {
                    let offset = self.state.compressed.get() - next.len() as u64;
                    let bytes = io::copy(&mut rest, &mut io::sink())?;
                    self.state.trailing.set(Some((offset, bytes)));
                    return Ok(0);
                }
            }
        }
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

enum Source {
    Pcap {
        reader: LegacyPcapReader<Input>,
        nanos: bool,
        linktype: u16,
    },
    Ng {
        reader: PcapNGReader<Input>,
        section: Section,
    },
}

/// What a pcapng section has declared so far.
#[derive(Default)]
struct Section {
    big_endian: bool,
    /// Per interface id: link type, timestamp units per second, offset in seconds.
    interfaces: Vec<(u16, u64, i64)>,
    last_time: Timestamp,
}

/// The input after the format check: the prefix already read, then the rest.
struct Input {
    prefix: Vec<u8>,
    pos: usize,
    /// The error that ended reading the prefix early, given out once the prefix has been: a
    /// capture cut short within its first [`PREFIX`] bytes still yields its packets.
    pending: Option<io::Error>,
    rest: Box<dyn Read>,
    error: Rc<RefCell<Option<io::Error>>>,
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        if let Some(e) = self.pending.take() {
            let copy = io::Error::new(e.kind(), e.to_string());
            *self.error.borrow_mut() = Some(e);
            return Err(copy);
        }
        loop {
            match self.rest.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    *self.error.borrow_mut() = Some(e);
                    return Err(copy);
                }
                Ok(n) => return Ok(n),
            }
        }
    }
}

/// Reads until `buf` holds `want` bytes or the input ends; on an error, what was read before
/// it comes with the error.
fn read_prefix(r: &mut dyn Read, want: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut buf = Vec::with_capacity(want);
    let error = r.take(want as u64).read_to_end(&mut buf).err();
    (buf, error)
}

/// Names what the first bytes of a file that is not pcap look like, for the error message.
fn describe(prefix: &[u8]) -> String {
    let magic = |m: &[u8]| format!("`{}`", String::from_utf8_lossy(m));
    match prefix {
        [] => "an empty input".to_string(),
        [b'G', b'M', b'B', b'U', ..] => format!("Microsoft NetMon 2 magic {}", magic(b"GMBU")),
        [b'R', b'T', b'S', b'S', ..] => format!("Microsoft NetMon 1 magic {}", magic(b"RTSS")),
        [b's', b'n', b'o', b'o', b'p', 0, 0, 0, ..] => "a Solaris snoop header".to_string(),
        [0x1f, 0x8b, ..] => "gzip data inside gzip data".to_string(),
        [b'P', b'K', 3, 4, ..] => "a zip archive".to_string(),
        _ if prefix
            .iter()
            .take(64)
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) =>
        {
            let line: String = String::from_utf8_lossy(prefix)
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(40)
                .collect();
            format!("text `{}`", line.escape_default())
        }
        _ => {
            let hex: Vec<String> = prefix.iter().take(4).map(|b| format!("{b:02x}")).collect();
            format!("unknown magic {}", hex.join(" "))
        }
    }
}

impl Reader {
    /// Opens a capture file; `-` reads standard input.
    pub fn open(path: &Path, options: Options) -> Result<Reader, CaptureError> {
        if path.as_os_str() == "-" {
            return Reader::new(io::stdin(), options);
        }
        let open = |error| CaptureError::Open {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(open)?;
        // Opening a directory succeeds; reading it would fail with a less direct message.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(open(io::ErrorKind::IsADirectory.into()));
        }
        Reader::new(file, options)
    }

    /// Reads a capture from any reader; gzip compression is recognised by its magic bytes.
    pub fn new(input: impl Read + 'static, options: Options) -> Result<Reader, CaptureError> {
        let compressed = Rc::new(Cell::new(0));
        let mut input = Counted {
            inner: input,
            count: Rc::clone(&compressed),
        };
        let (head, error) = read_prefix(&mut input, 2);
        if let Some(error) = error {
            return Err(CaptureError::Io { offset: 0, error });
        }
        let gzip = head == [0x1f, 0x8b];
        let mut input: Box<dyn Read> = Box::new(io::Cursor::new(head).chain(input));
        let gzip = gzip.then(|| GzipState {
            compressed,
            trailing: Rc::default(),
        });
        if let Some(state) = &gzip {
            input = Box::new(Gunzip {
                member: Some(flate2::bufread::GzDecoder::new(BufReader::new(input))),
                state: state.clone(),
            });
        }
        let (prefix, pending) = read_prefix(&mut input, PREFIX);
        let error = Rc::new(RefCell::new(None));
        let magic = prefix.get(..4).map(|m| [m[0], m[1], m[2], m[3]]);
        let pcap = matches!(
            magic.map(u32::from_le_bytes),
            Some(0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1)
        );
        let ng = magic == Some([0x0a, 0x0d, 0x0d, 0x0a]);
        let header_len = if pcap { 24 } else { 28 };
        if let Some(e) = pending.as_ref().filter(|_| prefix.len() < header_len) {
            // Cut (or unreadable) before the file header was whole.
            let e = io::Error::new(e.kind(), e.to_string());
            return Err(read_error(gzip.as_ref(), e, 0, 0));
        }
        if !pcap && !ng {
            return Err(CaptureError::Format {
                found: describe(&prefix),
                offset: 0,
            });
        }
        if prefix.len() < header_len {
            return Err(CaptureError::Truncated {
                offset: prefix.len() as u64,
                frames: 0,
            });
        }
        let input = Input {
            prefix,
            pos: 0,
            pending,
            rest: input,
            error: Rc::clone(&error),
        };
        let bad_header = |what: &str| CaptureError::Malformed {
            what: what.to_string(),
            offset: 0,
        };
        let source = if pcap {
            let reader = LegacyPcapReader::new(BUFFER, input)
                .map_err(|_| bad_header("unreadable pcap file header"))?;
            Source::Pcap {
                reader,
                nanos: false,
                linktype: 0,
            }
        } else {
            let reader = PcapNGReader::new(BUFFER, input)
                .map_err(|_| bad_header("unreadable pcapng section header block"))?;
            Source::Ng {
                reader,
                section: Section::default(),
            }
        };
        Ok(Reader {
            source,
            decoder: Decoder::new(options),
            io_error: error,
            gzip,
        })
    }

    /// Reads the whole capture into `sink`. At the end every incomplete fragment set and open
    /// stream is reported; on an error, what was read before it has already been delivered,
    /// and the reassembly state is flushed too.
    pub fn run(&mut self, sink: &mut dyn Sink) -> Result<Stats, CaptureError> {
        let result = self.read_all(sink);
        self.decoder.finish(sink);
        if let Some((offset, bytes)) = self.gzip.as_ref().and_then(|g| g.trailing.get()) {
            sink.notice(&Notice::TrailingData { offset, bytes });
        }
        let mut stats = self.decoder.stats;
        stats.bytes = self.consumed();
        result.map(|()| stats)
    }

    fn consumed(&self) -> u64 {
        match &self.source {
            Source::Pcap { reader, .. } => reader.consumed() as u64,
            Source::Ng { reader, .. } => reader.consumed() as u64,
        }
    }

    fn read_all(&mut self, sink: &mut dyn Sink) -> Result<(), CaptureError> {
        loop {
            let frames = self.decoder.stats.frames;
            let step = match &mut self.source {
                Source::Pcap {
                    reader,
                    nanos,
                    linktype,
                } => {
                    let offset = reader.consumed() as u64;
                    match reader.next() {
                        Ok((len, block)) => {
                            match block {
                                PcapBlockOwned::LegacyHeader(h) => {
                                    *nanos = h.is_nanosecond_precision();
                                    *linktype = h.network.0 as u16;
                                }
                                PcapBlockOwned::Legacy(b) => {
                                    let frac = if *nanos {
                                        b.ts_usec
                                    } else {
                                        b.ts_usec.saturating_mul(1000)
                                    };
                                    let caplen = (b.caplen as usize).min(b.data.len());
                                    let pkt = Pkt {
                                        frame: frames + 1,
                                        time: normalise(i64::from(b.ts_sec), u64::from(frac)),
                                        linktype: *linktype,
                                        data: &b.data[..caplen],
                                        orig_len: b.origlen,
                                    };
                                    self.decoder.packet(&pkt, sink);
                                }
                                PcapBlockOwned::NG(_) => {}
                            }
                            // Without moving what is left to the front each time half the
                            // buffer is used (that moved half a megabyte per shift): `refill`
                            // moves the partial record left at the end, once per buffer.
                            reader.consume_noshift(len);
                            Step::Next
                        }
                        Err(e) => Step::from_error(e, offset),
                    }
                }
                Source::Ng { reader, section } => {
                    let offset = reader.consumed() as u64;
                    match reader.next() {
                        Ok((len, PcapBlockOwned::NG(block))) => {
                            ng_block(&block, section, frames, &mut self.decoder, sink);
                            reader.consume_noshift(len);
                            Step::Next
                        }
                        Ok((len, _)) => {
                            reader.consume_noshift(len);
                            Step::Next
                        }
                        Err(e) => Step::from_error(e, offset),
                    }
                }
            };
            let offset = self.consumed();
            if self.decoder.stopped {
                return Ok(());
            }
            match step {
                Step::Next => {}
                Step::Eof => return Ok(()),
                Step::Refill => {
                    let failed = match &mut self.source {
                        Source::Pcap { reader, .. } => reader.refill().is_err(),
                        Source::Ng { reader, .. } => reader.refill().is_err(),
                    };
                    if failed {
                        return Err(self.io_failure(offset));
                    }
                }
                Step::Grow => {
                    let grown = match &mut self.source {
                        Source::Pcap { reader, .. } => grow(reader),
                        Source::Ng { reader, .. } => grow(reader),
                    };
                    if !grown {
                        return Err(CaptureError::Malformed {
                            what: format!(
                                "a record longer than {} MiB (corrupt length field?)",
                                MAX_BUFFER >> 20
                            ),
                            offset,
                        });
                    }
                }
                Step::Truncated => {
                    return Err(CaptureError::Truncated {
                        offset,
                        frames: self.decoder.stats.frames,
                    });
                }
                Step::Read => return Err(self.io_failure(offset)),
                Step::Malformed(what) => {
                    return Err(CaptureError::Malformed {
                        what: what.to_string(),
                        offset,
                    });
                }
            }
        }
    }

    fn io_failure(&self, offset: u64) -> CaptureError {
        let error = self
            .io_error
            .borrow_mut()
            .take()
            .unwrap_or_else(|| io::Error::other("unknown read error"));
        read_error(self.gzip.as_ref(), error, offset, self.decoder.stats.frames)
    }
}

/// A read error at `offset` of the capture: from the gzip layer when the file is compressed
/// (then the offset in the compressed file is named too), else from the file itself.
fn read_error(
    gzip: Option<&GzipState>,
    error: io::Error,
    offset: u64,
    frames: u64,
) -> CaptureError {
    match gzip {
        Some(g) => CaptureError::Gzip {
            truncated: error.kind() == io::ErrorKind::UnexpectedEof,
            compressed: g.compressed.get(),
            offset,
            frames,
            error,
        },
        None => CaptureError::Io { offset, error },
    }
}

fn grow<R: PcapReaderIterator>(reader: &mut R) -> bool {
    let now = reader.data().len().max(BUFFER);
    let want = now.saturating_mul(2);
    want <= MAX_BUFFER && reader.grow(want)
}

enum Step {
    Next,
    Eof,
    Refill,
    Grow,
    Truncated,
    Read,
    Malformed(&'static str),
}

impl Step {
    fn from_error(e: PcapError<&[u8]>, _offset: u64) -> Step {
        match e {
            PcapError::Eof => Step::Eof,
            PcapError::Incomplete(_) => Step::Refill,
            PcapError::BufferTooSmall => Step::Grow,
            PcapError::UnexpectedEof => Step::Truncated,
            PcapError::ReadError => Step::Read,
            PcapError::HeaderNotRecognized => Step::Malformed("unrecognised file header"),
            PcapError::NomError(..) | PcapError::OwnedNomError(..) => {
                Step::Malformed("a record or block header that cannot be parsed")
            }
        }
    }
}

/// Seconds plus a fraction in nanoseconds that may be out of range (bad writers put a
/// microsecond count of 1,000,000 or more in the field).
fn normalise(secs: i64, nanos: u64) -> Timestamp {
    Timestamp {
        secs: secs.saturating_add((nanos / 1_000_000_000) as i64),
        nanos: (nanos % 1_000_000_000) as u32,
    }
}

/// Timestamp from a pcapng tick count at `res` ticks per second.
fn ng_time(ticks: u64, res: u64, offset: i64) -> Timestamp {
    let res = res.max(1);
    let secs = (ticks / res) as i64;
    let nanos = (u128::from(ticks % res) * 1_000_000_000 / u128::from(res)) as u64;
    normalise(secs.saturating_add(offset), nanos)
}

fn ng_block(
    block: &Block<'_>,
    section: &mut Section,
    frames: u64,
    decoder: &mut Decoder,
    sink: &mut dyn Sink,
) {
    let iface = |section: &Section, id: usize| section.interfaces.get(id).copied();
    let (if_id, ticks, data, orig_len) = match block {
        Block::SectionHeader(shb) => {
            section.big_endian = shb.big_endian();
            section.interfaces.clear();
            return;
        }
        Block::InterfaceDescription(idb) => {
            let res = idb.ts_resolution().unwrap_or(1_000_000);
            section
                .interfaces
                .push((idb.linktype.0 as u16, res, idb.ts_offset()));
            return;
        }
        Block::EnhancedPacket(epb) => {
            let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let caplen = (epb.caplen as usize).min(epb.data.len());
            (
                epb.if_id as usize,
                Some(ticks),
                &epb.data[..caplen],
                epb.origlen,
            )
        }
        Block::SimplePacket(spb) => {
            let caplen = (spb.origlen as usize).min(spb.data.len());
            (0, None, &spb.data[..caplen], spb.origlen)
        }
        // The obsolete Packet Block (type 2): if_id u16, drops u16, ts high, ts low, caplen,
        // len, data. pcap-parser hands it over unparsed.
        Block::Unknown(ub) if ub.block_type == 2 => {
            let d = ub.data;
            let be = section.big_endian;
            let u16at = |i: usize| {
                d.get(i..i + 2).map(|b| {
                    let b = [b[0], b[1]];
                    if be {
                        u16::from_be_bytes(b)
                    } else {
                        u16::from_le_bytes(b)
                    }
                })
            };
            let u32at = |i: usize| {
                d.get(i..i + 4).map(|b| {
                    let b = [b[0], b[1], b[2], b[3]];
                    if be {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    }
                })
            };
            let (Some(id), Some(hi), Some(lo), Some(caplen), Some(len)) =
                (u16at(0), u32at(4), u32at(8), u32at(12), u32at(16))
            else {
                decoder.skip_frame(frames + 1, "obsolete packet block too short", sink);
                return;
            };
            let body = &d[20..];
            let caplen = (caplen as usize).min(body.len());
            let ticks = (u64::from(hi) << 32) | u64::from(lo);
            (usize::from(id), Some(ticks), &body[..caplen], len)
        }
        // tshark (4.0) gives these records frame numbers of their own (shown as `data` and
        // `systemd_journal`), between the packets; decryption secrets, name resolution,
        // interface statistics and unknown blocks it does not number.
        Block::Custom(_) | Block::SystemdJournalExport(_) => {
            decoder.other_record();
            return;
        }
        _ => return,
    };
    let Some((linktype, res, offset)) = iface(section, if_id) else {
        decoder.skip_frame(
            frames + 1,
            &format!("packet on interface {if_id}, which no interface description block declared"),
            sink,
        );
        return;
    };
    let time = match ticks {
        Some(t) => ng_time(t, res, offset),
        None => section.last_time,
    };
    section.last_time = time;
    let pkt = Pkt {
        frame: frames + 1,
        time,
        linktype,
        data,
        orig_len,
    };
    decoder.packet(&pkt, sink);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_foreign_formats() {
        assert_eq!(describe(b"GMBU\x00\x02"), "Microsoft NetMon 2 magic `GMBU`");
        assert_eq!(
            describe(b"INVITE sip:a@b SIP/2.0\r\n"),
            "text `INVITE sip:a@b SIP/2.0`"
        );
        assert_eq!(describe(&[1, 2, 3, 4, 5]), "unknown magic 01 02 03 04");
        assert_eq!(describe(b""), "an empty input");
    }

    #[test]
    fn pcapng_ticks() {
        let t = ng_time(1_500_000_123, 1_000_000_000, 0);
        assert_eq!(
            t,
            Timestamp {
                secs: 1,
                nanos: 500_000_123
            }
        );
        let t = ng_time(2_000_001, 1_000_000, 10);
        assert_eq!(
            t,
            Timestamp {
                secs: 12,
                nanos: 1000
            }
        );
    }
}
