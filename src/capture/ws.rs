//! WebSocket framing (RFC 6455 §5) on one direction of a TCP stream, as SIP over WebSocket
//! (RFC 7118) uses it: each complete text or binary message is one SIP message. Frames are
//! decoded in place when a whole unmasked frame is in hand; only masked frames, fragmented
//! messages and frames split across segments are copied.

use super::RawPacket;

/// One direction's WebSocket decoder state.
#[derive(Debug, Default)]
pub(crate) struct WsState {
    /// Bytes of an incomplete frame header or payload carried over from earlier segments.
    buf: Vec<u8>,
    /// The unmasked payload of a fragmented message being assembled.
    msg: Vec<u8>,
    in_msg: bool,
    /// Payload bytes of an oversized frame still to be passed over.
    skip: u64,
    packets: Vec<RawPacket>,
    /// The packets that carried this direction's HTTP upgrade head (kept packets only).
    head: Vec<RawPacket>,
    /// The packets that carried the connection's upgrade, both directions as seen so far, in
    /// frame order: handed on before each message's own packets, so a capture written from
    /// the messages (`decode-pcap --write`) has the handshake and decodes as WebSocket again.
    upgrade: Vec<RawPacket>,
}

/// What a decoded frame means for the caller.
pub(crate) trait WsOut {
    fn message(&mut self, data: &[u8], packets: &[RawPacket]);
    fn problem(&mut self, what: &'static str);
}

/// A parsed frame header (RFC 6455 §5.2):
/// FIN(1) RSV(3) opcode(4) MASK(1) len(7) [len16 | len64] [masking-key(32)] payload
struct Header {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    header_len: usize,
    len: u64,
}

fn header(d: &[u8]) -> Option<Header> {
    let (&b0, &b1) = (d.first()?, d.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?])), 4),
        127 => {
            let b = d.get(2..10)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            (u64::from_be_bytes(a), 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let k = d.get(at..at + 4)?;
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Some(Header {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        mask,
        header_len: at,
        len,
    })
}

fn unmask_into(out: &mut Vec<u8>, data: &[u8], mask: Option<[u8; 4]>) {
    match mask {
        Some(k) => out.extend(data.iter().zip(k.iter().cycle()).map(|(b, m)| b ^ m)),
        None => out.extend_from_slice(data),
    }
}

impl WsState {
    /// A direction that switched to WebSocket after the upgrade head carried by `head`.
    pub(crate) fn after_upgrade(head: Vec<RawPacket>) -> WsState {
        WsState {
            upgrade: head.clone(),
            head,
            ..WsState::default()
        }
    }

    /// The packets of this direction's upgrade head.
    pub(crate) fn head(&self) -> &[RawPacket] {
        &self.head
    }

    /// Adds the other direction's upgrade packets.
    pub(crate) fn add_upgrade(&mut self, peer: &[RawPacket]) {
        for p in peer {
            if !self.upgrade.iter().any(|u| u.frame == p.frame) {
                self.upgrade.push(p.clone());
            }
        }
        self.upgrade.sort_by_key(|p| p.frame);
    }

    /// `packets` with the connection's upgrade packets before them (each frame once).
    fn with_upgrade(&self, packets: &[RawPacket]) -> Vec<RawPacket> {
        let mut all: Vec<RawPacket> = self
            .upgrade
            .iter()
            .filter(|u| !packets.iter().any(|p| p.frame == u.frame))
            .cloned()
            .collect();
        all.extend_from_slice(packets);
        all
    }

    /// Forgets a partial frame or message (after bytes of the stream were lost).
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.msg.clear();
        self.in_msg = false;
        self.skip = 0;
        self.packets.clear();
    }

    /// Feeds the next in-order bytes of the direction.
    pub(crate) fn feed(
        &mut self,
        mut data: &[u8],
        packets: &[RawPacket],
        max: usize,
        out: &mut dyn WsOut,
    ) {
        self.packets.extend_from_slice(packets);
        if self.skip > 0 {
            let n = data
                .len()
                .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
            self.skip -= n as u64;
            data = &data[n..];
        }
        if self.buf.is_empty() {
            let used = self.frames(data, max, out);
            let rest = data.get(used..).unwrap_or_default();
            self.buf.extend_from_slice(rest);
        } else {
            self.buf.extend_from_slice(data);
            let buf = std::mem::take(&mut self.buf);
            let used = self.frames(&buf, max, out);
            self.buf = buf;
            self.buf.drain(..used.min(self.buf.len()));
        }
        if self.buf.is_empty() && !self.in_msg {
            self.packets.clear();
        }
    }

    /// Handles every complete frame at the start of `d`; returns the bytes used (a frame
    /// being skipped counts as used in full).
    fn frames(&mut self, d: &[u8], max: usize, out: &mut dyn WsOut) -> usize {
        let mut at = 0;
        while self.skip == 0 {
            let Some(h) = header(&d[at..]) else { break };
            let start = at + h.header_len;
            if h.len > max as u64 {
                out.problem("websocket frame larger than the stream buffer; skipped");
                self.in_msg = false;
                self.msg.clear();
                let have = (d.len() - start) as u64;
                self.skip = h.len.saturating_sub(have);
                return d.len().min(start.saturating_add(h.len as usize));
            }
            let len = h.len as usize;
            let Some(payload) = d.get(start..start + len) else {
                break;
            };
            at = start + len;
            self.frame(&h, payload, max, out);
        }
        at
    }

    fn frame(&mut self, h: &Header, payload: &[u8], max: usize, out: &mut dyn WsOut) {
        match h.opcode {
            // Control frames (close, ping, pong) carry no SIP.
            0x8..=0xf => {}
            0x1 | 0x2 => {
                if self.in_msg {
                    out.problem("websocket message started before the previous one ended");
                }
                self.msg.clear();
                self.in_msg = false;
                if h.fin && h.mask.is_none() {
                    let packets = std::mem::take(&mut self.packets);
                    if self.upgrade.is_empty() {
                        out.message(payload, &packets);
                    } else {
                        out.message(payload, &self.with_upgrade(&packets));
                    }
                    self.packets = packets;
                    self.packets.clear();
                } else {
                    unmask_into(&mut self.msg, payload, h.mask);
                    self.in_msg = !h.fin;
                    if h.fin {
                        self.emit(out);
                    }
                }
            }
            0x0 => {
                if !self.in_msg {
                    out.problem("websocket continuation frame without a message");
                    return;
                }
                if self.msg.len() + payload.len() > max {
                    out.problem("websocket message larger than the stream buffer; skipped");
                    self.msg.clear();
                    self.in_msg = false;
                    return;
                }
                unmask_into(&mut self.msg, payload, h.mask);
                if h.fin {
                    self.in_msg = false;
                    self.emit(out);
                }
            }
            _ => out.problem("websocket frame with a reserved opcode"),
        }
    }

    fn emit(&mut self, out: &mut dyn WsOut) {
        let msg = std::mem::take(&mut self.msg);
        let packets = std::mem::take(&mut self.packets);
        if self.upgrade.is_empty() {
            out.message(&msg, &packets);
        } else {
            out.message(&msg, &self.with_upgrade(&packets));
        }
        self.msg = msg;
        self.msg.clear();
        self.packets = packets;
        self.packets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::write::{ws_frame, ws_opcode};

    #[derive(Default)]
    struct Got {
        msgs: Vec<Vec<u8>>,
        problems: usize,
    }

    impl WsOut for Got {
        fn message(&mut self, data: &[u8], _: &[RawPacket]) {
            self.msgs.push(data.to_vec());
        }
        fn problem(&mut self, _: &'static str) {
            self.problems += 1;
        }
    }

    fn stream() -> (Vec<u8>, Vec<Vec<u8>>) {
        let big = vec![b'x'; 70_000];
        let mut s = Vec::new();
        s.extend(ws_frame(
            true,
            ws_opcode::TEXT,
            Some([9, 8, 7, 6]),
            b"REGISTER one",
        ));
        s.extend(ws_frame(true, ws_opcode::PING, None, b"p"));
        s.extend(ws_frame(false, ws_opcode::TEXT, None, b"INVITE "));
        s.extend(ws_frame(true, ws_opcode::PONG, Some([1, 1, 1, 1]), b""));
        s.extend(ws_frame(
            true,
            ws_opcode::CONTINUATION,
            Some([1, 2, 3, 4]),
            b"two",
        ));
        s.extend(ws_frame(true, ws_opcode::BINARY, None, &big));
        s.extend(ws_frame(true, ws_opcode::TEXT, None, &[b'y'; 300]));
        let want = vec![
            b"REGISTER one".to_vec(),
            b"INVITE two".to_vec(),
            big,
            vec![b'y'; 300],
        ];
        (s, want)
    }

    #[test]
    fn whole_stream_at_once() {
        let (s, want) = stream();
        let mut ws = WsState::default();
        let mut got = Got::default();
        ws.feed(&s, &[], 1 << 20, &mut got);
        assert_eq!(got.msgs, want);
        assert_eq!(got.problems, 0);
    }

    #[test]
    fn every_split_point_and_byte_by_byte() {
        let (s, want) = stream();
        for cut in (0..s.len()).step_by(97).chain([1, 2, 3, 4, 5, 6]) {
            let mut ws = WsState::default();
            let mut got = Got::default();
            ws.feed(&s[..cut], &[], 1 << 20, &mut got);
            ws.feed(&s[cut..], &[], 1 << 20, &mut got);
            assert_eq!(got.msgs, want, "cut at {cut}");
        }
        let mut ws = WsState::default();
        let mut got = Got::default();
        for b in &s[..200] {
            ws.feed(std::slice::from_ref(b), &[], 1 << 20, &mut got);
        }
        assert_eq!(got.msgs[..2], want[..2]);
    }

    #[test]
    fn oversized_frame_is_skipped_and_decoding_resumes() {
        let mut s = ws_frame(true, ws_opcode::TEXT, None, &[0u8; 5000]);
        s.extend(ws_frame(true, ws_opcode::TEXT, None, b"after"));
        let mut ws = WsState::default();
        let mut got = Got::default();
        ws.feed(&s[..100], &[], 1000, &mut got);
        ws.feed(&s[100..], &[], 1000, &mut got);
        assert_eq!(got.msgs, vec![b"after".to_vec()]);
        assert_eq!(got.problems, 1);
    }
}
