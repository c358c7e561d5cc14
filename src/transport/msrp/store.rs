//! Where a received message's bytes go while it is reassembled: memory while it is small, a file
//! once it grows past a threshold (so a 10 GiB transfer never sits in memory), with SHA-256
//! computed as in-order bytes arrive. Out-of-order or rewritten bytes (RFC 4975 §7.3.1: the last
//! chunk received wins) make the hash fall back to one pass over the stored bytes at the end.
//!
//! Writes are synchronous `std::fs` calls from the connection task: they land in the page cache
//! and a CLI receiving one session at a time does not need a blocking pool for them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::proto::msrp::ChunkSink;

/// Where received messages are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Directory for messages larger than `memory_limit`; created if missing.
    pub dir: PathBuf,
    /// Messages up to this size stay in memory (text messages, small files).
    pub memory_limit: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: std::env::temp_dir(),
            memory_limit: 64 * 1024,
        }
    }
}

/// One message being received.
#[derive(Debug)]
pub(crate) struct Store {
    config: StoreConfig,
    file_name: String,
    mem: Vec<u8>,
    file: Option<(File, PathBuf)>,
    /// Current file position, to skip seeks for sequential writes.
    pos: u64,
    len: u64,
    hasher: Sha256,
    hashed: u64,
    /// Bytes before `hashed` were overwritten: the running hash is wrong.
    dirty: bool,
}

/// A finished message's bytes.
#[derive(Debug)]
pub(crate) enum Stored {
    Memory(Vec<u8>),
    File(PathBuf),
}

impl Store {
    pub fn new(config: StoreConfig, file_name: String) -> Store {
        Store {
            config,
            file_name,
            mem: Vec::new(),
            file: None,
            pos: 0,
            len: 0,
            hasher: Sha256::new(),
            hashed: 0,
            dirty: false,
        }
    }

    fn spill(&mut self) -> io::Result<()> {
        std::fs::create_dir_all(&self.config.dir)?;
        let path = self.config.dir.join(&self.file_name);
        // Readable too: out-of-order messages are hashed by reading the file back.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        f.write_all(&self.mem)?;
        self.pos = self.mem.len() as u64;
        self.mem = Vec::new();
        self.file = Some((f, path));
        Ok(())
    }

    /// Drop the bytes (an aborted or refused message): remove the file.
    pub fn discard(self) {
        if let Some((f, path)) = self.file {
            drop(f);
            let _ = std::fs::remove_file(path);
        }
    }

    /// Finish a message of `total` bytes: the bytes and the hex SHA-256 of `[skip, total)`.
    pub fn finish(mut self, total: u64, skip: u64) -> io::Result<(Stored, String)> {
        let digest = if skip == 0 && !self.dirty && self.hashed == total {
            self.hasher.finalize()
        } else {
            let mut h = Sha256::new();
            match &mut self.file {
                None => {
                    let s = usize::try_from(skip).unwrap_or(usize::MAX);
                    let t = usize::try_from(total).unwrap_or(usize::MAX);
                    h.update(self.mem.get(s..t).unwrap_or_default());
                }
                Some((f, _)) => {
                    f.seek(SeekFrom::Start(skip))?;
                    let mut left = total.saturating_sub(skip);
                    let mut buf = vec![0u8; 64 * 1024];
                    while left > 0 {
                        let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
                        let n = f.read(&mut buf[..want])?;
                        if n == 0 {
                            break;
                        }
                        h.update(&buf[..n]);
                        left -= n as u64;
                    }
                }
            }
            h.finalize()
        };
        let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
        let stored = match self.file {
            None => {
                self.mem
                    .truncate(usize::try_from(total).unwrap_or(usize::MAX));
                Stored::Memory(self.mem)
            }
            Some((f, path)) => {
                f.set_len(total)?;
                f.sync_data()?;
                Stored::File(path)
            }
        };
        Ok((stored, hex))
    }

    /// Read up to `n` bytes from the start (to look inside a stored message/cpim wrapper).
    pub fn prefix(stored: &Stored, n: usize) -> io::Result<Vec<u8>> {
        match stored {
            Stored::Memory(v) => Ok(v.get(..n.min(v.len())).unwrap_or_default().to_vec()),
            Stored::File(p) => read_prefix(p, n),
        }
    }
}

fn read_prefix(p: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    File::open(p)?.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

impl ChunkSink for Store {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::other("offset overflow"))?;
        if offset < self.hashed {
            self.dirty = true;
        } else if offset == self.hashed && !self.dirty {
            self.hasher.update(data);
            self.hashed = end;
        }
        if self.file.is_none() && end > self.config.memory_limit {
            self.spill()?;
        }
        match &mut self.file {
            None => {
                let start = usize::try_from(offset).map_err(io::Error::other)?;
                let stop = usize::try_from(end).map_err(io::Error::other)?;
                if self.mem.len() < stop {
                    self.mem.resize(stop, 0);
                }
                self.mem[start..stop].copy_from_slice(data);
            }
            Some((f, _)) => {
                if self.pos != offset {
                    f.seek(SeekFrom::Start(offset))?;
                }
                f.write_all(data)?;
                self.pos = end;
            }
        }
        self.len = self.len.max(end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn small_in_order_stays_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            dir: dir.path().into(),
            memory_limit: 100,
        };
        let mut s = Store::new(cfg, "m1".into());
        s.write_at(0, b"hello ").expect("write");
        s.write_at(6, b"world").expect("write");
        let (stored, hex) = s.finish(11, 0).expect("finish");
        assert!(matches!(&stored, Stored::Memory(v) if v == b"hello world"));
        assert_eq!(hex, sha(b"hello world"));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn large_spills_to_file_and_out_of_order_rehashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            dir: dir.path().into(),
            memory_limit: 8,
        };
        let data: Vec<u8> = (0..100u8).collect();
        let mut s = Store::new(cfg, "m2".into());
        s.write_at(50, &data[50..]).expect("write");
        s.write_at(0, &data[..50]).expect("write");
        s.write_at(10, &data[10..20]).expect("overlap");
        let (stored, hex) = s.finish(100, 0).expect("finish");
        let Stored::File(p) = stored else {
            panic!("expected a file");
        };
        assert_eq!(std::fs::read(&p).expect("read"), data);
        assert_eq!(hex, sha(&data));
        let s = Store::new(
            StoreConfig {
                dir: dir.path().into(),
                memory_limit: 0,
            },
            "m3".into(),
        );
        let mut s = s;
        s.write_at(0, &data).expect("write");
        let (_, hex) = s.finish(100, 30).expect("finish");
        assert_eq!(hex, sha(&data[30..]));
    }
}
