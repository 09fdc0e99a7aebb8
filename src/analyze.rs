//! The per-capture pipeline: frames, segments, flows, report. One pass over the file.

use std::path::Path;

use crate::btparse::{self, FlowDecoder};
use crate::capture::{CaptureReader, Note, Timestamp};
use crate::flows::{FlowTable, Limits, PacketRef, TableLimits};
use crate::model::{CaptureReport, FlowJudgement, FlowReport, RetiredFlows, Tally};
use crate::rst::{self, VantageSetting};
use crate::wire::{self, Anomaly, Skip};

/// How to analyse; the defaults are what `bttrace analyze` uses.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Goodput series interval (default 100 ms).
    pub interval_ms: u32,
    /// Flow-table bound (default 100,000 flows).
    pub max_flows: usize,
    /// Out-of-order buffer bounds per direction.
    pub reassembly: Limits,
    /// Keep every peer-wire message for the verbose view (`--messages`).
    pub messages: bool,
    /// Where the captures were taken, when the user says so.
    pub vantage: VantageSetting,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            interval_ms: 100,
            max_flows: TableLimits::default().max_flows,
            reassembly: Limits::default(),
            messages: false,
            vantage: VantageSetting::Auto,
        }
    }
}

/// Analyses one capture file. Never fails: a file that cannot be read gives a report whose
/// `error` says why.
pub fn analyze_file(path: &Path, opts: &Options) -> CaptureReport {
    let name = path.display().to_string();
    match CaptureReader::open(path) {
        Ok(reader) => analyze_reader(name, reader, opts),
        Err(e) => CaptureReport::failed(name, e.to_string()),
    }
}

/// Analyses a capture held in memory (tests, fuzzing).
pub fn analyze_bytes(name: &str, bytes: Vec<u8>, opts: &Options) -> CaptureReport {
    match CaptureReader::from_bytes(bytes) {
        Ok(reader) => analyze_reader(name.to_string(), reader, opts),
        Err(e) => CaptureReport::failed(name.to_string(), e.to_string()),
    }
}

pub fn analyze_reader(name: String, mut reader: CaptureReader, opts: &Options) -> CaptureReport {
    let limits = TableLimits {
        max_flows: opts.max_flows.max(1),
        reassembly: opts.reassembly,
        interval_ns: i64::from(opts.interval_ms.max(1)) * 1_000_000,
    };
    let proto = FlowDecoder::new(btparse::Config {
        keep_events: opts.messages,
        max_events: 0,
    });
    let mut table = FlowTable::new(limits, proto);
    let mut skipped = [Tally::default(); Skip::ALL.len()];
    let mut anomalies = [Tally::default(); Anomaly::ALL.len()];
    let mut tcp_segments = 0u64;
    let mut first: Option<Timestamp> = None;
    let mut last = Timestamp(i64::MIN);
    let mut backwards = Tally::default();
    let mut read_error = None;

    loop {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                read_error = Some(format!(
                    "read error after frame {}: {e}",
                    reader.frames_read()
                ));
                break;
            }
        };
        first.get_or_insert(frame.ts);
        if frame.ts < last {
            backwards.add(frame.index);
        }
        last = last.max(frame.ts);
        match wire::decode(&frame) {
            Ok(seg) => {
                tcp_segments += 1;
                for a in seg.anomalies() {
                    if let Some(t) = anomalies.get_mut(a as usize) {
                        t.add(frame.index);
                    }
                }
                table.process(
                    &seg,
                    PacketRef {
                        frame: frame.index,
                        ts: frame.ts,
                    },
                );
            }
            Err(skip) => {
                if let Some(t) = skipped.get_mut(skip as usize) {
                    t.add(frame.index);
                }
            }
        }
    }

    let info = reader.info().clone();
    let mut notes: Vec<Note> = reader.notes().to_vec();
    if backwards.count > 0 {
        notes.push(Note {
            frame: Some(backwards.first_frame),
            offset: None,
            message: format!(
                "capture time goes backwards {} times; intervals use the latest time seen",
                backwards.count
            ),
        });
    }
    let overflow = table.overflow;
    let flows = table.finish();
    let start = first.unwrap_or_default().0;
    let vantages = rst::vantages(&flows, opts.vantage);
    let contexts = rst::capture_contexts(&flows);
    CaptureReport {
        path: name,
        error: read_error,
        format: Some(info.format),
        gzip: info.gzip,
        link_types: info.link_types,
        frames: reader.frames_read(),
        tcp_segments,
        skipped: Skip::ALL
            .iter()
            .zip(skipped)
            .filter(|(_, t)| t.count > 0)
            .map(|(s, t)| (s.code(), t))
            .collect(),
        anomalies: Anomaly::ALL
            .iter()
            .zip(anomalies)
            .filter(|(_, t)| t.count > 0)
            .map(|(a, t)| (a.code(), t))
            .collect(),
        notes,
        first_time: first.map(Timestamp::as_secs_f64),
        last_time: first.map(|_| last.as_secs_f64()),
        flows: flows
            .iter()
            .zip(vantages.iter().zip(&contexts))
            .map(|(f, (&vantage, &ctx))| {
                let findings = rst::judge_flow(f, vantage, ctx);
                let judged = FlowJudgement {
                    vantage,
                    findings: &findings,
                    blocking: rst::blocking_signal(f, vantage),
                };
                FlowReport::from_flow(f, start, opts.messages, &judged)
            })
            .collect(),
        flows_retired: RetiredFlows::from_overflow(overflow, limits.max_flows),
        tests: Vec::new(),
        summary: None,
    }
}
