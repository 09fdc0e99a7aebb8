//! Many captures: analysed in parallel across cores, reported in input order.
//!
//! Files are taken in windows of a few per thread; each window is analysed in parallel and
//! its reports handed on in order before the next window starts, so memory holds at most one
//! window of reports however many files a batch has.

use std::io;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::analyze::{Options, analyze_file};
use crate::capture::expand_inputs;
use crate::model::CaptureReport;

/// Files per thread in one window.
const WINDOW_PER_THREAD: usize = 4;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub analysed: usize,
    pub failed: usize,
}

/// Analyses every capture under `inputs` (files, and directories walked recursively) and
/// hands each report to `each`, in input order. `threads` 0 means one per core.
pub fn run(
    inputs: &[PathBuf],
    opts: &Options,
    threads: usize,
    mut each: impl FnMut(CaptureReport) -> io::Result<()>,
) -> io::Result<Totals> {
    let files = expand_inputs(inputs);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(io::Error::other)?;
    let window = pool.current_num_threads().max(1) * WINDOW_PER_THREAD;
    let mut totals = Totals::default();
    for chunk in files.chunks(window) {
        let reports: Vec<CaptureReport> = pool.install(|| {
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
        });
        for r in reports {
            if r.error.is_some() {
                totals.failed += 1;
            } else {
                totals.analysed += 1;
            }
            each(r)?;
        }
    }
    Ok(totals)
}
