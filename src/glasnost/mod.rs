//! Glasnost tests: file names, logs, the test matrix, and the verdicts.
pub mod log;
pub mod names;
pub mod verdict;
