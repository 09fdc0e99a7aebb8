//! Archives as input: `.tar`, `.tar.gz` and `.tgz` files (M-Lab keeps one per tool, server and
//! day), their members streamed with no extraction to disk.
//!
//! A thread reads the archive (the `tar` crate over `flate2`'s gzip decoder) and hands the
//! members on in archive order through a bounded channel. Each member is named
//! `archive.tgz!path/inside` in every report, note and error.
//!
//! **Pairing with bounded memory.** A capture's log is another member of the same archive,
//! named like it (`x.dump.gz`, `x.dump`, `x.pcap` go with `x.log` in the same folder; M-Lab
//! names may differ by one second, as M-Lab's log and dump of one test sometimes do), but a
//! tar need not hold the two side by side, nor in either order (M-Lab's sorted names put
//! `x.dump.gz` just before `x.log`). So:
//! - a log whose capture has not come yet is held (logs are a few kilobytes; each is read up to
//!   16 MiB, all held logs together up to [`HELD_LOGS_BYTES`]; past that a log is analysed
//!   alone at once, with a note);
//! - a capture of up to [`IN_MEMORY`] bytes (as stored, so a `.dump.gz` compressed) whose log
//!   has not come yet is held, up to [`HELD_CAPTURES_BYTES`] for all of them; when they reach
//!   that, the oldest is analysed without a log. A log that comes after its capture was
//!   analysed is analysed alone, with a note saying why;
//! - a larger capture is analysed as it streams (on the reading thread, not held), with its log
//!   if that came before it;
//! - at the end of the archive, held captures are analysed without a log and held logs alone.
//!
//! Members held in memory are analysed in parallel like files; the batch's windows are bounded
//! by their bytes too ([`crate::batch`]). Memory is therefore bounded whatever the archive's
//! size: about two windows, the held members and the channel.
//!
//! **Damage.** A member that cannot be read (a truncated or corrupt archive) is a failed report
//! named after the member; the archive then stops (a tar cannot be resynchronised), reported as
//! one more failed report named after the archive, and the other inputs still run. An archive
//! that ends without tar's end marker is reported as truncated. Members that are neither
//! captures nor logs (`.md`, `.txt`, hidden files, links) are skipped, counted, and named in one
//! note per archive.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::analyze::{self, LogSource, MAX_LOG_BYTES, Options};
use crate::batch::Input;
use crate::capture::{CaptureReader, Note};
use crate::model::CaptureReport;

/// Captures up to this size (as stored) are read into memory and analysed in parallel;
/// larger ones are analysed as they stream.
pub const IN_MEMORY: u64 = 16 << 20;
/// All captures held waiting for their log, together.
pub const HELD_CAPTURES_BYTES: usize = 32 << 20;
/// All logs held waiting for their capture, together.
pub const HELD_LOGS_BYTES: usize = 16 << 20;
/// Names of captures analysed before their log came, remembered to say so when it comes.
const GONE_REMEMBERED: usize = 100_000;
/// Skipped members named in an archive's note (the rest are counted).
const SKIPPED_NAMED: usize = 5;
/// Chunk of a streamed member.
const CHUNK: usize = 1 << 20;

/// Whether a path names an archive read by this module (`.tar`, `.tar.gz`, `.tgz`).
pub fn is_archive_path(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// What a member is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Capture,
    Log,
    Skipped,
}

fn classify(member: &str) -> Class {
    let base = member.rsplit('/').next().unwrap_or(member);
    if base.is_empty() || base.starts_with('.') {
        Class::Skipped
    } else if base.ends_with(".log") {
        Class::Log
    } else if crate::capture::is_side_file(base) {
        Class::Skipped
    } else {
        Class::Capture
    }
}

/// The name a capture and its log share: the member's path without its extension (and
/// without `.gz` first), as [`crate::glasnost::log_path_for`] pairs loose files.
fn pair_key(member: &str) -> String {
    let name = member.strip_suffix(".gz").unwrap_or(member);
    let base_at = name.rfind('/').map_or(0, |i| i + 1);
    match name.rfind('.') {
        Some(dot) if dot > base_at => name[..dot].to_string(),
        _ => name.to_string(),
    }
}

/// A pairing key and the keys of M-Lab names a second apart
/// ([`crate::glasnost::names::near_stems`]), the exact one first.
fn with_near(key: &str) -> Vec<String> {
    let mut keys = vec![key.to_string()];
    keys.extend(crate::glasnost::names::near_stems(key));
    keys
}

/// What the reading thread hands on.
enum Msg {
    /// A member read whole.
    Whole {
        name: String,
        class: Class,
        bytes: Vec<u8>,
        notes: Vec<Note>,
    },
    /// A large capture, its bytes following through `body`.
    Stream {
        name: String,
        body: Receiver<io::Result<Vec<u8>>>,
    },
    /// A member that could not be read.
    Failed {
        name: String,
        error: String,
    },
    Skipped {
        name: String,
    },
    /// The archive itself could not be read on.
    ArchiveError(String),
}

/// Counts the bytes the tar reader takes from the decompressed stream.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open_stream(path: &Path) -> io::Result<Box<dyn Read>> {
    let file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let name = path.to_string_lossy().to_ascii_lowercase();
    Ok(if name.ends_with(".tar") {
        Box::new(file)
    } else {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    })
}

/// The reading thread: every member in archive order, until the end or the first damage.
fn read_archive(path: &Path, display: &str, tx: &SyncSender<Msg>) {
    let member = |inside: &str| format!("{display}!{inside}");
    let stream = match open_stream(path) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Msg::ArchiveError(format!("cannot read: {e}")));
            return;
        }
    };
    let count = Arc::new(AtomicU64::new(0));
    let mut archive = tar::Archive::new(Counted {
        inner: stream,
        count: count.clone(),
    });
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            let _ = tx.send(Msg::ArchiveError(format!("not a tar archive: {e}")));
            return;
        }
    };
    let mut members = 0u64;
    // Where the last member's data ended: tar's end marker must follow.
    let mut data_end = 0u64;
    for entry in entries {
        let mut e = match entry {
            Ok(e) => e,
            Err(err) => {
                let _ = tx.send(Msg::ArchiveError(format!(
                    "damaged after {members} members (byte {} of the tar): {err}",
                    count.load(Ordering::Relaxed)
                )));
                return;
            }
        };
        members += 1;
        let size = e.size();
        data_end = e.raw_file_position() + size.div_ceil(512) * 512;
        let inside = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let kind = e.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let name = member(&inside);
        let class = if kind.is_file() || kind.is_contiguous() {
            classify(&inside)
        } else {
            Class::Skipped
        };
        let sent = match class {
            Class::Skipped => tx.send(Msg::Skipped { name }),
            Class::Capture if size > IN_MEMORY => {
                let (dtx, body) = sync_channel(4);
                if tx.send(Msg::Stream { name, body }).is_err() {
                    return;
                }
                let mut left = size;
                while left > 0 {
                    let mut chunk = vec![0; CHUNK.min(left as usize)];
                    match e.read_exact(&mut chunk) {
                        Ok(()) => {
                            left -= chunk.len() as u64;
                            if dtx.send(Ok(chunk)).is_err() {
                                break; // the analysis stopped reading
                            }
                        }
                        Err(err) => {
                            let _ = dtx.send(Err(damaged(err)));
                            break;
                        }
                    }
                }
                Ok(())
            }
            _ => {
                let cap = if class == Class::Log {
                    MAX_LOG_BYTES
                } else {
                    size
                };
                let mut bytes = Vec::with_capacity(size.min(cap) as usize);
                let mut notes = Vec::new();
                match e.by_ref().take(cap).read_to_end(&mut bytes) {
                    Ok(_) if (bytes.len() as u64) < size.min(cap) => tx.send(Msg::Failed {
                        name,
                        error: format!(
                            "the archive ends inside this member (byte {} of {size})",
                            bytes.len()
                        ),
                    }),
                    Ok(_) => {
                        if size > cap {
                            notes.push(Note {
                                frame: None,
                                offset: Some(cap),
                                message: format!(
                                    "the log {name} is longer than {} MiB: read that far",
                                    cap >> 20
                                ),
                            });
                        }
                        tx.send(Msg::Whole {
                            name,
                            class,
                            bytes,
                            notes,
                        })
                    }
                    Err(err) => tx.send(Msg::Failed {
                        name,
                        error: damaged(err).to_string(),
                    }),
                }
            }
        };
        if sent.is_err() {
            return;
        }
    }
    drop(archive);
    let read = count.load(Ordering::Relaxed);
    if members == 0 || read < data_end + 512 {
        let _ = tx.send(Msg::ArchiveError(format!(
            "truncated: the archive ends after {members} members without tar's end marker"
        )));
    }
}

fn damaged(err: io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        format!("the archive is damaged in this member: {err}"),
    )
}

/// A streamed member as a reader.
struct ChannelReader {
    body: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.body.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let rest = self.chunk.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// A log member waiting for its capture.
struct HeldLog {
    seq: u64,
    name: String,
    bytes: Vec<u8>,
    notes: Vec<Note>,
}

/// A capture member waiting for its log.
struct HeldCapture {
    key: String,
    name: String,
    bytes: Vec<u8>,
    notes: Vec<Note>,
}

/// The members of one archive as batch inputs, captures paired with their logs.
pub struct ArchiveInputs {
    display: String,
    opts: Options,
    rx: Option<Receiver<Msg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    ready: VecDeque<Input>,
    logs: HashMap<String, HeldLog>,
    logs_bytes: usize,
    captures: VecDeque<HeldCapture>,
    captures_bytes: usize,
    /// Captures analysed before their log came (keys).
    gone: HashSet<String>,
    seq: u64,
    skipped: u64,
    skipped_names: Vec<String>,
}

impl ArchiveInputs {
    /// Starts reading `path`; it is named as the user gave it.
    pub fn open(path: PathBuf, opts: &Options) -> ArchiveInputs {
        let display = path.display().to_string();
        let (tx, rx) = sync_channel(2);
        let shown = display.clone();
        let thread = std::thread::Builder::new()
            .name("archive".into())
            .spawn(move || read_archive(&path, &shown, &tx));
        let (rx, thread, ready) = match thread {
            Ok(t) => (Some(rx), Some(t), VecDeque::new()),
            Err(e) => (
                None,
                None,
                VecDeque::from([Input::Done(Box::new(CaptureReport::failed(
                    display.clone(),
                    format!("cannot start reading: {e}"),
                )))]),
            ),
        };
        ArchiveInputs {
            display,
            opts: *opts,
            rx,
            thread,
            ready,
            logs: HashMap::new(),
            logs_bytes: 0,
            captures: VecDeque::new(),
            captures_bytes: 0,
            gone: HashSet::new(),
            seq: 0,
            skipped: 0,
            skipped_names: Vec::new(),
        }
    }

    fn remember_gone(&mut self, key: String) {
        if self.gone.len() < GONE_REMEMBERED {
            self.gone.insert(key);
        }
    }

    /// The held log of a capture whose pairing key is `key` (or an M-Lab name a second
    /// apart).
    fn take_log(&mut self, key: &str) -> Option<HeldLog> {
        let found = with_near(key)
            .into_iter()
            .find(|k| self.logs.contains_key(k))?;
        self.logs.remove(&found)
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Whole {
                name,
                class: Class::Log,
                bytes,
                mut notes,
            } => {
                let key = pair_key(&name);
                let keys = with_near(&key);
                if let Some(i) = self.captures.iter().position(|c| keys.contains(&c.key)) {
                    let c = self.captures.remove(i).unwrap_or_else(|| unreachable!());
                    self.captures_bytes -= c.bytes.len();
                    let mut all = c.notes;
                    all.append(&mut notes);
                    self.ready.push_back(Input::Capture {
                        name: c.name,
                        bytes: c.bytes,
                        log: Some((name, bytes)),
                        notes: all,
                    });
                } else if keys.iter().any(|k| self.gone.remove(k)) {
                    notes.push(Note {
                        frame: None,
                        offset: None,
                        message: "its capture came earlier in the archive and was analysed \
                                  before this log came (too much lay between them): the log is \
                                  analysed alone"
                            .into(),
                    });
                    self.ready.push_back(Input::Log { name, bytes, notes });
                } else if self.logs_bytes + bytes.len() > HELD_LOGS_BYTES {
                    notes.push(Note {
                        frame: None,
                        offset: None,
                        message: format!(
                            "the logs waiting for their captures reached {} MiB: this one is \
                             analysed alone, and its capture, if it comes, without it",
                            HELD_LOGS_BYTES >> 20
                        ),
                    });
                    self.ready.push_back(Input::Log { name, bytes, notes });
                } else {
                    self.logs_bytes += bytes.len();
                    self.seq += 1;
                    let held = HeldLog {
                        seq: self.seq,
                        name,
                        bytes,
                        notes,
                    };
                    if let Some(old) = self.logs.insert(key, held) {
                        // Two members of the same name: the first is analysed alone.
                        self.logs_bytes -= old.bytes.len();
                        self.ready.push_back(Input::Log {
                            name: old.name,
                            bytes: old.bytes,
                            notes: old.notes,
                        });
                    }
                }
            }
            Msg::Whole {
                name, bytes, notes, ..
            } => {
                let key = pair_key(&name);
                if let Some(l) = self.take_log(&key) {
                    self.logs_bytes -= l.bytes.len();
                    let mut all = notes;
                    all.extend(l.notes);
                    self.ready.push_back(Input::Capture {
                        name,
                        bytes,
                        log: Some((l.name, l.bytes)),
                        notes: all,
                    });
                    return;
                }
                self.captures_bytes += bytes.len();
                self.captures.push_back(HeldCapture {
                    key,
                    name,
                    bytes,
                    notes,
                });
                while self.captures_bytes > HELD_CAPTURES_BYTES {
                    let Some(c) = self.captures.pop_front() else {
                        break;
                    };
                    self.captures_bytes -= c.bytes.len();
                    self.remember_gone(c.key);
                    self.ready.push_back(Input::Capture {
                        name: c.name,
                        bytes: c.bytes,
                        log: None,
                        notes: c.notes,
                    });
                }
            }
            Msg::Stream { name, body } => {
                let key = pair_key(&name);
                let mut notes = Vec::new();
                let log = self.take_log(&key).and_then(|l| {
                    self.logs_bytes -= l.bytes.len();
                    notes.extend(l.notes);
                    parse_log(&l.name, &l.bytes, &mut notes).map(|g| (PathBuf::from(l.name), g))
                });
                if log.is_none() {
                    self.remember_gone(key);
                }
                let reader = ChannelReader {
                    body,
                    chunk: Vec::new(),
                    at: 0,
                };
                let mut r = match CaptureReader::from_read_with(Box::new(reader), self.opts.gzip) {
                    Ok(reader) => analyze::analyze_reader_with(
                        name,
                        reader,
                        &self.opts,
                        LogSource::Given(log),
                    ),
                    Err(e) => CaptureReport::failed(name, e.to_string()),
                };
                r.notes.extend(notes);
                self.ready.push_back(Input::Done(Box::new(r)));
            }
            Msg::Failed { name, error } => {
                self.ready
                    .push_back(Input::Done(Box::new(CaptureReport::failed(name, error))));
            }
            Msg::Skipped { name } => {
                self.skipped += 1;
                if self.skipped_names.len() < SKIPPED_NAMED {
                    self.skipped_names.push(name);
                }
            }
            Msg::ArchiveError(e) => {
                self.ready
                    .push_back(Input::Done(Box::new(CaptureReport::failed(
                        self.display.clone(),
                        e,
                    ))));
            }
        }
    }

    /// The end of the archive: what is still held is analysed.
    fn flush(&mut self) {
        while let Some(c) = self.captures.pop_front() {
            self.ready.push_back(Input::Capture {
                name: c.name,
                bytes: c.bytes,
                log: None,
                notes: c.notes,
            });
        }
        self.captures_bytes = 0;
        let mut logs: Vec<HeldLog> = self.logs.drain().map(|(_, l)| l).collect();
        logs.sort_by_key(|l| l.seq);
        self.logs_bytes = 0;
        for l in logs {
            self.ready.push_back(Input::Log {
                name: l.name,
                bytes: l.bytes,
                notes: l.notes,
            });
        }
        if self.skipped > 0 {
            let more = self.skipped - self.skipped_names.len() as u64;
            let mut names = self.skipped_names.join(", ");
            if more > 0 {
                names.push_str(&format!(" and {more} more"));
            }
            self.ready.push_back(Input::Notice(format!(
                "{}: {} members skipped, neither captures nor logs: {names}",
                self.display, self.skipped
            )));
        }
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                self.ready
                    .push_back(Input::Done(Box::new(CaptureReport::failed(
                        self.display.clone(),
                        "the archive's reader stopped unexpectedly".into(),
                    ))));
            }
        }
    }
}

/// Parses a log member, with a note when it cannot be.
pub(crate) fn parse_log(
    name: &str,
    bytes: &[u8],
    notes: &mut Vec<Note>,
) -> Option<crate::glasnost::log::GlasnostLog> {
    match analyze::read_log_from(name, bytes, notes) {
        Ok(l) => Some(l),
        Err(e) => {
            notes.push(Note {
                frame: None,
                offset: None,
                message: format!("the log {name} cannot be read: {e}"),
            });
            None
        }
    }
}

impl Iterator for ArchiveInputs {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            if let Some(i) = self.ready.pop_front() {
                return Some(i);
            }
            let rx = self.rx.as_ref()?;
            match rx.recv() {
                Ok(msg) => self.take(msg),
                Err(_) => {
                    self.rx = None;
                    self.flush();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pair_in_their_folder_only() {
        assert_eq!(pair_key("a/x.dump.gz"), "a/x");
        assert_eq!(pair_key("a/x.log"), "a/x");
        assert_eq!(pair_key("a/x.pcap"), "a/x");
        assert_eq!(pair_key("a.b/x"), "a.b/x");
        assert_eq!(
            pair_key("2009/03/01/mlab1.ams01/2009-03-01T12:00:01_1.2.3.4_h.dump.gz"),
            "2009/03/01/mlab1.ams01/2009-03-01T12:00:01_1.2.3.4_h"
        );
        assert_eq!(classify("a/x.log"), Class::Log);
        assert_eq!(classify("a/x.dump.gz"), Class::Capture);
        assert_eq!(classify("a/README.md"), Class::Skipped);
        assert_eq!(classify("a/._x.dump"), Class::Skipped);
        assert!(is_archive_path(Path::new("x/A.TGZ")));
        assert!(is_archive_path(Path::new("x.tar.gz")));
        assert!(!is_archive_path(Path::new("x.dump.gz")));
    }
}
