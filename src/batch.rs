//! Many captures: analysed in parallel across cores, reported in input order.
//!
//! Files are taken in windows of a few per thread; each window is analysed in parallel while
//! the reports of the window before are handed on in order, so memory holds at most two
//! windows of reports however many files a batch has.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;

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
/// without listing the whole tree first). At most two windows of files and reports are held.
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
    let analyse = |chunk: &[Entry]| -> Vec<CaptureReport> {
        pool.install(|| {
            chunk
                .par_iter()
                .map(|entry| match entry {
                    Ok(path) => analyze_file(path, opts),
                    Err((path, e)) => CaptureReport::failed(
                        path.display().to_string(),
                        format!("cannot read: {e}"),
                    ),
                })
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
    let mut next_chunk = move || -> Option<Vec<Entry>> {
        files.peek()?;
        Some(files.by_ref().take(window).collect())
    };
    let mut ready = next_chunk().map(|c| analyse(&c));
    while let Some(reports) = ready.take() {
        let next = next_chunk();
        ready = std::thread::scope(|s| -> io::Result<Option<Vec<CaptureReport>>> {
            let worker = next.as_deref().map(|chunk| s.spawn(move || analyse(chunk)));
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
