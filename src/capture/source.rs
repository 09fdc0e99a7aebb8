//! A bounded, streaming byte source for capture files.
//!
//! Capture files are read in large blocks into one reused buffer; the format readers borrow
//! frames from it, so the hot path neither allocates nor copies per packet. The buffer holds
//! one block (1 MiB) and grows only to fit a single record larger than that, up to the limit
//! the reader passes in; memory therefore stays flat whatever the file's size (a memory map
//! would count the whole file in the resident set).
//!
//! Gzip-compressed files are decompressed on the fly into the same buffer. A damaged or cut-off
//! compressed stream ends the input early; the damage is kept as a note for the reader to turn
//! into a warning, so everything before it is still analysed.
//!
//! A large file is read ahead by a thread of its own ([`ByteSource::prefetching`]): while the
//! analysis works on one block, the thread copies the next ones out of the page cache (or
//! decompresses them), so reading and analysing overlap on two cores. It fills blocks of
//! [`BLOCK`] bytes after [`HEADROOM`] bytes of room, hands them over through a channel, and
//! gets them back once used: at most [`PREFETCH_BLOCKS`] blocks exist at a time. The
//! unconsumed end of a block (a record cut by the block boundary) is copied into the next
//! block's headroom, so records stay contiguous without copying the block itself.
//!
//! A compressed stream may also expand without end: gzip reaches about 1,000 to 1 on runs of
//! equal bytes, so 10 MB can hold 10 GiB and take minutes to read. [`GzipBound`] stops a
//! stream that has expanded more than a ratio of what was read (100 by default, past the
//! first 256 MiB): captures compress 1.1 to 10 times, a bomb a hundred times more. The
//! reader says where it stopped, and the bound can be raised or lifted.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Size of one read from the underlying file.
const BLOCK: usize = 1 << 20;
/// Room before a prefetched block's data for the end of the previous block: a record of
/// libpcap's largest snaplen (256 KiB) plus its header. Longer records are joined by copying.
const HEADROOM: usize = (256 << 10) + 64;
/// Prefetched blocks in existence at once (being read, waiting, and in use): about 5 MiB.
pub(crate) const PREFETCH_BLOCKS: usize = 4;

/// Counts the bytes read from the file under a decompressor, so a damaged gzip stream can be
/// reported at its compressed byte offset.
pub(crate) struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Where the input stopped early because the compressed stream was damaged.
#[derive(Debug, Clone)]
pub(crate) struct StreamDamage {
    /// Decompressed bytes delivered before the damage.
    pub decompressed_offset: u64,
    /// Compressed bytes read from the file when the damage was found, when known.
    pub compressed_offset: Option<u64>,
    pub message: String,
}

/// How far a compressed stream may expand: at most `ratio` times the compressed bytes read,
/// beyond the first `free` bytes; `ratio` 0 means no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipBound {
    pub ratio: u64,
    /// Decompressed bytes always allowed, whatever the ratio (default [`GzipBound::FREE`]).
    pub free: u64,
}

impl GzipBound {
    /// The default for `free`: 256 MiB.
    pub const FREE: u64 = 256 << 20;
    /// The default ratio.
    pub const DEFAULT_RATIO: u64 = 100;

    /// The default bound with this ratio.
    pub fn ratio(ratio: u64) -> GzipBound {
        GzipBound {
            ratio,
            ..GzipBound::default()
        }
    }

    /// Whether `decompressed` bytes out of `compressed` are beyond the bound.
    pub fn exceeded(self, decompressed: u64, compressed: u64) -> bool {
        self.ratio > 0
            && decompressed
                > self
                    .free
                    .saturating_add(self.ratio.saturating_mul(compressed))
    }
}

impl Default for GzipBound {
    fn default() -> GzipBound {
        GzipBound {
            ratio: Self::DEFAULT_RATIO,
            free: Self::FREE,
        }
    }
}

/// Where a compressed stream was stopped because it expanded beyond its [`GzipBound`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expanded {
    pub decompressed: u64,
    pub compressed: u64,
    pub bound: GzipBound,
}

/// What the read-ahead thread hands over.
enum Block {
    /// A block with `len` bytes of data after its headroom.
    Data(Vec<u8>, usize),
    End,
    Damage(String, Option<u64>),
    Failed(io::Error),
}

/// The read-ahead thread and its two channels: filled blocks in, used blocks back.
struct Prefetch {
    filled: Receiver<Block>,
    free: SyncSender<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Dropping the channels ends the thread (its next send or receive fails).
        let (_, dead) = sync_channel(0);
        drop(std::mem::replace(&mut self.filled, dead));
        let (dead, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.free, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Input {
    Direct(Box<dyn Read + Send>),
    Prefetched(Prefetch),
}

/// One read's outcome, errors sorted: a damaged compressed stream ends the input with a note,
/// anything else is the file system failing.
enum Got {
    Data(usize),
    Eof,
    Damage(String),
    Failed(io::Error),
}

fn read_some(inner: &mut dyn Read, dst: &mut [u8], compressed: bool) -> Got {
    loop {
        return match inner.read(dst) {
            Ok(0) => Got::Eof,
            Ok(k) => Got::Data(k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if compressed && is_stream_damage(&e) => Got::Damage(e.to_string()),
            Err(e) => Got::Failed(e),
        };
    }
}

/// The read-ahead thread: fills each free block completely (or to the end of the input) and
/// sends it on, until the input ends or the reader is dropped.
fn prefetch(
    mut inner: Box<dyn Read + Send>,
    count: Option<Arc<AtomicU64>>,
    free: Receiver<Vec<u8>>,
    filled: SyncSender<Block>,
) {
    while let Ok(mut block) = free.recv() {
        block.resize(HEADROOM + BLOCK, 0);
        let mut n = 0;
        let last = loop {
            let dst = block.get_mut(HEADROOM + n..).unwrap_or(&mut []);
            if dst.is_empty() {
                break None;
            }
            match read_some(&mut inner, dst, count.is_some()) {
                Got::Data(k) => n += k,
                Got::Eof => break Some(Block::End),
                Got::Damage(m) => {
                    let at = count.as_ref().map(|c| c.load(Ordering::Relaxed));
                    break Some(Block::Damage(m, at));
                }
                Got::Failed(e) => break Some(Block::Failed(e)),
            }
        };
        if n > 0 && filled.send(Block::Data(block, n)).is_err() {
            return;
        }
        if let Some(last) = last {
            let _ = filled.send(last);
            return;
        }
    }
}

pub(crate) struct ByteSource {
    inner: Input,
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// Offset in the (decompressed) input of `buf[start]`.
    offset: u64,
    eof: bool,
    /// Set for compressed inputs: counts compressed bytes read.
    compressed_count: Option<Arc<AtomicU64>>,
    damage: Option<StreamDamage>,
    bound: GzipBound,
    expanded: Option<Expanded>,
}

impl ByteSource {
    pub(crate) fn new(
        inner: Box<dyn Read + Send>,
        compressed_count: Option<Arc<AtomicU64>>,
    ) -> Self {
        ByteSource {
            inner: Input::Direct(inner),
            buf: vec![0; BLOCK],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            compressed_count,
            damage: None,
            bound: GzipBound::default(),
            expanded: None,
        }
    }

    /// A source whose input is read ahead by a thread of its own (for large files).
    pub(crate) fn prefetching(
        inner: Box<dyn Read + Send>,
        compressed_count: Option<Arc<AtomicU64>>,
    ) -> io::Result<Self> {
        let (free_tx, free_rx) = sync_channel(PREFETCH_BLOCKS);
        let (filled_tx, filled_rx) = sync_channel(PREFETCH_BLOCKS);
        // One block stays with the reader; the thread may fill the others meanwhile.
        for _ in 1..PREFETCH_BLOCKS {
            let _ = free_tx.send(Vec::new());
        }
        let count = compressed_count.clone();
        let thread = std::thread::Builder::new()
            .name("bttrace-read".into())
            .spawn(move || prefetch(inner, count, free_rx, filled_tx))?;
        Ok(ByteSource {
            inner: Input::Prefetched(Prefetch {
                filled: filled_rx,
                free: free_tx,
                thread: Some(thread),
            }),
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            compressed_count,
            damage: None,
            bound: GzipBound::default(),
            expanded: None,
        })
    }

    /// Sets how far a compressed stream may expand.
    pub(crate) fn with_bound(mut self, bound: GzipBound) -> Self {
        self.bound = bound;
        self
    }

    /// Set when a compressed stream was stopped at its bound.
    pub(crate) fn expanded(&self) -> Option<Expanded> {
        self.expanded
    }

    /// Offset in the decompressed input of the next unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Damage found in a compressed stream, if the input ended because of it.
    pub(crate) fn damage(&self) -> Option<&StreamDamage> {
        self.damage.as_ref()
    }

    /// The unconsumed bytes currently buffered.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Makes at least `n` bytes available, reading more as needed; returns fewer only at the
    /// end of the input. `n` must already be checked against the caller's record-size limit.
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n && !self.eof {
            self.refill(n)?;
        }
        Ok(self.available())
    }

    // Once a block (1 MiB): kept out of line so `fill` stays small enough to inline.
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<()> {
        if let Input::Prefetched(_) = self.inner {
            return self.refill_prefetched(n);
        }
        // Move the unconsumed tail to the front, then grow if one record needs more room.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        let Input::Direct(inner) = &mut self.inner else {
            return Ok(());
        };
        while self.end < n && !self.eof {
            let dst = match self.buf.get_mut(self.end..) {
                Some(d) if !d.is_empty() => d,
                _ => break,
            };
            match read_some(inner, dst, self.compressed_count.is_some()) {
                Got::Eof => self.eof = true,
                Got::Data(k) => {
                    self.end += k;
                    if let Some(x) =
                        expansion(&self.compressed_count, self.bound, self.offset, self.end)
                    {
                        self.eof = true;
                        self.expanded = Some(x);
                    }
                }
                Got::Damage(message) => {
                    self.eof = true;
                    self.damage = Some(StreamDamage {
                        decompressed_offset: self.offset + self.end as u64,
                        compressed_offset: self
                            .compressed_count
                            .as_ref()
                            .map(|c| c.load(Ordering::Relaxed)),
                        message,
                    });
                }
                Got::Failed(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Takes prefetched blocks until `n` bytes are available, carrying the unconsumed end of
    /// the current block into the next one's headroom.
    fn refill_prefetched(&mut self, n: usize) -> io::Result<()> {
        let Input::Prefetched(p) = &self.inner else {
            return Ok(());
        };
        while self.end - self.start < n && !self.eof {
            match p.filled.recv() {
                Ok(Block::Data(mut block, len)) => {
                    let tail = self.end - self.start;
                    let kept = self.buf.get(self.start..self.end).unwrap_or(&[]);
                    if let Some(room) = block.get_mut(HEADROOM - tail.min(HEADROOM)..HEADROOM)
                        && tail <= HEADROOM
                    {
                        room.copy_from_slice(kept);
                        let used = std::mem::replace(&mut self.buf, block);
                        self.start = HEADROOM - tail;
                        self.end = HEADROOM + len;
                        if used.len() == HEADROOM + BLOCK {
                            let _ = p.free.send(used);
                        }
                    } else {
                        // A record longer than the headroom: join by copying (rare).
                        let mut joined = Vec::with_capacity(tail + len);
                        joined.extend_from_slice(kept);
                        joined
                            .extend_from_slice(block.get(HEADROOM..HEADROOM + len).unwrap_or(&[]));
                        self.buf = joined;
                        self.start = 0;
                        self.end = tail + len;
                        let _ = p.free.send(block);
                    }
                    let held = self.end - self.start;
                    if let Some(x) =
                        expansion(&self.compressed_count, self.bound, self.offset, held)
                    {
                        self.eof = true;
                        self.expanded = Some(x);
                    }
                }
                Ok(Block::Damage(message, compressed_offset)) => {
                    self.eof = true;
                    self.damage = Some(StreamDamage {
                        decompressed_offset: self.offset + (self.end - self.start) as u64,
                        compressed_offset,
                        message,
                    });
                }
                Ok(Block::Failed(e)) => {
                    self.eof = true;
                    return Err(e);
                }
                Ok(Block::End) | Err(_) => self.eof = true,
            }
        }
        Ok(())
    }

    /// Marks `n` buffered bytes as used.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }
}

/// Where a compressed input of `offset + held` decompressed bytes is beyond `bound`. When the
/// input is read ahead, the compressed count may run a few blocks ahead of the data handed
/// over, which only makes the bound a little more lenient.
fn expansion(
    count: &Option<Arc<AtomicU64>>,
    bound: GzipBound,
    offset: u64,
    held: usize,
) -> Option<Expanded> {
    let count = count.as_ref()?;
    let decompressed = offset + held as u64;
    let compressed = count.load(Ordering::Relaxed);
    bound
        .exceeded(decompressed, compressed)
        .then_some(Expanded {
            decompressed,
            compressed,
            bound,
        })
}

/// Errors a decompressor reports for a damaged or cut-off stream (as opposed to the file
/// system failing).
fn is_stream_damage(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per call, to exercise refills.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn fill_gathers_across_short_reads_and_tracks_offsets() {
        let data: Vec<u8> = (0..=255).cycle().take(3 * BLOCK + 17).collect();
        let mut src = ByteSource::new(
            Box::new(Trickle {
                data: data.clone(),
                pos: 0,
                chunk: 7,
            }),
            None,
        );
        let mut seen = Vec::new();
        loop {
            let got = src.fill(1000).unwrap().len();
            if got == 0 {
                break;
            }
            let take = got.min(999);
            seen.extend_from_slice(&src.available()[..take]);
            src.consume(take);
            assert_eq!(src.offset(), seen.len() as u64);
        }
        assert_eq!(seen, data);
    }

    #[test]
    fn fill_grows_for_a_record_larger_than_a_block() {
        let data = vec![7u8; BLOCK * 2 + 5];
        let mut src = ByteSource::new(Box::new(io::Cursor::new(data)), None);
        src.consume(0);
        assert_eq!(src.fill(BLOCK * 2).unwrap().len(), BLOCK * 2);
        src.consume(BLOCK * 2);
        assert_eq!(src.fill(10).unwrap().len(), 5);
    }

    #[test]
    fn the_gzip_bound_allows_a_free_start_then_a_ratio() {
        let b = GzipBound::default();
        assert!(!b.exceeded(GzipBound::FREE, 0));
        assert!(b.exceeded(GzipBound::FREE + 1, 0));
        assert!(!b.exceeded(GzipBound::FREE + 100 * 1000, 1000));
        assert!(b.exceeded(GzipBound::FREE + 100 * 1000 + 1, 1000));
        assert!(!GzipBound::ratio(0).exceeded(u64::MAX, 0));
    }
}
