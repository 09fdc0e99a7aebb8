//! Many captures: analysed in parallel across cores, reported in input order.
//!
//! Files (and archives' members, see [`crate::archive`]) are taken in windows of a few per
//! thread, and of at most [`WINDOW_BYTES`] of members held in memory; each window is analysed
//! in parallel while the reports of the window before are handed on in order, so memory holds
//! at most two windows of reports however many files a batch has.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;

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
    Inputs {
        walk: walk_inputs(paths),
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
/// without listing the whole tree first). At most two windows of inputs and reports are held.
/// Notices (no capture's) go to `notice`.
pub fn run_files(
    files: impl Iterator<Item = Input>,
    opts: &Options,
    threads: usize,
    mut each: impl FnMut(CaptureReport) -> io::Result<()>,
    mut notice: impl FnMut(String),
) -> io::Result<Totals> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(io::Error::other)?;
    let window = pool.current_num_threads().max(1) * WINDOW_PER_THREAD;
    let analyse = |chunk: Vec<Input>| -> Vec<CaptureReport> {
        pool.install(|| {
            chunk
                .into_par_iter()
                .filter_map(|input| input.analyse(opts))
                .collect()
        })
    };
    let mut totals = Totals::default();
    let mut hand_on = |reports: Vec<CaptureReport>| -> io::Result<()> {
        for r in reports {
            if r.error.is_some() {
                totals.failed += 1;
            } else {
                totals.analysed += 1;
            }
            each(r)?;
        }
        Ok(())
    };
    // While the pool analyses one window, this thread hands on the reports of the one before
    // (writing them out is then off the workers' path): at most two windows are held.
    let mut files = files.peekable();
    let mut next_chunk = move || -> Option<Vec<Input>> {
        files.peek()?;
        let mut chunk = Vec::new();
        let mut held = 0;
        while chunk.len() < window && held < WINDOW_BYTES {
            let Some(input) = files.next() else { break };
            if let Input::Notice(n) = input {
                notice(n);
                continue;
            }
            held += input.held();
            chunk.push(input);
        }
        Some(chunk)
    };
    let mut ready = next_chunk().map(analyse);
    while let Some(reports) = ready.take() {
        let next = next_chunk();
        ready = std::thread::scope(|s| -> io::Result<Option<Vec<CaptureReport>>> {
            let worker = next.map(|chunk| s.spawn(move || analyse(chunk)));
            let handed = hand_on(reports);
            let next_reports = match worker {
                Some(w) => Some(
                    w.join()
                        .map_err(|_| io::Error::other("a worker panicked"))?,
                ),
                None => None,
            };
            handed.map(|_| next_reports)
        })?;
    }
    Ok(totals)
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
