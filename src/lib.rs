//! bttrace reads packet captures of BitTorrent-blocking tests and answers, with evidence a
//! skeptic can check: was BitTorrent blocked, was it throttled, and which TCP resets were
//! forged by a middlebox.
//!
//! Data flows one way, file to verdict:
//! [`capture`] (files to frames) → [`wire`] (frames to TCP segments) → [`flows`] (connections,
//! sparse reassembly, statistics) → [`model`] (result records) → [`report`] (text, JSON, CSV,
//! and HTML pages with [`plot`]'s SVG charts).
//! [`analyze_file`] runs the whole pipeline on one file; [`batch`] runs it over many, files
//! and the members of [`archive`]s (`.tar`, `.tar.gz`, `.tgz`) alike.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod archive;
pub mod batch;
pub mod btparse;
mod bytes;
pub mod capture;
pub mod cli;
pub mod community_id;
pub mod flows;
pub mod glasnost;
#[cfg(feature = "live")]
pub mod live;
pub mod model;
pub mod output;
pub mod plot;
pub mod report;
pub mod rst;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
pub mod weekly;
pub mod wire;

pub use analyze::{Options, analyze_bytes, analyze_file};
pub use model::CaptureReport;
