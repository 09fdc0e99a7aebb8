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

/// A one-line progress display for a terminal: files done, captures and bytes per second,
/// failures, the time left, and the file just done. It redraws at most every 100 ms;
/// [`Progress::clear`] erases it before other output.
///
/// Hand-written rather than `indicatif`: the caller decides when it is shown (standard error
/// a terminal and standard output not), a report's warnings are printed between
/// [`Progress::clear`] and the next draw, and [`progress_line`] is a pure function of the
/// counts and the time elapsed, tested as it is. `indicatif` would bring its own drawing
/// thread and terminal detection for one line of text.
pub struct Progress<W: Write> {
    w: W,
    state: ProgressState,
    started: Instant,
    last_draw: Option<Instant>,
    shown: bool,
}

/// What the progress line counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressState {
    /// Files to do; 0 when unknown (archives are counted as they are read).
    pub total: usize,
    /// Bytes of the files to do; 0 when unknown.
    pub total_bytes: u64,
    pub done: usize,
    pub done_bytes: u64,
    pub failed: usize,
    /// The file name of the capture just done.
    pub last: String,
}

/// Longest file name the line shows (its end, after `…`).
const PROGRESS_NAME: usize = 40;

/// The progress line: `12/40 captures, 3.1/s, 18.4 MB/s, 1 failed, 0:09 left, last:
/// x.pcap`. Time left comes from the bytes when their total is known, else from the count
/// of files; rates and time left are left out until something is done.
pub fn progress_line(s: &ProgressState, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let mut parts = vec![if s.total > 0 {
        format!("{}/{} captures", s.done, s.total)
    } else {
        format!("{} captures", s.done)
    }];
    if secs > 0.0 && s.done > 0 {
        parts.push(format!("{:.1}/s", s.done as f64 / secs));
        if s.done_bytes > 0 {
            let per_s = (s.done_bytes as f64 / secs).min(u64::MAX as f64) as u64;
            parts.push(format!("{}/s", crate::report::human_bytes(per_s)));
        }
    }
    parts.push(format!("{} failed", s.failed));
    let share = if s.total_bytes > 0 && s.done_bytes > 0 {
        Some(s.done_bytes as f64 / s.total_bytes as f64)
    } else if s.total > 0 && s.done > 0 {
        Some(s.done as f64 / s.total as f64)
    } else {
        None
    };
    if let Some(share) = share.filter(|f| *f > 0.0 && secs > 0.0) {
        let left = (secs * (1.0 - share.min(1.0)) / share).round();
        if left.is_finite() {
            let left = left as u64;
            parts.push(if left >= 3600 {
                format!(
                    "{}:{:02}:{:02} left",
                    left / 3600,
                    left / 60 % 60,
                    left % 60
                )
            } else {
                format!("{}:{:02} left", left / 60, left % 60)
            });
        }
    }
    if !s.last.is_empty() {
        let n = s.last.chars().count();
        let name: String = if n > PROGRESS_NAME {
            let tail: String = s.last.chars().skip(n - (PROGRESS_NAME - 1)).collect();
            format!("…{tail}")
        } else {
            s.last.clone()
        };
        parts.push(format!("last: {}", crate::report::escape_controls(&name)));
    }
    parts.join(", ")
}

impl<W: Write> Progress<W> {
    /// `total` files (0: unknown) of `total_bytes` bytes (0: unknown).
    pub fn new(w: W, total: usize, total_bytes: u64) -> Progress<W> {
        Progress {
            w,
            state: ProgressState {
                total,
                total_bytes,
                ..ProgressState::default()
            },
            started: Instant::now(),
            last_draw: None,
            shown: false,
        }
    }

    /// One more file done: its path (the line shows its file name) and its size in bytes
    /// (0 when not known, as for an archive's member).
    pub fn advance(&mut self, failed: bool, path: &str, bytes: u64) {
        let s = &mut self.state;
        s.done += 1;
        s.done_bytes = s.done_bytes.saturating_add(bytes);
        s.failed += usize::from(failed);
        s.last = crate::model::file_name(path).to_string();
        let now = Instant::now();
        let due = self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if due || s.done == s.total {
            self.last_draw = Some(now);
            self.draw();
        }
    }

    /// The text of the line.
    pub fn line(&self) -> String {
        progress_line(&self.state, self.started.elapsed())
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
        if self.state.done > 0 {
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
            let mut p = Progress::new(&mut out, 3, 0);
            p.advance(false, "a/one.pcap", 0);
            p.advance(true, "a/two.pcap", 0);
            p.advance(false, "a/three.pcap", 0);
            assert!(p.line().starts_with("3/3 captures, "), "{}", p.line());
            assert!(p.line().contains(", 1 failed"), "{}", p.line());
            assert!(p.line().ends_with(", last: three.pcap"), "{}", p.line());
            p.clear();
        }
        let text = String::from_utf8(out).unwrap();
        // The first file and the last are always drawn; the line is erased at the end.
        assert!(text.contains("1/3 captures"), "{text:?}");
        assert!(text.contains("3/3 captures"), "{text:?}");
        assert!(text.ends_with("\r\x1b[K"), "{text:?}");
    }

    fn state(done: usize, done_bytes: u64) -> ProgressState {
        ProgressState {
            total: 40,
            total_bytes: 400_000_000,
            done,
            done_bytes,
            failed: 1,
            last: "glasnost_2010.dump.gz".to_string(),
        }
    }

    #[test]
    fn the_progress_line_gives_rates_time_left_and_the_file_just_done() {
        // A quarter of the bytes in 10 s: 30 s left, 10 MB/s, 1.0 captures/s.
        assert_eq!(
            progress_line(&state(10, 100_000_000), Duration::from_secs(10)),
            "10/40 captures, 1.0/s, 10.0 MB/s, 1 failed, 0:30 left, last: glasnost_2010.dump.gz"
        );
        // Time left follows the bytes, not the count of files: small files first.
        let l = progress_line(&state(30, 40_000_000), Duration::from_secs(60));
        assert!(l.contains(", 9:00 left"), "{l}");
        // Hours when it is long.
        let l = progress_line(&state(1, 100_000), Duration::from_secs(3));
        assert!(l.contains(", 3:19:57 left"), "{l}");
        // No byte total (sizes unknown): from the count of files.
        let mut s = state(10, 0);
        s.total_bytes = 0;
        let l = progress_line(&s, Duration::from_secs(20));
        assert!(l.contains(", 1:00 left") && !l.contains("B/s"), "{l}");
        // Nothing known of the total (an archive): no time left; nothing done: no rates.
        s.total = 0;
        let l = progress_line(&s, Duration::from_secs(20));
        assert!(l.starts_with("10 captures, 0.5/s, 1 failed, last: "), "{l}");
        let l = progress_line(&ProgressState::default(), Duration::ZERO);
        assert_eq!(l, "0 captures, 0 failed");
        // A long name keeps its end; control characters are escaped.
        s.last = format!("{}\u{1b}[31m.pcap", "x".repeat(100));
        let l = progress_line(&s, Duration::from_secs(20));
        let name = l.rsplit("last: ").next().unwrap();
        assert!(
            name.starts_with('…') && name.ends_with("[31m.pcap"),
            "{name}"
        );
        assert!(!l.contains('\u{1b}'), "{l}");
    }
}
