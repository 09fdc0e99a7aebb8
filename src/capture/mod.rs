//! Capture files: open a path, recognise the format from its bytes, yield frames.
//!
//! Layer: file bytes in, [`Frame`]s out. Classic pcap (microsecond and nanosecond, either byte
//! order) and pcapng (any number of sections and interfaces, each interface with its own link
//! type and timestamp resolution) are read, plain or gzip-compressed. The format is always
//! detected from the first bytes, never from the file name.
//!
//! Invariants:
//! - frames borrow from one reused buffer ([`source`]); memory does not grow with file size;
//! - a problem in the file header is a [`CaptureError`] (nothing can be analysed); a problem
//!   later (a record cut short, a length that overruns, a damaged gzip stream) ends the input
//!   with a [`Note`] naming the frame and byte offset, and everything before it is analysed;
//! - no record larger than [`MAX_RECORD`] is ever buffered, whatever a header claims.
//!
//! Why our own readers rather than the `pcap-file` crate at run time: pcap-file 2.0 ignores a
//! pcapng interface's `if_tsresol` option (times of a nanosecond or power-of-two interface
//! come out wrong), gives no byte offset per record (a note must name the frame and offset),
//! has no cap on the record length a header claims (memory must stay bounded whatever the
//! file says), and treats a record cut short at the end of a file (a capture stopped
//! mid-write, the commonest damage) as an error that loses it, where we analyse everything
//! before it and say where it ended. The test suite writes captures with pcap-file and
//! checks our reading against its view of the same files (`tests.rs`).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod pcap;
mod pcapng;
pub(crate) mod source;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde::Serialize;

use crate::bytes::describe_prefix;
pub use source::GzipBound;
use source::{ByteSource, CountingReader};

/// Files this large (on disk) are read ahead by a thread while they are analysed: below it,
/// a file is read in a few blocks and a thread would cost more than it saves (and a batch of
/// small files keeps every core busy with files already).
pub const PREFETCH_MIN: u64 = 4 << 20;

/// The largest record or block bttrace buffers (16 MiB). Real captures stay far below it
/// (a 64 KiB TSO super-frame, a 256 KiB snaplen); a larger claim means the file is corrupt.
pub const MAX_RECORD: usize = 16 << 20;

/// Capture time in nanoseconds since the Unix epoch. Analysis only ever uses capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs_nanos(secs: i64, nanos: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }
    /// Seconds since the epoch, as a float (microsecond precision for current dates).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Signed nanoseconds from `earlier` to `self`.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A link-layer header type, as numbered by tcpdump.org's LINKTYPE registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    /// DLT_RAW as some BSDs number it (Glasnost files may carry it).
    pub const RAW_12: LinkType = LinkType(12);
    /// DLT_RAW as other BSDs number it.
    pub const RAW_14: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the address family is big-endian.
    pub const LOOP: LinkType = LinkType(108);
    pub const PPP_HDLC: LinkType = LinkType(50);
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Per-Packet Information header, then the link type it names.
    pub const PPI: LinkType = LinkType(192);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter NFLOG: TLVs, one of which carries the IP packet.
    pub const NFLOG: LinkType = LinkType(239);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    pub fn name(self) -> &'static str {
        match self {
            LinkType::NULL => "null",
            LinkType::ETHERNET => "ethernet",
            LinkType::PPP | LinkType::PPP_HDLC => "ppp",
            LinkType::PPI => "ppi",
            LinkType::NFLOG => "nflog",
            LinkType::RAW_12 | LinkType::RAW_14 | LinkType::RAW => "raw-ip",
            LinkType::LOOP => "loop",
            LinkType::LINUX_SLL => "linux-sll",
            LinkType::IPV4 => "ipv4",
            LinkType::IPV6 => "ipv6",
            LinkType::LINUX_SLL2 => "linux-sll2",
            _ => "unsupported",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl Serialize for LinkType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark numbers packets.
    pub index: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    /// The captured bytes (possibly cut short by the snaplen).
    pub data: &'a [u8],
    /// The packet's length on the wire, as the capture records it.
    pub wire_len: u32,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
}

/// Container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Pcap,
    PcapNanos,
    Pcapng,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Pcap => "pcap",
            Format::PcapNanos => "pcap (nanosecond)",
            Format::Pcapng => "pcapng",
        })
    }
}

/// Something wrong in a capture that did not stop its analysis: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Frame number the note is about, if it concerns one.
    pub frame: Option<u64>,
    /// Byte offset in the (decompressed) file.
    pub offset: Option<u64>,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.frame, self.offset) {
            (Some(fr), Some(off)) => write!(f, "frame {fr} (byte {off}): {}", self.message),
            (Some(fr), None) => write!(f, "frame {fr}: {}", self.message),
            (None, Some(off)) => write!(f, "byte {off}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// Why a file could not be analysed at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("not a capture file ({0}); bttrace reads pcap and pcapng, optionally gzip-compressed")]
    NotACapture(String),
    #[error("{0}-compressed file: decompress it first (bttrace reads gzip itself)")]
    OtherCompression(&'static str),
    #[error("{0} capture format is not supported; convert it to pcapng with editcap")]
    OtherFormat(&'static str),
    #[error("unsupported {format} version {major}.{minor}")]
    Version {
        format: &'static str,
        major: u16,
        minor: u16,
    },
    #[error("file ends inside the {0} file header")]
    ShortHeader(&'static str),
    #[error("byte {offset}: {message}")]
    BadHeader { offset: u64, message: String },
}

/// What the reader learnt about the file itself.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureInfo {
    pub format: Format,
    pub gzip: bool,
    /// Link types of the file (pcap) or of its interfaces (pcapng), in order of appearance.
    pub link_types: Vec<LinkType>,
}

enum Kind {
    Pcap(pcap::PcapState),
    Pcapng(pcapng::NgState),
}

/// Streams frames out of one capture file.
pub struct CaptureReader {
    src: ByteSource,
    kind: Kind,
    info: CaptureInfo,
    notes: Vec<Note>,
    frames: u64,
    /// Set once a note has ended the input.
    done: bool,
}

impl CaptureReader {
    /// Opens a capture file, detecting its format (and gzip) from its first bytes. A file of
    /// [`PREFETCH_MIN`] bytes or more is read ahead by a thread of its own.
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        CaptureReader::open_with(path, GzipBound::default())
    }

    /// [`open`](CaptureReader::open) with a bound on how far a gzip stream may expand.
    pub fn open_with(path: &Path, bound: GzipBound) -> Result<CaptureReader, CaptureError> {
        let file = File::open(path)?;
        let large = file.metadata().is_ok_and(|m| m.len() >= PREFETCH_MIN);
        CaptureReader::from_read_ahead(Box::new(file), large, bound)
    }

    /// [`open_with`](CaptureReader::open_with), waiting at most `wait` for a FIFO's first
    /// bytes ([`open_input`]).
    pub fn open_waiting(
        path: &Path,
        bound: GzipBound,
        wait: std::time::Duration,
    ) -> Result<CaptureReader, CaptureError> {
        let file = open_input(path, wait)?;
        let large = file.metadata().is_ok_and(|m| m.len() >= PREFETCH_MIN);
        CaptureReader::from_read_ahead(Box::new(file), large, bound)
    }

    /// Reads a capture held in memory (tests, fuzzing).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_read(Box::new(io::Cursor::new(bytes)))
    }

    /// Reads a capture from any byte stream.
    pub fn from_read(input: Box<dyn Read + Send>) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_read_with(input, GzipBound::default())
    }

    /// [`from_read`](CaptureReader::from_read) with a bound on how far gzip may expand.
    pub fn from_read_with(
        input: Box<dyn Read + Send>,
        bound: GzipBound,
    ) -> Result<CaptureReader, CaptureError> {
        CaptureReader::from_read_ahead(input, false, bound)
    }

    /// Reads a capture from any byte stream; with `read_ahead`, a thread reads (and
    /// decompresses) the stream while the caller analyses what came before.
    pub fn from_read_ahead(
        mut input: Box<dyn Read + Send>,
        read_ahead: bool,
        bound: GzipBound,
    ) -> Result<CaptureReader, CaptureError> {
        let mut magic = [0u8; 8];
        let got = read_up_to(&mut input, &mut magic)?;
        let head = magic.get(..got).unwrap_or(&[]);
        let rest: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.to_vec()).chain(input));
        let source = |input, count| {
            if read_ahead {
                ByteSource::prefetching(input, count)
            } else {
                Ok(ByteSource::new(input, count))
            }
        };
        if head.starts_with(&[0x1f, 0x8b]) {
            let count = Arc::new(AtomicU64::new(0));
            let counted = CountingReader::new(rest, Arc::clone(&count));
            let gz = flate2::read::MultiGzDecoder::new(counted);
            let src = source(Box::new(gz), Some(count))?.with_bound(bound);
            return CaptureReader::start(src, true);
        }
        CaptureReader::start(source(rest, None)?, false)
    }

    fn start(mut src: ByteSource, gzip: bool) -> Result<CaptureReader, CaptureError> {
        let head = src.fill(8)?.to_vec();
        let kind = match sniff(&head) {
            Sniffed::Pcap => Kind::Pcap(pcap::PcapState::read_header(&mut src)?),
            Sniffed::Pcapng => Kind::Pcapng(pcapng::NgState::new()),
            Sniffed::Compressed(name) => return Err(CaptureError::OtherCompression(name)),
            Sniffed::Other(name) => return Err(CaptureError::OtherFormat(name)),
            Sniffed::Unknown => {
                if gzip && head.is_empty() {
                    if let Some(d) = src.damage() {
                        return Err(CaptureError::NotACapture(format!(
                            "gzip stream unreadable: {}",
                            d.message
                        )));
                    }
                }
                return Err(CaptureError::NotACapture(describe_prefix(&head)));
            }
        };
        let mut reader = CaptureReader {
            src,
            info: CaptureInfo {
                format: match &kind {
                    Kind::Pcap(p) if p.nanos => Format::PcapNanos,
                    Kind::Pcap(_) => Format::Pcap,
                    Kind::Pcapng(_) => Format::Pcapng,
                },
                gzip,
                link_types: Vec::new(),
            },
            kind,
            notes: Vec::new(),
            frames: 0,
            done: false,
        };
        match &mut reader.kind {
            Kind::Pcap(p) => {
                reader.info.link_types.push(p.link);
                reader.notes.append(&mut p.header_notes);
            }
            Kind::Pcapng(ng) => {
                // The first block must be a readable section header.
                ng.read_first_section(&mut reader.src, &mut reader.notes)?;
                reader.info.link_types = ng.link_types_seen();
            }
        }
        Ok(reader)
    }

    pub fn info(&self) -> &CaptureInfo {
        &self.info
    }

    /// Notes gathered so far (header oddities, where and why the input ended early).
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// Frames delivered so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// The next frame, or `None` at the end of the input (clean or not: see [`notes`]).
    ///
    /// Errors are only those of the file system itself; format problems become notes.
    ///
    /// [`notes`]: CaptureReader::notes
    pub fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        if self.done {
            return Ok(None);
        }
        let index = self.frames + 1;
        let step = match &mut self.kind {
            Kind::Pcap(p) => p.next_record(&mut self.src, index)?,
            Kind::Pcapng(ng) => ng.next_packet(&mut self.src, index, &mut self.notes)?,
        };
        match step {
            Step::Frame(rec) => {
                self.frames = index;
                if let Kind::Pcapng(ng) = &self.kind {
                    if ng.link_types_changed {
                        self.info.link_types = ng.link_types_seen();
                    }
                }
                let data = self
                    .src
                    .available()
                    .get(rec.data_start..rec.data_start + rec.caplen)
                    .unwrap_or(&[]);
                Ok(Some(Frame {
                    index,
                    ts: rec.ts,
                    link: rec.link,
                    data,
                    wire_len: rec.wire_len,
                    offset: rec.offset,
                }))
            }
            Step::End(note) => {
                self.done = true;
                // A record cut by the gzip bound is the bound's doing, said below.
                if let Some(note) = note.filter(|_| self.src.expanded().is_none()) {
                    self.notes.push(note);
                }
                if let Some(x) = self.src.expanded() {
                    self.notes.push(Note {
                        frame: None,
                        offset: Some(x.decompressed),
                        message: format!(
                            "the gzip stream expanded to {} bytes from {} compressed bytes, beyond \
                             the bound of {} times (past the first {} MiB) that keeps a \
                             decompression bomb from running for hours: reading stopped there; \
                             analysed the {} frames before it (--gzip-ratio raises the bound, 0 \
                             lifts it)",
                            x.decompressed,
                            x.compressed,
                            x.bound.ratio,
                            x.bound.free >> 20,
                            self.frames
                        ),
                    });
                }
                if let Some(d) = self.src.damage() {
                    let at = d
                        .compressed_offset
                        .map(|c| format!(" after {c} compressed bytes"))
                        .unwrap_or_default();
                    self.notes.push(Note {
                        frame: None,
                        offset: Some(d.decompressed_offset),
                        message: format!(
                            "gzip stream damaged or cut off{at} ({}); analysed the {} frames before it",
                            d.message, self.frames
                        ),
                    });
                }
                Ok(None)
            }
        }
    }
}

/// Where the next frame lies in the source's buffer; the reader consumes the record on the
/// following call, so the frame can borrow it meanwhile.
pub(crate) struct Record {
    pub data_start: usize,
    pub caplen: usize,
    pub wire_len: u32,
    pub ts: Timestamp,
    pub link: LinkType,
    pub offset: u64,
}

pub(crate) enum Step {
    Frame(Record),
    /// The input ended; with a note when it ended early.
    End(Option<Note>),
}

enum Sniffed {
    Pcap,
    Pcapng,
    Compressed(&'static str),
    Other(&'static str),
    Unknown,
}

fn sniff(head: &[u8]) -> Sniffed {
    const PCAP_MAGICS: [[u8; 4]; 4] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    match head {
        [a, b, c, d, ..] if PCAP_MAGICS.contains(&[*a, *b, *c, *d]) => Sniffed::Pcap,
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => Sniffed::Pcapng,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Sniffed::Compressed("zstd"),
        [b'B', b'Z', b'h', ..] => Sniffed::Compressed("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Sniffed::Compressed("xz"),
        [b'P', b'K', 3, 4, ..] => Sniffed::Compressed("zip"),
        [b's', b'n', b'o', b'o', b'p', 0, 0, 0, ..] => Sniffed::Other("Solaris snoop"),
        // Sun/NetXRay/Network Monitor files are rare in this field; they fall to `Unknown`.
        _ => Sniffed::Unknown,
    }
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let Some(dst) = buf.get_mut(got..) else { break };
        match r.read(dst) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Expands files and directories (recursively, in sorted order) into the capture files to
/// analyse. Directories contribute every regular file except Glasnost `.log` files and hidden
/// files; files named explicitly are always taken. See [`walk_inputs`] for the same without
/// holding the whole list.
pub fn expand_inputs(inputs: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, io::Error)>> {
    walk_inputs(inputs).collect()
}

/// The files of [`expand_inputs`], one at a time: memory holds the listings of the
/// directories being walked (one per level) and one identity (device, inode) per directory
/// walked, not the whole tree, so an archive of any number of files can be walked.
///
/// Symbolic links are followed, and every file is taken once:
/// - a link to a directory or file inside a named directory is skipped: what it points to is
///   taken by its own path (a link to `.`, or a second name for a folder of the archive);
/// - a link back to a directory being walked (a loop: `..`, or a link to an ancestor) and a
///   directory already walked through another link are skipped;
/// - a link to another file system (`/proc`, whose `N/cwd` links lead everywhere) is skipped;
/// - a path that cannot be listed or read (too long, no permission) is an error entry.
///
/// Each skipped path and why goes to [`InputWalk::on_skip`]'s callback (the command line
/// prints it as a warning).
pub fn walk_inputs(inputs: &[PathBuf]) -> InputWalk {
    let roots: Vec<PathBuf> = inputs
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    InputWalk {
        named: Vec::from(inputs).into_iter(),
        current: None,
        roots,
        dirs: std::collections::HashSet::new(),
        linked_files: std::collections::HashSet::new(),
        on_skip: None,
    }
}

/// Iterator of [`walk_inputs`].
pub struct InputWalk {
    named: std::vec::IntoIter<PathBuf>,
    current: Option<walkdir::IntoIter>,
    /// The named directories, canonical.
    roots: Vec<PathBuf>,
    /// Directories walked, by (device, inode).
    dirs: std::collections::HashSet<(u64, u64)>,
    /// Files reached through a link from outside the named directories, by (device, inode).
    linked_files: std::collections::HashSet<(u64, u64)>,
    on_skip: Option<SkipFn>,
}

/// Told each path the walk skips, and why.
pub type SkipFn = Box<dyn FnMut(&Path, &str)>;

impl InputWalk {
    /// Calls `f` with each path skipped and the reason.
    pub fn on_skip(mut self, f: impl FnMut(&Path, &str) + 'static) -> InputWalk {
        self.on_skip = Some(Box::new(f));
        self
    }

    fn skip(&mut self, p: &Path, why: &str) {
        if let Some(f) = self.on_skip.as_mut() {
            f(p, why);
        }
    }

    fn inside_roots(&self, target: &Path) -> bool {
        self.roots.iter().any(|r| target.starts_with(r))
    }

    /// What to do with a directory entry reached through a link: `Some(reason)` to skip it.
    fn judge_link(&mut self, e: &walkdir::DirEntry) -> Option<&'static str> {
        let target = std::fs::canonicalize(e.path()).ok()?;
        let meta = e.metadata().ok()?;
        if self.inside_roots(&target) {
            return Some(if meta.is_dir() {
                "a link to a directory of the walk (its files are taken by their own path)"
            } else {
                "a link to a file of the walk (taken by its own path)"
            });
        }
        let id = file_id(&meta);
        let parent_dev = e
            .path()
            .parent()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| file_id(&m))
            .map(|(dev, _)| dev);
        if meta.is_dir() && parent_dev.zip(id).is_some_and(|(p, (d, _))| p != d) {
            return Some("a link to another file system");
        }
        if !meta.is_dir() && id.is_some_and(|id| !self.linked_files.insert(id)) {
            return Some("a link to a file already taken");
        }
        None
    }
}

impl Iterator for InputWalk {
    type Item = Result<PathBuf, (PathBuf, io::Error)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(it) = self.current.as_mut() else {
                let p = self.named.next()?;
                if p.is_dir() {
                    let walk = walkdir::WalkDir::new(&p)
                        .follow_links(true)
                        .sort_by_file_name()
                        .into_iter();
                    self.current = Some(walk);
                    continue;
                }
                // Files named explicitly are always taken (a missing one fails when read).
                return Some(Ok(p));
            };
            let entry = match it.next() {
                None => {
                    self.current = None;
                    continue;
                }
                Some(Ok(e)) => e,
                Some(Err(err)) => {
                    let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                    if let Some(ancestor) = err.loop_ancestor() {
                        let why = format!("a link back to {} (a loop)", ancestor.display());
                        self.skip(&path, &why);
                        continue;
                    }
                    let e = err
                        .into_io_error()
                        .unwrap_or_else(|| io::Error::other("cannot be walked"));
                    return Some(Err((path, e)));
                }
            };
            if entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.') {
                if entry.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            let is_dir = entry.file_type().is_dir();
            if entry.path_is_symlink() && entry.depth() > 0 {
                if let Some(why) = self.judge_link(&entry) {
                    if is_dir {
                        if let Some(it) = self.current.as_mut() {
                            it.skip_current_dir();
                        }
                    }
                    self.skip(entry.path(), why);
                    continue;
                }
            }
            if is_dir {
                let id = entry.metadata().ok().and_then(|m| file_id(&m));
                if let Some(id) = id {
                    if !self.dirs.insert(id) {
                        if let Some(it) = self.current.as_mut() {
                            it.skip_current_dir();
                        }
                        self.skip(entry.path(), "a directory already walked (through a link)");
                    }
                }
                continue;
            }
            let p = entry.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if entry.file_type().is_file() && (!is_side_file(name) || is_lone_log(p)) {
                return Some(Ok(entry.into_path()));
            }
        }
    }
}

/// How long [`open_input`] waits for a FIFO's writer by default.
pub const FIFO_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens an input for reading. A FIFO (a named pipe, `<(zcat x.gz)`) is opened without
/// waiting for a writer, then given `wait` to bring its first bytes (or to close): a FIFO
/// nobody writes to is an error after that, not a batch blocked for ever.
pub fn open_input(path: &Path, wait: std::time::Duration) -> io::Result<File> {
    #[cfg(unix)]
    {
        use rustix::event::{PollFd, PollFlags, Timespec};
        use rustix::fs::OFlags;
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        if std::fs::metadata(path)?.file_type().is_fifo() {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(OFlags::NONBLOCK.bits() as i32)
                .open(path)?;
            let timeout = Timespec {
                tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: wait.subsec_nanos().into(),
            };
            let mut fds = [PollFd::new(&f, PollFlags::IN)];
            let ready = rustix::event::poll(&mut fds, Some(&timeout))?;
            if ready == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "a FIFO that nothing wrote to in {} s (--fifo-wait)",
                        wait.as_secs_f64()
                    ),
                ));
            }
            // Blocking reads from here on: the writer is there.
            let flags = rustix::fs::fcntl_getfl(&f)?;
            rustix::fs::fcntl_setfl(&f, flags - OFlags::NONBLOCK)?;
            return Ok(f);
        }
    }
    let _ = wait;
    File::open(path)
}

/// Whether [`walk_inputs`] on `inputs` could read `path` as an input: it is one of them (the
/// same file by another name included), or a file it would take inside one of the named
/// directories. An output for which this holds would overwrite what is being read.
pub fn among_inputs(path: &Path, inputs: &[PathBuf]) -> bool {
    let id = std::fs::metadata(path).ok().and_then(|m| file_id(&m));
    let same = |p: &PathBuf| {
        p == path
            || id.is_some_and(|id| std::fs::metadata(p).ok().and_then(|m| file_id(&m)) == Some(id))
    };
    if inputs.iter().any(same) {
        return true;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || is_side_file(name) {
        return false;
    }
    // The output's folder, canonical (the file itself may not exist yet).
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(parent) = std::fs::canonicalize(parent) else {
        return false;
    };
    inputs
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .any(|root| parent.starts_with(root))
}

/// A file's (device, inode): what tells two names of one file apart from two files.
#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// A Glasnost log whose capture is not beside it: analysed alone.
fn is_lone_log(p: &Path) -> bool {
    let Some(stem) = p
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".log"))
    else {
        return false;
    };
    let stems = std::iter::once(stem.to_string()).chain(crate::glasnost::names::near_stems(stem));
    !stems.into_iter().any(|stem| {
        ["dump", "dump.gz", "pcap", "pcap.gz", "pcapng", "pcapng.gz"]
            .iter()
            .any(|ext| p.with_file_name(format!("{stem}.{ext}")).is_file())
    })
}

/// Files that sit beside captures in Glasnost archives and are not captures themselves.
pub(crate) fn is_side_file(name: &str) -> bool {
    name.ends_with(".log")
        || name.ends_with(".log.gz")
        || name.ends_with(".md")
        || name.ends_with(".txt")
        || name.ends_with(".tsv")
        || name.ends_with(".json")
        || name.ends_with(".csv")
        || name.ends_with(".html")
        || name.ends_with(".svg")
}

#[cfg(test)]
mod tests;
