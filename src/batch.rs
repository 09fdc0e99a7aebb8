//! Many captures: analysed in parallel across cores, reported in input order.
//!
//! Files are analysed a few per thread at a time and each report is handed on as soon as it
//! and every one before it are done, so memory holds at most one window of reports however
//! many files a batch has, and a capture's result goes out as soon as order allows.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::mpsc;

use crate::analyze::{Options, analyze_file};
use crate::capture::walk_inputs;
use crate::model::CaptureReport;

/// Files per thread in one window.
const WINDOW_PER_THREAD: usize = 4;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub analysed: usize,
    pub failed: usize,
}

/// A file to analyse, or a path that could not be listed.
pub type Entry = Result<PathBuf, (PathBuf, io::Error)>;

/// Analyses every capture under `inputs` (files, and directories walked recursively) and
/// hands each report to `each`, in input order. `threads` 0 means one per core.
pub fn run(
    inputs: &[PathBuf],
    opts: &Options,
    threads: usize,
    each: impl FnMut(CaptureReport) -> io::Result<()>,
) -> io::Result<Totals> {
    run_files(walk_inputs(inputs), opts, threads, each)
}

/// [`run`] on files from any source, in the order given ([`walk_inputs`] walks directories
/// without listing the whole tree first).
///
/// Each report is handed on as soon as it and every one before it are done: a long capture
/// holds back only the reports after it, never one before, and an interrupted batch has
/// handed on everything finished in order. At most a window of files is in flight (being
/// analysed, or done and waiting for one before it).
pub fn run_files(
    files: impl Iterator<Item = Entry>,
    opts: &Options,
    threads: usize,
    mut each: impl FnMut(CaptureReport) -> io::Result<()>,
) -> io::Result<Totals> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(thread_bound(threads))
        .build()
        .map_err(io::Error::other)?;
    let window = pool.current_num_threads().max(1) * WINDOW_PER_THREAD;
    let opts = *opts;
    let (tx, rx) = mpsc::channel::<(usize, CaptureReport)>();
    let mut files = files;
    let mut waiting: BTreeMap<usize, CaptureReport> = BTreeMap::new();
    let (mut started, mut handed) = (0usize, 0usize);
    let mut totals = Totals::default();
    loop {
        while started - handed < window {
            let Some(entry) = files.next() else { break };
            let tx = tx.clone();
            let i = started;
            pool.spawn(move || {
                let _ = tx.send((i, analyse_entry(entry, &opts)));
            });
            started += 1;
        }
        if started == handed {
            return Ok(totals);
        }
        let (i, r) = rx
            .recv()
            .map_err(|_| io::Error::other("the workers stopped"))?;
        waiting.insert(i, r);
        while let Some(r) = waiting.remove(&handed) {
            handed += 1;
            if r.error.is_some() {
                totals.failed += 1;
            } else {
                totals.analysed += 1;
            }
            each(r)?;
        }
    }
}

/// One entry's report; a panic in the analysis (a bug: it must not happen on any input) is
/// that capture's failure, not the batch's end.
fn analyse_entry(entry: Entry, opts: &Options) -> CaptureReport {
    let name = match &entry {
        Ok(p) | Err((p, _)) => p.display().to_string(),
    };
    let run = std::panic::AssertUnwindSafe(|| match &entry {
        Ok(path) => analyze_file(path, opts),
        Err((path, e)) => {
            CaptureReport::failed(path.display().to_string(), format!("cannot read: {e}"))
        }
    });
    std::panic::catch_unwind(run).unwrap_or_else(|_| {
        CaptureReport::failed(name, "internal error: the analysis panicked".to_string())
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
        format!(
            "{}/{} captures, {rate:.0}/s, {} failed",
            self.done, self.total, self.failed
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
