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
//! A compressed stream may also expand without end: gzip reaches about 1,000 to 1 on runs of
//! equal bytes, so 10 MB can hold 10 GiB and take minutes to read. [`GzipBound`] stops a
//! stream that has expanded more than a ratio of what was read (100 by default, past the
//! first 256 MiB): captures compress 1.1 to 10 times, a bomb a hundred times more. The
//! reader says where it stopped, and the bound can be raised or lifted.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Size of one read from the underlying file.
const BLOCK: usize = 1 << 20;

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

/// Where the input stopped early because the compressed stream was damaged.
#[derive(Debug, Clone)]
pub(crate) struct StreamDamage {
    /// Decompressed bytes delivered before the damage.
    pub decompressed_offset: u64,
    /// Compressed bytes read from the file when the damage was found, when known.
    pub compressed_offset: Option<u64>,
    pub message: String,
}

pub(crate) struct ByteSource {
    inner: Box<dyn Read + Send>,
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
            inner,
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
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Damage found in a compressed stream, if the input ended because of it.
    pub(crate) fn damage(&self) -> Option<&StreamDamage> {
        self.damage.as_ref()
    }

    /// The unconsumed bytes currently buffered.
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Makes at least `n` bytes available, reading more as needed; returns fewer only at the
    /// end of the input. `n` must already be checked against the caller's record-size limit.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n && !self.eof {
            self.refill(n)?;
        }
        Ok(self.available())
    }

    fn refill(&mut self, n: usize) -> io::Result<()> {
        // Move the unconsumed tail to the front, then grow if one record needs more room.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n && !self.eof {
            let dst = match self.buf.get_mut(self.end..) {
                Some(d) if !d.is_empty() => d,
                _ => break,
            };
            match self.inner.read(dst) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    self.end += k;
                    self.check_expansion();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if self.compressed_count.is_some() && is_stream_damage(&e) => {
                    self.eof = true;
                    self.damage = Some(StreamDamage {
                        decompressed_offset: self.offset + self.end as u64,
                        compressed_offset: self
                            .compressed_count
                            .as_ref()
                            .map(|c| c.load(Ordering::Relaxed)),
                        message: e.to_string(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn check_expansion(&mut self) {
        let Some(count) = &self.compressed_count else {
            return;
        };
        let decompressed = self.offset + self.end as u64;
        let compressed = count.load(Ordering::Relaxed);
        if self.bound.exceeded(decompressed, compressed) {
            self.eof = true;
            self.expanded = Some(Expanded {
                decompressed,
                compressed,
                bound: self.bound,
            });
        }
    }

    /// Marks `n` buffered bytes as used.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }
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
    fn the_gzip_bound_allows_a_free_start_then_a_ratio() {
        let b = GzipBound::default();
        assert!(!b.exceeded(GzipBound::FREE, 0));
        assert!(b.exceeded(GzipBound::FREE + 1, 0));
        assert!(!b.exceeded(GzipBound::FREE + 100 * 1000, 1000));
        assert!(b.exceeded(GzipBound::FREE + 100 * 1000 + 1, 1000));
        assert!(!GzipBound::ratio(0).exceeded(u64::MAX, 0));
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
}
