//! Where a received message's bytes go while it is reassembled: memory while it is small, a file
//! once it grows past a threshold (so a 10 GiB transfer never sits in memory), with SHA-256
//! (and SHA-1 when asked, for the RFC 5547 file-selector) computed as in-order bytes arrive.
//! Out-of-order or rewritten bytes (RFC 4975 §7.3.1: the last chunk received wins) make the
//! hashes fall back to one pass over the stored bytes at the end.
//!
//! A message in a file is written and hashed off the connection task: its bytes are gathered
//! into 1 MiB batches handed to a writer thread and a hashing thread, so the connection reads
//! the next chunks while earlier ones are written and hashed (the page-cache copy and the two
//! hashes cost more CPU than receiving). A [`Budget`] shared by the stores of one connection
//! bounds the bytes handed over and not yet written; the connection stops reading while it is
//! spent, so a slow disk slows the sender down instead of filling memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, oneshot};

use crate::proto::msrp::ChunkSink;

/// Bytes gathered before they go to the writer: few, large `write` calls.
const BATCH: usize = 1 << 20;

/// Bytes a connection may have handed to writer threads and not yet written (and hashed).
pub(crate) const BUDGET: usize = 8 << 20;

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

/// Bytes handed to writer threads and not yet written, for one connection.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    queued: AtomicUsize,
    freed: Notify,
    /// Batch buffers the threads are done with, reused: a fresh 1 MiB buffer is a fresh
    /// mapping, and faulting in and zeroing its pages cost more than the copy into it.
    spare: Mutex<Vec<Vec<u8>>>,
}

impl Budget {
    fn buffer(&self) -> Vec<u8> {
        self.spare
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_else(|| Vec::with_capacity(BATCH))
    }

    fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() != BATCH {
            return;
        }
        buf.clear();
        if let Ok(mut s) = self.spare.lock() {
            if s.len() < BUDGET / BATCH + 2 {
                s.push(buf);
            }
        }
    }

    fn take(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    fn give(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
        // notify_one keeps a permit when nobody waits yet: no wake-up is lost between the
        // check in `below` and its wait.
        self.freed.notify_one();
    }

    /// Wait until at most `limit` bytes are queued.
    pub async fn below(&self, limit: usize) {
        while self.queued.load(Ordering::Acquire) > limit {
            self.freed.notified().await;
        }
    }
}

/// Bytes on their way to the file; the budget is given back when the writer and the hasher
/// are both done with them.
#[derive(Debug)]
struct Batch {
    offset: u64,
    data: Vec<u8>,
    /// Part of the in-order prefix: the hasher takes it.
    hash: bool,
    budget: Arc<Budget>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.budget.give(self.data.len());
        self.budget.recycle(std::mem::take(&mut self.data));
    }
}

/// The digests being computed over the in-order prefix.
#[derive(Debug, Clone)]
struct Hashers {
    sha256: Sha256,
    sha1: Option<Sha1>,
}

impl Hashers {
    fn new(sha1: bool) -> Hashers {
        Hashers {
            sha256: Sha256::new(),
            sha1: sha1.then(Sha1::new),
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
    }

    fn finish(self) -> Digests {
        Digests {
            sha256: hex(&self.sha256.finalize()),
            sha1: self.sha1.map(|h| hex(&h.finalize())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex digests of a finished message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digests {
    pub sha256: String,
    /// Only when the store was asked for it.
    pub sha1: Option<String>,
}

/// The threads writing and hashing a message that spilled to a file.
#[derive(Debug)]
struct Pipeline {
    writer: mpsc::Sender<Arc<Batch>>,
    hasher: mpsc::Sender<Arc<Batch>>,
    written: oneshot::Receiver<io::Result<File>>,
    hashed: oneshot::Receiver<Hashers>,
    /// Set by the writer on its first error; later writes are refused at once.
    failed: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
}

impl Pipeline {
    fn start(file: File, hashers: Hashers) -> io::Result<Pipeline> {
        let (writer, wrx) = mpsc::channel::<Arc<Batch>>();
        let (hasher, hrx) = mpsc::channel::<Arc<Batch>>();
        let (wdone, written) = oneshot::channel();
        let (hdone, hashed) = oneshot::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let (f2, e2) = (failed.clone(), error.clone());
        std::thread::Builder::new()
            .name("msrp-write".into())
            .spawn(move || {
                let mut file = file;
                let mut pos = 0u64;
                let mut result = Ok(());
                // Keep receiving after an error: dropping each batch gives its budget back.
                for b in wrx {
                    if result.is_err() {
                        continue;
                    }
                    result = write_batch(&mut file, &mut pos, &b);
                    if let Err(e) = &result {
                        if let Ok(mut slot) = e2.lock() {
                            *slot = Some(e.to_string());
                        }
                        f2.store(true, Ordering::Release);
                    }
                }
                let _ = wdone.send(result.map(|()| file));
            })?;
        std::thread::Builder::new()
            .name("msrp-hash".into())
            .spawn(move || {
                let mut hashers = hashers;
                for b in hrx {
                    hashers.update(&b.data);
                }
                let _ = hdone.send(hashers);
            })?;
        Ok(Pipeline {
            writer,
            hasher,
            written,
            hashed,
            failed,
            error,
        })
    }

    fn send(&self, batch: Batch) -> io::Result<()> {
        let hash = batch.hash;
        let b = Arc::new(batch);
        if hash && self.hasher.send(b.clone()).is_err() {
            return Err(io::Error::other("the hashing thread stopped"));
        }
        self.writer
            .send(b)
            .map_err(|_| io::Error::other("the writing thread stopped"))
    }

    fn check(&self) -> io::Result<()> {
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        let why = self
            .error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .unwrap_or_default();
        Err(io::Error::other(format!(
            "writing the message failed: {why}"
        )))
    }
}

fn write_batch(file: &mut File, pos: &mut u64, b: &Batch) -> io::Result<()> {
    if *pos != b.offset {
        file.seek(SeekFrom::Start(b.offset))?;
    }
    file.write_all(&b.data)?;
    *pos = b.offset + b.data.len() as u64;
    Ok(())
}

/// One message being received.
#[derive(Debug)]
pub(crate) struct Store {
    config: StoreConfig,
    file_name: String,
    sha1: bool,
    budget: Arc<Budget>,
    mem: Vec<u8>,
    /// Once spilled: the file's path and the threads filling it.
    file: Option<(PathBuf, Pipeline)>,
    /// Bytes gathered for the writer, contiguous from `batch.offset`.
    batch: Option<Batch>,
    len: u64,
    /// Hashed inline while in memory, then by the hashing thread.
    hashers: Option<Hashers>,
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
    /// `sha1`: compute SHA-1 as well as SHA-256. `budget`: shared by the stores of one
    /// connection (see the module comment).
    pub fn new(config: StoreConfig, file_name: String, sha1: bool, budget: Arc<Budget>) -> Store {
        Store {
            config,
            file_name,
            sha1,
            budget,
            mem: Vec::new(),
            file: None,
            batch: None,
            len: 0,
            hashers: Some(Hashers::new(sha1)),
            hashed: 0,
            dirty: false,
        }
    }

    fn spill(&mut self) -> io::Result<()> {
        std::fs::create_dir_all(&self.config.dir)?;
        let path = self.config.dir.join(&self.file_name);
        // Readable too: out-of-order messages are hashed by reading the file back.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        let hashers = self
            .hashers
            .take()
            .unwrap_or_else(|| Hashers::new(self.sha1));
        let pipeline = Pipeline::start(f, hashers)?;
        let mem = std::mem::take(&mut self.mem);
        self.budget.take(mem.len());
        // Already hashed while in memory.
        let first = Batch {
            offset: 0,
            data: mem,
            hash: false,
            budget: self.budget.clone(),
        };
        let sent = pipeline.send(first);
        self.file = Some((path, pipeline));
        sent
    }

    /// Hand the gathered batch to the threads.
    fn flush(&mut self) -> io::Result<()> {
        match (self.batch.take(), &self.file) {
            (Some(b), Some((_, p))) => p.send(b),
            _ => Ok(()),
        }
    }

    /// Drop the bytes (an aborted or refused message): remove the file.
    pub fn discard(mut self) {
        self.batch = None;
        if let Some((path, pipeline)) = self.file.take() {
            // The threads end when their channels close; the file is unlinked now.
            drop(pipeline);
            let _ = std::fs::remove_file(path);
        }
    }

    /// Finish a message of `total` bytes: the bytes and the digests of `[skip, total)`.
    pub async fn finish(mut self, total: u64, skip: u64) -> io::Result<(Stored, Digests)> {
        let running = skip == 0 && !self.dirty && self.hashed == total;
        self.flush()?;
        let Some((path, p)) = self.file.take() else {
            let digests = match self.hashers.take() {
                Some(h) if running => h.finish(),
                _ => {
                    let s = usize::try_from(skip).unwrap_or(usize::MAX);
                    let t = usize::try_from(total).unwrap_or(usize::MAX);
                    let mut h = Hashers::new(self.sha1);
                    h.update(self.mem.get(s..t).unwrap_or_default());
                    h.finish()
                }
            };
            self.mem
                .truncate(usize::try_from(total).unwrap_or(usize::MAX));
            return Ok((Stored::Memory(self.mem), digests));
        };
        let Pipeline {
            writer,
            hasher,
            written,
            hashed,
            ..
        } = p;
        drop((writer, hasher));
        let closed = || io::Error::other("the writing thread ended early");
        let hashers = hashed.await.map_err(|_| closed())?;
        let file = written.await.map_err(|_| closed())??;
        let sha1 = self.sha1;
        let digests = tokio::task::spawn_blocking(move || -> io::Result<Digests> {
            let mut file = file;
            file.set_len(total)?;
            file.sync_data()?;
            if running {
                return Ok(hashers.finish());
            }
            let mut h = Hashers::new(sha1);
            file.seek(SeekFrom::Start(skip))?;
            let mut left = total.saturating_sub(skip);
            let mut buf = vec![0u8; 256 * 1024];
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
                let n = file.read(buf.get_mut(..want).unwrap_or_default())?;
                if n == 0 {
                    break;
                }
                h.update(buf.get(..n).unwrap_or_default());
                left -= n as u64;
            }
            Ok(h.finish())
        })
        .await
        .map_err(io::Error::other)??;
        Ok((Stored::File(path), digests))
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
        let in_order = offset == self.hashed && !self.dirty;
        if offset < self.hashed {
            self.dirty = true;
        } else if in_order {
            self.hashed = end;
        }
        if self.file.is_none() {
            if let (true, Some(h)) = (in_order, &mut self.hashers) {
                h.update(data);
            }
            if end > self.config.memory_limit {
                self.spill()?;
            } else {
                let start = usize::try_from(offset).map_err(io::Error::other)?;
                let stop = usize::try_from(end).map_err(io::Error::other)?;
                if self.mem.len() < stop {
                    self.mem.resize(stop, 0);
                }
                self.mem[start..stop].copy_from_slice(data);
                self.len = self.len.max(end);
                return Ok(());
            }
            // Spilled just now: this write goes to the file, already hashed.
            self.gather(offset, data, false)?;
        } else {
            if let Some((_, p)) = &self.file {
                p.check()?;
            }
            self.gather(offset, data, in_order)?;
        }
        self.len = self.len.max(end);
        Ok(())
    }
}

impl Store {
    /// Add `data` at `offset` to the batch, handing the batch over when it is full or when
    /// `data` does not continue it.
    fn gather(&mut self, offset: u64, data: &[u8], hash: bool) -> io::Result<()> {
        let continues = self.batch.as_ref().is_some_and(|b| {
            b.hash == hash && b.offset + b.data.len() as u64 == offset && b.data.len() < BATCH
        });
        if !continues {
            self.flush()?;
        }
        let mut rest = data;
        let mut at = offset;
        while !rest.is_empty() {
            let budget = &self.budget;
            let b = self.batch.get_or_insert_with(|| Batch {
                offset: at,
                data: budget.buffer(),
                hash,
                budget: self.budget.clone(),
            });
            let room = BATCH.saturating_sub(b.data.len()).max(1);
            let (now, later) = rest.split_at(room.min(rest.len()));
            b.data.extend_from_slice(now);
            self.budget.take(now.len());
            at += now.len() as u64;
            rest = later;
            if b.data.len() >= BATCH {
                self.flush()?;
            }
        }
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

    fn store(cfg: StoreConfig, name: &str) -> Store {
        Store::new(cfg, name.into(), true, Arc::new(Budget::default()))
    }

    fn sha1(data: &[u8]) -> String {
        Sha1::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[tokio::test]
    async fn small_in_order_stays_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            dir: dir.path().into(),
            memory_limit: 100,
        };
        let mut s = store(cfg, "m1");
        s.write_at(0, b"hello ").expect("write");
        s.write_at(6, b"world").expect("write");
        let (stored, d) = s.finish(11, 0).await.expect("finish");
        assert!(matches!(&stored, Stored::Memory(v) if v == b"hello world"));
        assert_eq!(d.sha256, sha(b"hello world"));
        assert_eq!(d.sha1, Some(sha1(b"hello world")));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[tokio::test]
    async fn large_spills_to_file_and_out_of_order_rehashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            dir: dir.path().into(),
            memory_limit: 8,
        };
        let data: Vec<u8> = (0..100u8).collect();
        let mut s = store(cfg, "m2");
        s.write_at(50, &data[50..]).expect("write");
        s.write_at(0, &data[..50]).expect("write");
        s.write_at(10, &data[10..20]).expect("overlap");
        let (stored, d) = s.finish(100, 0).await.expect("finish");
        let Stored::File(p) = stored else {
            panic!("expected a file");
        };
        assert_eq!(std::fs::read(&p).expect("read"), data);
        assert_eq!(d.sha256, sha(&data));
        assert_eq!(d.sha1, Some(sha1(&data)));
        let s = store(
            StoreConfig {
                dir: dir.path().into(),
                memory_limit: 0,
            },
            "m3",
        );
        let mut s = s;
        s.write_at(0, &data).expect("write");
        let (_, d) = s.finish(100, 30).await.expect("finish");
        assert_eq!(d.sha256, sha(&data[30..]));
        assert_eq!(d.sha1, Some(sha1(&data[30..])));
    }

    /// Many batches, in order, with the budget smaller than the message: the digests are the
    /// running ones, the file is byte-exact, and every byte handed over is given back.
    #[tokio::test]
    async fn big_in_order_message_goes_through_the_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            dir: dir.path().into(),
            memory_limit: 1000,
        };
        let budget = Arc::new(Budget::default());
        let mut s = Store::new(cfg, "m4".into(), true, budget.clone());
        let data: Vec<u8> = (0..5 * BATCH + 777).map(|i| (i * 7 % 251) as u8).collect();
        let mut at = 0;
        for piece in data.chunks(65_000) {
            s.write_at(at, piece).expect("write");
            at += piece.len() as u64;
            budget.below(2 * BATCH).await;
        }
        let (stored, d) = s.finish(data.len() as u64, 0).await.expect("finish");
        let Stored::File(p) = stored else {
            panic!("expected a file");
        };
        assert_eq!(std::fs::read(&p).expect("read"), data);
        assert_eq!(d.sha256, sha(&data));
        assert_eq!(d.sha1, Some(sha1(&data)));
        assert_eq!(budget.queued.load(Ordering::Acquire), 0);
    }

    /// A write that fails in the writer thread is reported by a later write or by finish.
    #[tokio::test]
    async fn writer_errors_come_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            dir: dir.path().into(),
            memory_limit: 0,
        };
        let mut s = store(cfg, "m5");
        s.write_at(0, b"abc").expect("first write");
        // Far beyond any file size the file system allows.
        let r = s
            .write_at(u64::MAX / 2, &[1u8; BATCH])
            .and_then(|()| s.write_at(0, b"x"));
        if r.is_ok() {
            assert!(s.finish(3, 0).await.is_err(), "finish must fail");
        }
    }
}
