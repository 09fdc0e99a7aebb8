//! The per-capture pipeline: frames, segments, flows, report. One pass over the file.

use std::path::Path;

use crate::btparse::{self, FlowDecoder};
use crate::capture::{CaptureInfo, CaptureReader, Frame, GzipBound, Note, Timestamp};
use crate::flows::{Flow, FlowTable, Limits, PacketRef, TableLimits};
use crate::glasnost;
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
    /// How far a gzip-compressed capture may expand (default 100 times, past 256 MiB).
    pub gzip: GzipBound,
    /// Whether to look for a Glasnost test (`--glasnost auto|on|off`).
    pub glasnost: glasnost::Mode,
    /// How long a FIFO named as an input may go without a writer or data before its first
    /// bytes (default 10 s; `--fifo-wait`).
    pub fifo_wait: std::time::Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            interval_ms: 100,
            max_flows: TableLimits::default().max_flows,
            reassembly: Limits::default(),
            messages: false,
            vantage: VantageSetting::Auto,
            gzip: GzipBound::default(),
            glasnost: glasnost::Mode::Auto,
            fifo_wait: crate::capture::FIFO_WAIT,
        }
    }
}

/// What the Glasnost analysis needs of a flow's report: its RSTs as judged and the study's
/// reset signal.
fn flow_facts(r: &FlowReport) -> glasnost::FlowFacts {
    glasnost::FlowFacts {
        rsts: r
            .rsts
            .iter()
            .map(|x| glasnost::TestRst {
                frame: x.frame,
                from: x.from,
                verdict: x.verdict,
                evidence: x.evidence.clone(),
            })
            .collect(),
        signal: r.blocking.as_ref().is_some_and(|b| b.signal),
        after_bt_exchange_ms: r.blocking.as_ref().and_then(|b| b.after_bt_exchange_ms),
    }
}

/// A note on the bytes captured but not reassembled, when any flow has some: how many, in
/// how many flows, the first few, and what they are kept out of.
fn reassembly_notes(flows: &[FlowReport], limits: &TableLimits) -> Option<Note> {
    let hit: Vec<&FlowReport> = flows
        .iter()
        .filter(|f| f.unassembled_up + f.unassembled_down > 0)
        .collect();
    let total: u64 = hit
        .iter()
        .map(|f| f.unassembled_up + f.unassembled_down)
        .sum();
    if hit.is_empty() {
        return None;
    }
    let shown: Vec<String> = hit
        .iter()
        .take(5)
        .map(|f| {
            format!(
                "flow {} ({} up, {} down)",
                f.id, f.unassembled_up, f.unassembled_down
            )
        })
        .collect();
    let more = if hit.len() > shown.len() {
        format!(" and {} more", hit.len() - shown.len())
    } else {
        String::new()
    };
    Some(Note {
        frame: None,
        offset: None,
        message: format!(
            "{total} bytes in {} flows were captured but not reassembled: they came after \
             bttrace had given their gap up (reordering beyond the out-of-order buffer of {} \
             MiB / {} pieces per direction, or capture queues written one after the other); \
             counted as unassembled, not as missing or retransmitted, and in no goodput, \
             series or verdict: {}{more}",
            hit.len(),
            limits.reassembly.max_pending_bytes >> 20,
            limits.reassembly.max_pending_pieces,
            shown.join(", ")
        ),
    })
}

/// Largest log read (Glasnost's logs are a few kilobytes; an archive's largest far below this).
pub(crate) const MAX_LOG_BYTES: u64 = 16 << 20;

/// Reads a Glasnost log, up to [`MAX_LOG_BYTES`]; a longer one is read that far, with a note.
fn read_log_file(
    path: &Path,
    notes: &mut Vec<Note>,
) -> std::io::Result<glasnost::log::GlasnostLog> {
    read_log_from(
        &path.display().to_string(),
        std::fs::File::open(path)?,
        notes,
    )
}

/// Reads a Glasnost log from any stream (a file, an archive's member), up to
/// [`MAX_LOG_BYTES`]; a longer one is read that far, with a note.
pub(crate) fn read_log_from(
    name: &str,
    input: impl std::io::Read,
    notes: &mut Vec<Note>,
) -> std::io::Result<glasnost::log::GlasnostLog> {
    use std::io::Read;
    let mut bytes = Vec::new();
    input.take(MAX_LOG_BYTES).read_to_end(&mut bytes)?;
    if bytes.len() as u64 >= MAX_LOG_BYTES {
        notes.push(Note {
            frame: None,
            offset: Some(MAX_LOG_BYTES),
            message: format!(
                "the log {name} is longer than {} MiB: read that far",
                MAX_LOG_BYTES >> 20
            ),
        });
    }
    Ok(glasnost::log::parse(&String::from_utf8_lossy(&bytes)))
}

/// The log beside a capture, when there is one and the Glasnost analysis is on.
fn read_log(
    capture: &Path,
    mode: glasnost::Mode,
    notes: &mut Vec<Note>,
) -> Option<(std::path::PathBuf, glasnost::log::GlasnostLog)> {
    if mode == glasnost::Mode::Off {
        return None;
    }
    let p = glasnost::log_path_for(capture)?;
    match read_log_file(&p, notes) {
        Ok(l) => Some((p, l)),
        Err(e) => {
            notes.push(Note {
                frame: None,
                offset: None,
                message: format!(
                    "the log {} beside the capture cannot be read: {e}",
                    p.display()
                ),
            });
            None
        }
    }
}

/// Whether a path names a Glasnost log (`.log`), analysed alone when given as input.
pub fn is_log_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "log")
}

/// Analyses a Glasnost log alone: the tests, speeds and verdicts from its own numbers.
pub fn analyze_log(path: &Path, opts: &Options) -> CaptureReport {
    let name = path.display().to_string();
    let mut notes = Vec::new();
    match read_log_file(path, &mut notes) {
        Ok(log) => analyze_parsed_log(name, log, notes, opts),
        Err(e) => CaptureReport::failed(name, format!("cannot read: {e}")),
    }
}

/// [`analyze_log`] on a log already read; `name` names it in the report (a file's path, or an
/// archive's `archive.tgz!path/inside`).
pub fn analyze_parsed_log(
    name: String,
    log: glasnost::log::GlasnostLog,
    notes: Vec<Note>,
    opts: &Options,
) -> CaptureReport {
    let path = Path::new(&name);
    let found = if opts.glasnost == glasnost::Mode::Off {
        None
    } else {
        glasnost::analyze_log(path, &log)
    };
    let Some((tests, g)) = found else {
        return CaptureReport::failed(
            name,
            format!(
                "not a Glasnost log: no transfer in its {} lines ({} unknown)",
                log.lines, log.unknown_lines
            ),
        );
    };
    let mut r = CaptureReport::failed(name, String::new());
    r.error = None;
    r.notes = notes;
    r.first_time = log
        .transfers
        .iter()
        .find_map(|t| t.time_ms)
        .map(|ms| ms as f64 / 1e3);
    r.last_time = log.last_ms.map(|ms| ms as f64 / 1e3);
    r.summary = Some(g.verdicts.summary.clone());
    r.tests = tests;
    r.glasnost = Some(g);
    r
}

/// Analyses one capture file (or, for a `.log`, a Glasnost log alone). Never fails: a file
/// that cannot be read gives a report whose `error` says why.
pub fn analyze_file(path: &Path, opts: &Options) -> CaptureReport {
    if is_log_path(path) {
        return analyze_log(path, opts);
    }
    let name = path.display().to_string();
    match CaptureReader::open_waiting(path, opts.gzip, opts.fifo_wait) {
        Ok(reader) => analyze_reader(name, reader, opts),
        Err(e) => CaptureReport::failed(name, e.to_string()),
    }
}

/// Analyses a capture held in memory (tests, fuzzing).
pub fn analyze_bytes(name: &str, bytes: Vec<u8>, opts: &Options) -> CaptureReport {
    match CaptureReader::from_read_with(Box::new(std::io::Cursor::new(bytes)), opts.gzip) {
        Ok(reader) => analyze_reader(name.to_string(), reader, opts),
        Err(e) => CaptureReport::failed(name.to_string(), e.to_string()),
    }
}

pub fn analyze_reader(name: String, reader: CaptureReader, opts: &Options) -> CaptureReport {
    analyze_reader_with(name, reader, opts, LogSource::Beside)
}

/// Where a capture's Glasnost log comes from.
pub enum LogSource {
    /// The `.log` file beside the capture on disk, if there is one.
    Beside,
    /// A log read already (an archive's member), or none: nothing is looked up on disk.
    Given(Option<(std::path::PathBuf, glasnost::log::GlasnostLog)>),
}

/// [`analyze_reader`] with the log from `log`.
pub fn analyze_reader_with(
    name: String,
    mut reader: CaptureReader,
    opts: &Options,
    log: LogSource,
) -> CaptureReport {
    let mut analyzer = Analyzer::new(opts);
    let mut read_error = None;
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => analyzer.frame(&frame),
            Ok(None) => break,
            Err(e) => {
                read_error = Some(format!(
                    "read error after frame {}: {e}",
                    reader.frames_read()
                ));
                break;
            }
        }
    }
    let info = reader.info().clone();
    let notes = reader.notes().to_vec();
    analyzer.finish_with(name, Some(info), notes, read_error, log)
}

/// The per-capture pipeline, one frame at a time: files feed it from a reader, live capture
/// from the interface, asking for a [`snapshot`](Analyzer::snapshot) as it goes.
pub struct Analyzer {
    opts: Options,
    limits: TableLimits,
    table: FlowTable<FlowDecoder>,
    skipped: [Tally; Skip::ALL.len()],
    anomalies: [Tally; Anomaly::ALL.len()],
    frames: u64,
    tcp_segments: u64,
    first: Option<Timestamp>,
    last: Timestamp,
    backwards: Tally,
    clock: Clock,
}

/// A frame whose time lies more than this (a day) from the frame before it is suspect.
const TIME_JUMP_NS: i64 = 86_400 * 1_000_000_000;

/// Tells a damaged timestamp from a clock that stepped. A frame more than [`TIME_JUMP_NS`]
/// from the time before it is held back (copied: it is rare) until the next frame says which
/// it was: if that one is near the time before, the jump was one damaged record
/// (`timestamp_outlier`, an anomaly), analysed at the time before it; if it is near the
/// jumped time, the capture's clock stepped, and both are analysed as they stand.
#[derive(Debug, Default)]
struct Clock {
    /// The time of the last frame taken as it stands.
    trusted: Option<Timestamp>,
    /// A frame that jumped, waiting for the next one.
    held: Option<HeldFrame>,
    outliers: Tally,
    steps: Tally,
    largest_step_ns: i64,
}

#[derive(Debug)]
struct HeldFrame {
    index: u64,
    ts: Timestamp,
    link: crate::capture::LinkType,
    data: Vec<u8>,
    wire_len: u32,
    offset: u64,
}

impl HeldFrame {
    fn of(f: &Frame<'_>) -> HeldFrame {
        HeldFrame {
            index: f.index,
            ts: f.ts,
            link: f.link,
            data: f.data.to_vec(),
            wire_len: f.wire_len,
            offset: f.offset,
        }
    }

    fn frame(&self) -> Frame<'_> {
        Frame {
            index: self.index,
            ts: self.ts,
            link: self.link,
            data: &self.data,
            wire_len: self.wire_len,
            offset: self.offset,
        }
    }
}

fn near(a: Timestamp, b: Timestamp) -> bool {
    a.nanos_since(b).unsigned_abs() <= TIME_JUMP_NS as u64
}

impl Analyzer {
    pub fn new(opts: &Options) -> Analyzer {
        let limits = TableLimits {
            max_flows: opts.max_flows.max(1),
            reassembly: opts.reassembly,
            interval_ns: i64::from(opts.interval_ms.max(1)) * 1_000_000,
        };
        let proto = FlowDecoder::new(btparse::Config {
            keep_events: opts.messages,
            max_events: 0,
        });
        Analyzer {
            opts: *opts,
            limits,
            table: FlowTable::new(limits, proto),
            skipped: [Tally::default(); Skip::ALL.len()],
            anomalies: [Tally::default(); Anomaly::ALL.len()],
            frames: 0,
            tcp_segments: 0,
            first: None,
            last: Timestamp(i64::MIN),
            backwards: Tally::default(),
            clock: Clock::default(),
        }
    }

    /// Takes the next frame, in capture order.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.frames += 1;
        match self.clock.trusted {
            Some(t) if self.clock.held.is_none() && near(frame.ts, t) => {
                self.clock.trusted = Some(frame.ts);
                self.take(frame, frame.ts);
            }
            None => {
                self.clock.trusted = Some(frame.ts);
                self.take(frame, frame.ts);
            }
            Some(t) => self.frame_after_jump(frame, t),
        }
    }

    /// A frame far from the trusted time, or the frame after one.
    fn frame_after_jump(&mut self, frame: &Frame<'_>, trusted: Timestamp) {
        let Some(held) = self.clock.held.take() else {
            self.clock.held = Some(HeldFrame::of(frame));
            return;
        };
        if near(frame.ts, held.ts) && !near(frame.ts, trusted) {
            // The clock stepped: the held frame was right.
            self.clock.steps.add(held.index);
            let step = held.ts.nanos_since(trusted).saturating_abs();
            self.clock.largest_step_ns = self.clock.largest_step_ns.max(step);
            self.take(&held.frame(), held.ts);
            self.clock.trusted = Some(frame.ts);
            self.take(frame, frame.ts);
            return;
        }
        // One damaged timestamp: the held frame is analysed at the time before it.
        self.clock.outliers.add(held.index);
        self.take(&held.frame(), trusted);
        if near(frame.ts, trusted) {
            self.clock.trusted = Some(frame.ts);
            self.take(frame, frame.ts);
        } else {
            self.clock.held = Some(HeldFrame::of(frame));
        }
    }

    /// Analyses a frame at time `ts`.
    fn take(&mut self, frame: &Frame<'_>, ts: Timestamp) {
        self.first.get_or_insert(ts);
        if ts < self.last {
            self.backwards.add(frame.index);
        }
        self.last = self.last.max(ts);
        match wire::decode(frame) {
            Ok(seg) => {
                self.tcp_segments += 1;
                for a in seg.anomalies() {
                    if let Some(t) = self.anomalies.get_mut(a as usize) {
                        t.add(frame.index);
                    }
                }
                self.table.process(
                    &seg,
                    PacketRef {
                        frame: frame.index,
                        ts,
                    },
                );
            }
            Err(skip) => {
                if let Some(t) = self.skipped.get_mut(skip as usize) {
                    t.add(frame.index);
                }
            }
        }
    }

    /// Frames taken so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Every flow as it stands, its RSTs judged on what has been seen so far (a RST keeps
    /// gathering evidence for 10 s after it).
    pub fn snapshot(&self) -> Vec<FlowReport> {
        flow_reports(&self.table.flows(), &self.opts, self.start())
    }

    fn start(&self) -> i64 {
        self.first.unwrap_or_default().0
    }

    /// Ends the capture: flushes every flow and builds the report (with the log beside
    /// `path`, if any).
    pub fn finish(
        self,
        path: String,
        info: Option<CaptureInfo>,
        notes: Vec<Note>,
        error: Option<String>,
    ) -> CaptureReport {
        self.finish_with(path, info, notes, error, LogSource::Beside)
    }

    /// [`Analyzer::finish`] with the log from `log`.
    pub fn finish_with(
        mut self,
        path: String,
        info: Option<CaptureInfo>,
        mut notes: Vec<Note>,
        error: Option<String>,
        log: LogSource,
    ) -> CaptureReport {
        if let (Some(held), Some(t)) = (self.clock.held.take(), self.clock.trusted) {
            // The last frame jumped and nothing came after it to say it was a clock step.
            self.clock.outliers.add(held.index);
            self.take(&held.frame(), t);
        }
        notes.extend(self.clock.notes());
        if self.backwards.count > 0 {
            notes.push(Note {
                frame: Some(self.backwards.first_frame),
                offset: None,
                message: format!(
                    "capture time goes backwards {} times; intervals use the latest time seen",
                    self.backwards.count
                ),
            });
        }
        let budgets = self.table.budgets;
        if budgets.series.coarsened > 0 {
            notes.push(Note {
                frame: None,
                offset: None,
                message: format!(
                    "the goodput series of all flows together reached their bound ({} MiB); \
                     {} times a series doubled its interval instead of growing (each flow's \
                     series.interval_ms says which)",
                    (budgets.series.max * 4) >> 20,
                    budgets.series.coarsened
                ),
            });
        }
        if budgets.pending_given_up > 0 {
            notes.push(Note {
                frame: None,
                offset: None,
                message: format!(
                    "all flows together held {} MiB of out-of-order data; {} times a flow gave \
                     up its gaps (missing bytes, or unassembled where they came later)",
                    budgets.pending_max >> 20,
                    budgets.pending_given_up
                ),
            });
        }
        let text_cut = budgets.sink.text_cut;
        if text_cut > 0 {
            notes.push(Note {
                frame: None,
                offset: None,
                message: format!(
                    "the text lines of all flows together reached their bound ({} MiB); {} \
                     directions stopped collecting lines there",
                    btparse::TEXT_BUDGET >> 20,
                    text_cut
                ),
            });
        }
        let events_cut = budgets.sink.events_cut;
        if events_cut > 0 {
            notes.push(Note {
                frame: None,
                offset: None,
                message: format!(
                    "--messages keeps {} messages per capture; {} more were counted, not kept \
                     (each flow's messages_dropped says where)",
                    btparse::EVENTS_BUDGET,
                    events_cut
                ),
            });
        }
        let start = self.start();
        let overflow = self.table.overflow;
        let flows_retired = RetiredFlows::from_overflow(overflow, self.limits.max_flows);
        notes.extend(flows_retired.map(|r| r.note()));
        let flows = self.table.finish();
        let refs: Vec<&Flow<FlowDecoder>> = flows.iter().map(|f| &**f).collect();
        match rst::check_vantage(&refs, self.opts.vantage) {
            Ok(note) => notes.extend(note.map(|message| Note {
                frame: None,
                offset: None,
                message,
            })),
            Err(e) => return CaptureReport::failed(path, e),
        }
        let flow_reports = flow_reports(&refs, &self.opts, start);
        notes.extend(reassembly_notes(&flow_reports, &self.limits));
        let facts: Vec<glasnost::FlowFacts> = flow_reports.iter().map(flow_facts).collect();
        let log = match log {
            LogSource::Beside => read_log(Path::new(&path), self.opts.glasnost, &mut notes),
            LogSource::Given(_) if self.opts.glasnost == glasnost::Mode::Off => None,
            LogSource::Given(l) => l,
        };
        let input = glasnost::CaptureInput {
            path: &path,
            flows: &refs,
            facts: &facts,
            interval_ms: f64::from(self.opts.interval_ms),
            log,
            mode: self.opts.glasnost,
        };
        let (tests, glasnost) = match glasnost::analyze(&input) {
            Some((t, g)) => (t, Some(g)),
            None => (Vec::new(), None),
        };
        let mut flow_reports = flow_reports;
        // Wireshark numbers every TCP conversation it dissects, and it dissects some frames
        // bttrace skips (it reassembles IP fragments, and makes a stream of a short TCP
        // header): from the first such frame on, a flow's id - 1 may not be its tcp.stream.
        let doubt = if flows_retired.is_some() {
            Some(0)
        } else {
            Skip::ALL
                .iter()
                .zip(&self.skipped)
                .filter(|(s, t)| !matches!(s, Skip::NotIp | Skip::NotTcp) && t.count > 0)
                .map(|(_, t)| t.first_frame)
                .min()
        };
        for f in &mut flow_reports {
            if doubt.is_some_and(|d| f.first_frame >= d) {
                f.tcp_stream = None;
            }
        }
        for t in &tests {
            if let Some(f) = flow_reports.iter_mut().find(|f| f.id == t.flow) {
                f.direction = t.direction;
            }
        }
        CaptureReport {
            path,
            error,
            format: info.as_ref().map(|i| i.format),
            gzip: info.as_ref().is_some_and(|i| i.gzip),
            link_types: info.map(|i| i.link_types).unwrap_or_default(),
            frames: self.frames,
            tcp_segments: self.tcp_segments,
            skipped: Skip::ALL
                .iter()
                .zip(self.skipped)
                .filter(|(_, t)| t.count > 0)
                .map(|(s, t)| (s.code(), t))
                .collect(),
            anomalies: Anomaly::ALL
                .iter()
                .zip(self.anomalies)
                .map(|(a, t)| (a.code(), t))
                .chain([(TIMESTAMP_OUTLIER, self.clock.outliers)])
                .filter(|(_, t)| t.count > 0)
                .collect(),
            notes,
            first_time: self.first.map(Timestamp::as_secs_f64),
            last_time: self.first.map(|_| self.last.as_secs_f64()),
            flows: flow_reports,
            flows_retired,
            summary: glasnost.as_ref().map(|g| g.verdicts.summary.clone()),
            tests,
            glasnost,
        }
    }
}

/// The anomaly code of a frame whose timestamp lies far from its neighbours.
pub const TIMESTAMP_OUTLIER: &str = "timestamp_outlier";

impl Clock {
    fn notes(&self) -> Vec<Note> {
        let mut notes = Vec::new();
        if self.outliers.count > 0 {
            notes.push(Note {
                frame: Some(self.outliers.first_frame),
                offset: None,
                message: format!(
                    "{} frames carry a timestamp more than a day from the frames around them \
                     (a damaged record): each was analysed at the time of the frame before it \
                     (anomaly {TIMESTAMP_OUTLIER})",
                    self.outliers.count
                ),
            });
        }
        if self.steps.count > 0 {
            notes.push(Note {
                frame: Some(self.steps.first_frame),
                offset: None,
                message: format!(
                    "capture time jumps {} times by more than a day and stays there (a clock \
                     step; the largest {:.0} s): intervals span the jump",
                    self.steps.count,
                    self.largest_step_ns as f64 / 1e9
                ),
            });
        }
        notes
    }
}

/// Judges the flows' resets and builds their reports.
fn flow_reports(flows: &[&Flow<FlowDecoder>], opts: &Options, start: i64) -> Vec<FlowReport> {
    let vantages = rst::vantages(flows, opts.vantage);
    let contexts = rst::capture_contexts(flows);
    // 4-tuples that more than one connection used: their filters need frame ranges.
    let tuple = |f: &Flow<FlowDecoder>| {
        let (a, b) = (f.client, f.server);
        if a <= b { (a, b) } else { (b, a) }
    };
    let mut reused: rustc_hash::FxHashMap<_, u32> = rustc_hash::FxHashMap::default();
    for f in flows {
        *reused.entry(tuple(f)).or_default() += 1;
    }
    flows
        .iter()
        .zip(vantages.iter().zip(&contexts))
        .map(|(f, (&vantage, &ctx))| {
            let findings = rst::judge_flow(f, vantage, ctx);
            let judged = FlowJudgement {
                vantage,
                findings: &findings,
                blocking: rst::blocking_signal(f, vantage),
            };
            let mut report = FlowReport::from_flow(f, start, opts.messages, &judged);
            if f.instance > 0 || reused.get(&tuple(f)).is_some_and(|&n| n > 1) {
                report.filter = crate::model::tuple_filter(
                    f.client,
                    f.server,
                    Some((report.first_frame, report.last_frame)),
                );
            }
            report
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::flows::Side;
    use crate::synth::Conv;
    use crate::wire::TcpFlags;

    #[test]
    fn a_snapshot_shows_flows_and_judged_resets_before_the_end() {
        let mut c = Conv::new(
            "198.51.100.7:40001".parse().unwrap(),
            "203.0.113.9:6881".parse().unwrap(),
        );
        c.client_ttl = 50;
        c.handshake()
            .data(Side::Client, b"hello")
            .data(Side::Server, &[1; 500]);
        let mut forged = c.packet(Side::Client, TcpFlags::RST | TcpFlags::ACK, &[]);
        forged.ttl = 200;
        c.push(forged);
        c.data(Side::Client, b"still talking");
        let mut a = Analyzer::new(&Options::default());
        for (i, p) in c.packets.iter().enumerate() {
            let rec = p.record(LinkType::RAW, None);
            a.frame(&rec.frame(i as u64 + 1, LinkType::RAW));
            if i == 4 {
                let snap = a.snapshot();
                assert_eq!(snap.len(), 1);
                assert_eq!(snap[0].bytes_up, 5);
                assert!(snap[0].rsts.is_empty());
            }
        }
        let snap = a.snapshot();
        assert_eq!(snap[0].rsts.len(), 1);
        assert_eq!(snap[0].rsts[0].verdict, Some(crate::rst::Verdict::Forged));
        let report = a.finish("live".into(), None, Vec::new(), None);
        assert_eq!(report.frames, c.packets.len() as u64);
        assert_eq!(
            report.flows[0].rsts[0].verdict,
            Some(crate::rst::Verdict::Forged)
        );
        assert_eq!(report.format, None);
    }
}
