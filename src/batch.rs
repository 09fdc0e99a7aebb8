//! Many captures: analysed in parallel across cores, reported in input order.
//!
//! Files (and archives' members, see [`crate::archive`]) are analysed a few per thread at a
//! time, with at most [`WINDOW_BYTES`] of members held in memory, and each report is handed on
//! as soon as it and every one before it are done, so memory holds at most one window of
//! inputs and reports however many files a batch has, and a capture's result goes out as soon
//! as order allows.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::mpsc;

use crate::analyze::{self, LogSource, Options, analyze_file};
use crate::archive::{self, ArchiveInputs};
use crate::capture::{CaptureReader, InputWalk, Note, walk_inputs};
use crate::model::CaptureReport;

/// Files per thread in one window.
const WINDOW_PER_THREAD: usize = 4;
/// Bytes of archive members held in memory by one window (a member larger than this is a
/// window of its own).
pub const WINDOW_BYTES: usize = 64 << 20;

/// One thing to analyse.
pub enum Input {
    /// A file on disk (its log read from beside it).
    File(PathBuf),
    /// A path that could not be listed.
    Unreadable(PathBuf, io::Error),
    /// A capture read from an archive, with its log from the same archive if there is one.
    Capture {
        name: String,
        bytes: Vec<u8>,
        log: Option<(String, Vec<u8>)>,
        notes: Vec<Note>,
    },
    /// A log read from an archive without its capture: analysed alone.
    Log {
        name: String,
        bytes: Vec<u8>,
        notes: Vec<Note>,
    },
    /// Analysed already (a large member, streamed) or failed (a damaged archive).
    Done(Box<CaptureReport>),
    /// A remark about the inputs that is no capture's (members skipped in an archive).
    Notice(String),
}

impl Input {
    /// Bytes it holds in memory.
    fn held(&self) -> usize {
        match self {
            Input::Capture { bytes, log, .. } => {
                bytes.len() + log.as_ref().map_or(0, |(_, l)| l.len())
            }
            Input::Log { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }

    /// The name its report will have.
    fn name(&self) -> String {
        match self {
            Input::File(p) | Input::Unreadable(p, _) => p.display().to_string(),
            Input::Capture { name, .. } | Input::Log { name, .. } => name.clone(),
            Input::Done(r) => r.path.clone(),
            Input::Notice(_) => String::new(),
        }
    }

    /// Its report (`None` for a notice).
    fn analyse(self, opts: &Options) -> Option<CaptureReport> {
        Some(match self {
            Input::File(path) => analyze_file(&path, opts),
            Input::Unreadable(path, e) => {
                CaptureReport::failed(path.display().to_string(), format!("cannot read: {e}"))
            }
            Input::Capture {
                name,
                bytes,
                log,
                mut notes,
            } => {
                let log = log.and_then(|(log_name, l)| {
                    archive::parse_log(&log_name, &l, &mut notes)
                        .map(|g| (PathBuf::from(log_name), g))
                });
                let mut r = match CaptureReader::from_read_with(
                    Box::new(io::Cursor::new(bytes)),
                    opts.gzip,
                ) {
                    Ok(reader) => {
                        analyze::analyze_reader_with(name, reader, opts, LogSource::Given(log))
                    }
                    Err(e) => CaptureReport::failed(name, e.to_string()),
                };
                r.notes.extend(notes);
                r
            }
            Input::Log {
                name,
                bytes,
                mut notes,
            } => match archive::parse_log(&name, &bytes, &mut notes) {
                Some(log) => analyze::analyze_parsed_log(name, log, notes, opts),
                None => CaptureReport::failed(name, "cannot read the log".into()),
            },
            Input::Done(r) => *r,
            Input::Notice(_) => return None,
        })
    }
}

/// Everything under `paths` to analyse, in order: files, directories walked, archives' members
/// (archives found in directories too).
pub fn inputs(paths: &[PathBuf], opts: &Options) -> Inputs {
    inputs_from(walk_inputs(paths), opts)
}

/// [`inputs`] from a walk already made (one that reports what it skips, say).
pub fn inputs_from(walk: InputWalk, opts: &Options) -> Inputs {
    Inputs {
        walk,
        archive: None,
        opts: *opts,
    }
}

/// Iterator of [`inputs`].
pub struct Inputs {
    walk: InputWalk,
    archive: Option<ArchiveInputs>,
    opts: Options,
}

impl Iterator for Inputs {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            if let Some(a) = self.archive.as_mut() {
                match a.next() {
                    Some(i) => return Some(i),
                    None => self.archive = None,
                }
            }
            match self.walk.next()? {
                Ok(p) if archive::is_archive_path(&p) => {
                    self.archive = Some(ArchiveInputs::open(p, &self.opts));
                }
                Ok(p) => return Some(Input::File(p)),
                Err((p, e)) => return Some(Input::Unreadable(p, e)),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub analysed: usize,
    pub failed: usize,
}

/// Analyses every capture under `paths` (files, directories walked recursively, archives'
/// members) and hands each report to `each`, in input order. `threads` 0 means one per core.
pub fn run(
    paths: &[PathBuf],
    opts: &Options,
    threads: usize,
    each: impl FnMut(CaptureReport) -> io::Result<()>,
) -> io::Result<Totals> {
    run_files(inputs(paths, opts), opts, threads, each, |_| {})
}

/// [`run`] on inputs from any source, in the order given ([`inputs`] walks directories
/// without listing the whole tree first). Notices (no capture's) go to `notice`.
///
/// Each report is handed on as soon as it and every one before it are done: a long capture
/// holds back only the reports after it, never one before, and an interrupted batch has
/// handed on everything finished in order. At most a window of inputs is in flight (being
/// analysed, or done and waiting for one before it), holding at most [`WINDOW_BYTES`] of
/// archive members (a larger member is alone in flight).
pub fn run_files(
    files: impl Iterator<Item = Input>,
    opts: &Options,
    threads: usize,
    mut each: impl FnMut(CaptureReport) -> io::Result<()>,
    mut notice: impl FnMut(String),
) -> io::Result<Totals> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(thread_bound(threads))
        .build()
        .map_err(io::Error::other)?;
    let window = pool.current_num_threads().max(1) * WINDOW_PER_THREAD;
    let opts = *opts;
    let (tx, rx) = mpsc::channel::<(usize, Option<CaptureReport>, usize)>();
    let mut files = files;
    let mut waiting: BTreeMap<usize, Option<CaptureReport>> = BTreeMap::new();
    let (mut started, mut handed) = (0usize, 0usize);
    // Bytes of archive members held by the inputs in flight.
    let mut held = 0usize;
    let mut totals = Totals::default();
    loop {
        while started - handed < window && held < WINDOW_BYTES {
            let Some(input) = files.next() else { break };
            if let Input::Notice(n) = input {
                notice(n);
                continue;
            }
            let bytes = input.held();
            held += bytes;
            let tx = tx.clone();
            let i = started;
            pool.spawn(move || {
                let _ = tx.send((i, analyse_input(input, &opts), bytes));
            });
            started += 1;
        }
        if started == handed {
            return Ok(totals);
        }
        let (i, r, bytes) = rx
            .recv()
            .map_err(|_| io::Error::other("the workers stopped"))?;
        held -= bytes;
        waiting.insert(i, r);
        while let Some(r) = waiting.remove(&handed) {
            handed += 1;
            let Some(r) = r else { continue };
            if r.error.is_some() {
                totals.failed += 1;
            } else {
                totals.analysed += 1;
            }
            each(r)?;
        }
    }
}

/// One input's report (`None` for a notice); a panic in the analysis (a bug: it must not
/// happen on any input) is that capture's failure, not the batch's end.
fn analyse_input(input: Input, opts: &Options) -> Option<CaptureReport> {
    let name = input.name();
    let run = std::panic::AssertUnwindSafe(|| input.analyse(opts));
    std::panic::catch_unwind(run).unwrap_or_else(|_| {
        Some(CaptureReport::failed(
            name,
            "internal error: the analysis panicked".to_string(),
        ))
    })
}
/// Most worker threads per core: more than this only costs their start-up (`-j 100000` took
/// over a minute for one small file) and their windows' memory.
pub const THREADS_PER_CORE: usize = 4;

/// `threads` (0: one per core) bounded by [`THREADS_PER_CORE`] times the cores.
pub fn thread_bound(threads: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    threads.min(cores * THREADS_PER_CORE)
}

/// A one-line progress display for a terminal: files done, captures per second, failures.
/// It redraws at most every 100 ms; [`Progress::clear`] erases it before other output.
pub struct Progress<W: Write> {
    w: W,
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
    last_draw: Option<Instant>,
    shown: bool,
}

impl<W: Write> Progress<W> {
    pub fn new(w: W, total: usize) -> Progress<W> {
        Progress {
            w,
            total,
            done: 0,
            failed: 0,
            started: Instant::now(),
            last_draw: None,
            shown: false,
        }
    }

    /// One more file done.
    pub fn advance(&mut self, failed: bool) {
        self.done += 1;
        self.failed += usize::from(failed);
        let now = Instant::now();
        let due = self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if due || self.done == self.total {
            self.last_draw = Some(now);
            self.draw();
        }
    }

    /// The text of the line.
    pub fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        // A total of 0 is unknown (archives are counted as they are read).
        let total = if self.total > 0 {
            format!("/{}", self.total)
        } else {
            String::new()
        };
        format!(
            "{}{total} captures, {rate:.0}/s, {} failed",
            self.done, self.failed
        )
    }

    fn draw(&mut self) {
        let line = self.line();
        // A display that cannot be written is not worth stopping the batch for.
        let _ = write!(self.w, "\r\x1b[K{line}").and_then(|_| self.w.flush());
        self.shown = true;
    }

    /// Erases the line (before other output, and at the end).
    pub fn clear(&mut self) {
        if self.shown {
            let _ = write!(self.w, "\r\x1b[K").and_then(|_| self.w.flush());
            self.shown = false;
        }
    }

    /// Draws the line again after [`Progress::clear`].
    pub fn redraw(&mut self) {
        if self.done > 0 {
            self.draw();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_files_and_failures_and_erases_itself() {
        let mut out = Vec::new();
        {
            let mut p = Progress::new(&mut out, 3);
            p.advance(false);
            p.advance(true);
            p.advance(false);
            assert!(p.line().starts_with("3/3 captures, "), "{}", p.line());
            assert!(p.line().ends_with(", 1 failed"), "{}", p.line());
            p.clear();
        }
        let text = String::from_utf8(out).unwrap();
        // The first file and the last are always drawn; the line is erased at the end.
        assert!(text.contains("1/3 captures"), "{text:?}");
        assert!(text.contains("3/3 captures"), "{text:?}");
        assert!(text.ends_with("\r\x1b[K"), "{text:?}");
    }
}
