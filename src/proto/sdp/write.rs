//! Canonical text for a parsed description: every field on its own CRLF line in RFC 8866 §5
//! order, sub-fields joined by single spaces, so `parse(serialize(parse(x))) == parse(x)`.

use super::{Attribute, Bandwidth, Connection, SessionDescription};
use std::fmt::{self, Write};

fn conn(f: &mut impl Write, c: &Connection<'_>) -> fmt::Result {
    write!(f, "c={} {} {}\r\n", c.net_type, c.addr_type, c.address)
}

fn bw(f: &mut impl Write, b: &Bandwidth<'_>) -> fmt::Result {
    write!(f, "b={}:{}\r\n", b.bwtype, b.bandwidth)
}

fn attr(f: &mut impl Write, a: &Attribute<'_>) -> fmt::Result {
    match a.value {
        Some(v) => write!(f, "a={}:{}\r\n", a.name, v),
        None => write!(f, "a={}\r\n", a.name),
    }
}

impl fmt::Display for SessionDescription<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v={}\r\n", self.version)?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(i) = self.information {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            conn(f, c)?;
        }
        for b in &self.bandwidths {
            bw(f, b)?;
        }
        for t in &self.times {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={} {}", r.interval, r.duration)?;
                for off in &r.offsets {
                    write!(f, " {off}")?;
                }
                f.write_str("\r\n")?;
            }
            if !t.zone.is_empty() {
                f.write_str("z=")?;
                for (i, z) in t.zone.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(f, "{sep}{} {}", z.time, z.offset)?;
                }
                f.write_str("\r\n")?;
            }
        }
        if let Some(k) = self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            attr(f, a)?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(n) = m.port_count {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.proto)?;
            for fmt in &m.formats {
                write!(f, " {fmt}")?;
            }
            f.write_str("\r\n")?;
            if let Some(i) = m.information {
                write!(f, "i={i}\r\n")?;
            }
            for c in &m.connections {
                conn(f, c)?;
            }
            for b in &m.bandwidths {
                bw(f, b)?;
            }
            if let Some(k) = m.key {
                write!(f, "k={k}\r\n")?;
            }
            for a in &m.attributes {
                attr(f, a)?;
            }
        }
        Ok(())
    }
}

impl SessionDescription<'_> {
    /// Append the canonical CRLF text to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
    }
}
