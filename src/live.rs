//! Live capture (cargo feature `live`): packets from a network interface, through libpcap,
//! into the same [`Analyzer`] that reads files.
//!
//! Layer: an interface in; a [`CaptureReport`] out at the end, and a live view as it goes
//! ([`LiveView`]: flows as they appear, their bytes and goodput, every RST as it is judged).
//!
//! Invariants:
//! - every packet handed to the analyzer is written to the `-w` file, in the same order and
//!   with the same header (time, captured and wire length), so frame numbers and every
//!   finding of `bttrace analyze FILE` are the ones the live capture reported;
//! - the analysis uses capture time only; the wall clock paces the view (about once a second)
//!   and `--duration`, nothing else;
//! - the capture loop wakes up at least every [`READ_TIMEOUT_MS`] to notice a stop request
//!   (Ctrl-C, SIGTERM) and the end of the duration;
//! - opening fails with a [`LiveError`] that says what to do; once capturing, nothing fails:
//!   a read error ends the capture and becomes the report's `error`, as a damaged file does.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::analyze::{Analyzer, Options};
use crate::btparse::Kind;
use crate::capture::{CaptureInfo, Format, Frame, LinkType, Note, Timestamp};
use crate::flows::Close;
use crate::model::{CaptureReport, FlowReport};
use crate::report::{human_bytes, human_rate};
use crate::rst::{EvidenceKind, Verdict};

/// Bytes kept of each packet unless `--snaplen` says otherwise (tcpdump's default).
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// libpcap's read timeout: the longest the loop sleeps before checking whether to stop.
pub const READ_TIMEOUT_MS: i32 = 200;
/// How often the live view is refreshed (wall clock).
pub const VIEW_EVERY: Duration = Duration::from_secs(1);
/// After a stop request, packets libpcap already holds are still read for at most this long.
const DRAIN_FOR: Duration = Duration::from_secs(1);
/// Most flows the view's periodic status lists (the busiest first); the rest are counted.
pub const STATUS_MAX_FLOWS: usize = 20;

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// The interface (`eth0`, `any`, ...), as libpcap names it.
    pub interface: String,
    /// A BPF capture filter (`tcp port 6881`), applied in the kernel.
    pub filter: Option<String>,
    /// Also write every captured packet to this pcap file.
    pub write: Option<PathBuf>,
    /// Replace `write` if it exists (refused otherwise).
    pub force: bool,
    /// Stop after this long (wall clock); `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// The analysis, as `bttrace analyze` takes it.
    pub analysis: Options,
}

/// Why a capture could not start. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no such interface: {name} (interfaces: {})", list_or_none(.available))]
    NoSuchDevice {
        name: String,
        available: Vec<String>,
    },
    #[error(
        "no permission to capture on {name}: capturing needs root or CAP_NET_RAW (e.g. `sudo setcap cap_net_raw,cap_net_admin=eip target/release/bttrace`) ({detail})"
    )]
    Permission { name: String, detail: String },
    #[error(
        "bad capture filter {filter:?}: {detail} (the syntax is tcpdump's, see `man pcap-filter`)"
    )]
    BadFilter { filter: String, detail: String },
    #[error("cannot capture on {name}: {detail}")]
    Open { name: String, detail: String },
    #[error("{0}")]
    Output(String),
    #[error("cannot watch for Ctrl-C: {0}")]
    Signal(String),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none found".to_string()
    } else {
        names.join(", ")
    }
}

/// A stop flag set by Ctrl-C (SIGINT), SIGTERM or SIGHUP; a second Ctrl-C exits at once
/// (status 130). Call once per process.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, LiveError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .map_err(|e| LiveError::Signal(e.to_string()))?;
    Ok(stop)
}

/// An open capture, ready to [`run`](Live::run).
pub struct Live {
    cap: pcap::Capture<pcap::Active>,
    save: Option<pcap::Savefile>,
    link: LinkType,
    cfg: Config,
}

/// libpcap's DLT number to the LINKTYPE number bttrace (and every capture file) uses: they are
/// the same except for a few platform-dependent DLTs, which libpcap names.
fn link_type(dlt: pcap::Linktype) -> LinkType {
    match dlt.get_name().as_deref() {
        Ok("RAW") => LinkType::RAW,
        Ok("LOOP") => LinkType::LOOP,
        _ => LinkType(u32::try_from(dlt.0).unwrap_or(u32::MAX)),
    }
}

/// Names the open error: no such interface (checked against libpcap's list, so it is told
/// apart even where an unprivileged open fails first), no permission, or libpcap's own words.
fn open_error(name: &str, e: pcap::Error) -> LiveError {
    let detail = e.to_string();
    if let Ok(devices) = pcap::Device::list() {
        let available: Vec<String> = devices.into_iter().map(|d| d.name).collect();
        if !available.iter().any(|d| d == name) {
            return LiveError::NoSuchDevice {
                name: name.to_string(),
                available,
            };
        }
    }
    let lower = detail.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::Permission {
            name: name.to_string(),
            detail,
        }
    } else if lower.contains("no such device") {
        LiveError::NoSuchDevice {
            name: name.to_string(),
            available: Vec::new(),
        }
    } else {
        LiveError::Open {
            name: name.to_string(),
            detail,
        }
    }
}

/// An existing output file is refused, as `analyze --csv` refuses one.
fn exists(p: &Path) -> LiveError {
    LiveError::Output(format!(
        "{} exists; use --force to overwrite it",
        p.display()
    ))
}

/// Opens the interface, applies the filter and creates the output file.
pub fn open(cfg: &Config) -> Result<Live, LiveError> {
    let name = cfg.interface.as_str();
    let snaplen = i32::try_from(cfg.snaplen.max(1)).unwrap_or(i32::MAX);
    // Refuse an output the capture could not write before touching the interface.
    if let Some(p) = &cfg.write {
        if p.to_str().is_none() {
            return Err(LiveError::Output(format!(
                "cannot write {}: the path is not UTF-8 (libpcap needs UTF-8)",
                p.display()
            )));
        }
        if !cfg.force && p.exists() {
            return Err(exists(p));
        }
    }
    let inactive = pcap::Capture::from_device(name).map_err(|e| open_error(name, e))?;
    let mut cap = inactive
        .snaplen(snaplen)
        .timeout(READ_TIMEOUT_MS)
        .immediate_mode(true)
        .open()
        .map_err(|e| open_error(name, e))?;
    if let Some(f) = &cfg.filter {
        cap.filter(f, true).map_err(|e| LiveError::BadFilter {
            filter: f.clone(),
            detail: e.to_string(),
        })?;
    }
    let save = match &cfg.write {
        Some(p) => {
            // Claim the name (again: it may have appeared meanwhile), then let libpcap write.
            let mut o = OpenOptions::new();
            o.write(true);
            if cfg.force {
                o.create(true).truncate(true);
            } else {
                o.create_new(true);
            }
            o.open(p).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    exists(p)
                } else {
                    LiveError::Output(format!("cannot write {}: {e}", p.display()))
                }
            })?;
            Some(
                cap.savefile(p)
                    .map_err(|e| LiveError::Output(format!("cannot write {}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    let link = link_type(cap.get_datalink());
    Ok(Live {
        cap,
        save,
        link,
        cfg: cfg.clone(),
    })
}

impl Live {
    /// The link type of the interface.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Captures until `stop` is set or the duration has passed, refreshing `view` about once
    /// a second, then gives the report `bttrace analyze` would give on the written file.
    ///
    /// libpcap's read timeout does not wake a blocked read on Linux when no packet arrives
    /// (libpcap 1.10: it only bounds how long a packet waits in the buffer), so a watcher
    /// thread polls `stop` and the clock every [`READ_TIMEOUT_MS`] and wakes the read with
    /// `pcap_breakloop` when it is time to stop.
    pub fn run(self, stop: &AtomicBool, view: Option<&mut dyn Write>) -> CaptureReport {
        let Live {
            mut cap,
            save,
            link,
            cfg,
        } = self;
        let deadline = cfg.duration.map(|d| Instant::now() + d);
        let analysis = cfg.analysis;
        let wake = cap.breakloop_handle();
        let finished = AtomicBool::new(false);
        let mut run = Run {
            analyzer: Analyzer::new(&analysis),
            link,
            save,
            first: None,
            last: Timestamp(i64::MIN),
            notes: Vec::new(),
            view: view.map(|w| (w, LiveView::default())),
            cfg,
        };
        let mut error = std::thread::scope(|s| {
            s.spawn(|| {
                let poll = Duration::from_millis(READ_TIMEOUT_MS.unsigned_abs().into());
                while !finished.load(Ordering::SeqCst) {
                    if stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d)
                    {
                        wake.breakloop();
                        return;
                    }
                    std::thread::sleep(poll);
                }
            });
            let error = run.blocking(&mut cap, stop, deadline);
            finished.store(true, Ordering::SeqCst);
            error
        });
        // Read what libpcap already holds, without waiting for more.
        if error.is_none() {
            match cap.setnonblock() {
                Ok(c) => {
                    cap = c;
                    error = run.drain(&mut cap);
                }
                Err(e) => {
                    let report = run.finish(None);
                    return with_error(report, format!("cannot stop the capture cleanly: {e}"));
                }
            }
        }
        if let Ok(st) = cap.stats() {
            if st.dropped > 0 || st.if_dropped > 0 {
                run.notes.push(Note {
                    frame: None,
                    offset: None,
                    message: format!(
                        "libpcap dropped {} packets (its buffer was full) and the interface {}; findings near the drops may miss packets",
                        st.dropped, st.if_dropped
                    ),
                });
            }
        }
        run.finish(error)
    }
}

fn with_error(mut r: CaptureReport, e: String) -> CaptureReport {
    r.error.get_or_insert(e);
    r
}

/// The state of a running capture.
struct Run<'a> {
    analyzer: Analyzer,
    link: LinkType,
    save: Option<pcap::Savefile>,
    first: Option<Timestamp>,
    last: Timestamp,
    notes: Vec<Note>,
    view: Option<(&'a mut dyn Write, LiveView)>,
    cfg: Config,
}

impl Run<'_> {
    /// Feeds one packet to the analyzer and to the file.
    fn take(&mut self, p: &pcap::Packet<'_>) {
        let ts = header_time(p.header);
        self.first.get_or_insert(ts);
        self.last = self.last.max(ts);
        self.analyzer.frame(&Frame {
            index: self.analyzer.frames() + 1,
            ts,
            link: self.link,
            data: p.data,
            wire_len: p.header.len,
            offset: 0,
        });
        if let Some(s) = self.save.as_mut() {
            s.write(p);
        }
    }

    /// Reads (blocking) until it is time to stop; a read error ends it and is returned.
    fn blocking(
        &mut self,
        cap: &mut pcap::Capture<pcap::Active>,
        stop: &AtomicBool,
        deadline: Option<Instant>,
    ) -> Option<String> {
        let mut next_view = Instant::now() + VIEW_EVERY;
        loop {
            let now = Instant::now();
            if stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| now >= d) {
                return None;
            }
            match cap.next_packet() {
                Ok(p) => self.take(&p),
                // A read timeout, or the watcher's breakloop: look at the clock and the flag.
                Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {}
                Err(e) => return Some(self.read_error(&e)),
            }
            if now >= next_view {
                next_view = now + VIEW_EVERY;
                self.refresh();
            }
        }
    }

    /// Reads what libpcap holds (non-blocking), for at most [`DRAIN_FOR`].
    fn drain(&mut self, cap: &mut pcap::Capture<pcap::Active>) -> Option<String> {
        let until = Instant::now() + DRAIN_FOR;
        while Instant::now() < until {
            match cap.next_packet() {
                Ok(p) => self.take(&p),
                Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => return None,
                Err(e) => return Some(self.read_error(&e)),
            }
        }
        None
    }

    fn read_error(&self, e: &pcap::Error) -> String {
        format!(
            "capture stopped after frame {}: {e}",
            self.analyzer.frames()
        )
    }

    /// Updates the view and flushes the file.
    fn refresh(&mut self) {
        if let (Some((w, shown)), Some(first)) = (self.view.as_mut(), self.first) {
            let snap = self.analyzer.snapshot();
            // The view is best effort: a closed terminal must not stop the capture.
            let _ = shown.update(&mut **w, &snap, first, self.last, self.analyzer.frames());
        }
        if let Some(s) = self.save.as_mut() {
            if let Err(e) = s.flush() {
                self.notes
                    .push(write_note(&self.cfg, self.analyzer.frames(), &e));
                self.save = None;
            }
        }
    }

    fn finish(mut self, error: Option<String>) -> CaptureReport {
        self.refresh();
        // Closing the file writes what libpcap still buffers.
        drop(self.save.take());
        let path = match &self.cfg.write {
            Some(p) => p.display().to_string(),
            None => self.cfg.interface.clone(),
        };
        let info = CaptureInfo {
            format: Format::Pcap,
            gzip: false,
            link_types: vec![self.link],
        };
        let mut report = self.analyzer.finish(path, Some(info), self.notes, error);
        if self.cfg.write.is_none() {
            // Nothing was written: the packets came from an interface, not a pcap file.
            report.format = None;
        }
        report
    }
}

/// The packet's capture time. Microsecond precision, libpcap's default: the file gets the same.
// time_t and suseconds_t are i64 here but narrower on some platforms.
#[allow(clippy::useless_conversion)]
fn header_time(h: &pcap::PacketHeader) -> Timestamp {
    Timestamp::from_secs_nanos(
        i64::from(h.ts.tv_sec),
        i64::from(h.ts.tv_usec).saturating_mul(1000),
    )
}

fn write_note(cfg: &Config, frames: u64, e: &pcap::Error) -> Note {
    let path = cfg
        .write
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Note {
        frame: Some(frames),
        offset: None,
        message: format!("writing {path} failed ({e}); the file stops before this frame"),
    }
}

/// What the view has already said about a flow.
struct FlowSeen {
    kind: Option<Kind>,
    packets: u64,
    close: Close,
}

/// The live view: turns successive [`Analyzer::snapshot`]s into lines for people. It says
/// each thing once: a flow when it appears (and its kind when that becomes known), when it
/// closes, each RST when it is first judged and again if its verdict changes (a RST keeps
/// gathering evidence for 10 s), and a compact status of the flows that moved since the last
/// refresh. Times are capture times, in seconds since the first frame.
#[derive(Default)]
pub struct LiveView {
    flows: HashMap<u32, FlowSeen>,
    rsts: HashMap<u64, Option<Verdict>>,
}

fn verdict_text(v: Option<Verdict>) -> String {
    v.map_or("not judged", Verdict::code).to_uppercase()
}

impl LiveView {
    /// Writes what changed between the last snapshot and `snap`. `first` is the capture time
    /// of the first frame, `now` that of the latest, `frames` the frames taken so far.
    pub fn update(
        &mut self,
        w: &mut dyn Write,
        snap: &[FlowReport],
        first: Timestamp,
        now: Timestamp,
        frames: u64,
    ) -> io::Result<()> {
        let t0 = first.as_secs_f64();
        let mut events: Vec<(f64, String)> = Vec::new();
        let mut moved: Vec<&FlowReport> = Vec::new();
        for f in snap {
            let packets = f.packets_up + f.packets_down;
            let kind = f.kind.filter(|k| *k != Kind::Other);
            match self.flows.get_mut(&f.id) {
                None => {
                    let k = kind.map(|k| format!(" ({})", k.code())).unwrap_or_default();
                    events.push((
                        f.start - t0,
                        format!("flow {} new: {} -> {}{k}", f.id, f.client, f.server),
                    ));
                    if f.close != Close::Open {
                        events.push((
                            f.end - t0,
                            format!("flow {} closed ({})", f.id, f.close.code()),
                        ));
                    }
                    self.flows.insert(
                        f.id,
                        FlowSeen {
                            kind,
                            packets,
                            close: f.close,
                        },
                    );
                    moved.push(f);
                }
                Some(seen) => {
                    if kind.is_some() && kind != seen.kind {
                        events.push((
                            handshake_time(f).unwrap_or(f.end) - t0,
                            format!("flow {} is {}", f.id, kind.map_or("other", |k| k.code())),
                        ));
                        seen.kind = kind;
                    }
                    if f.close != seen.close {
                        events.push((
                            f.end - t0,
                            format!("flow {} closed ({})", f.id, f.close.code()),
                        ));
                        seen.close = f.close;
                    }
                    if packets != seen.packets {
                        seen.packets = packets;
                        moved.push(f);
                    }
                }
            }
            for r in &f.rsts {
                let codes = if r.evidence.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", EvidenceKind::join(&r.evidence, ", "))
                };
                match self.rsts.get(&r.frame) {
                    None => events.push((
                        r.rel_time,
                        format!(
                            "RST frame {} in flow {} from the {}, {} ttl {}: {}{codes}",
                            r.frame,
                            f.id,
                            r.from,
                            r.flags,
                            r.ttl,
                            verdict_text(r.verdict)
                        ),
                    )),
                    Some(v) if *v != r.verdict => events.push((
                        now.as_secs_f64() - t0,
                        format!(
                            "RST frame {} in flow {} now {} (was {}){codes}",
                            r.frame,
                            f.id,
                            verdict_text(r.verdict),
                            verdict_text(*v)
                        ),
                    )),
                    Some(_) => {}
                }
                self.rsts.insert(r.frame, r.verdict);
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, line) in &events {
            writeln!(w, "[{t:8.3} s] {line}")?;
        }
        if !moved.is_empty() {
            let elapsed = now.as_secs_f64() - t0;
            writeln!(
                w,
                "[{elapsed:8.3} s] {frames} frames, {} flows; active:",
                snap.len()
            )?;
            moved.sort_by_key(|f| std::cmp::Reverse(f.bytes_up + f.bytes_down));
            for f in moved.iter().take(STATUS_MAX_FLOWS) {
                writeln!(w, "             {}", status_line(f))?;
            }
            if moved.len() > STATUS_MAX_FLOWS {
                writeln!(
                    w,
                    "             ... and {} more",
                    moved.len() - STATUS_MAX_FLOWS
                )?;
            }
        }
        w.flush()
    }
}

/// When the flow's first BitTorrent handshake was seen (what made it `bittorrent`).
fn handshake_time(f: &FlowReport) -> Option<f64> {
    let bt = f.bittorrent.as_ref()?;
    [&bt.client, &bt.server]
        .iter()
        .filter_map(|side| side.handshake.as_ref().map(|h| h.time))
        .min_by(f64::total_cmp)
}

/// One flow in the periodic status: kind, direction, bytes each way, goodput, state.
fn status_line(f: &FlowReport) -> String {
    let mut s = format!(
        "flow {} {} -> {} {}",
        f.id,
        f.client,
        f.server,
        f.kind.map_or("?", |k| k.code())
    );
    if let Some(d) = f.direction {
        s.push_str(&format!(" {}", d.code()));
    }
    s.push_str(&format!(
        ", up {}, down {}, goodput {}, {}",
        human_bytes(f.bytes_up),
        human_bytes(f.bytes_down),
        f.goodput_bps.map_or("-".to_string(), human_rate),
        f.close.code()
    ));
    if !f.rsts.is_empty() {
        s.push_str(&format!(", {} RSTs", f.rsts.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::Side;
    use crate::synth::Conv;
    use crate::wire::TcpFlags;

    fn feed(a: &mut Analyzer, c: &Conv, range: std::ops::Range<usize>) {
        for p in &c.packets[range] {
            let rec = p.record(LinkType::RAW, None);
            a.frame(&rec.frame(a.frames() + 1, LinkType::RAW));
        }
    }

    fn view(v: &mut LiveView, a: &Analyzer, c: &Conv, upto: usize) -> String {
        let mut out = Vec::new();
        let first = c.packets[0].ts;
        let now = c.packets[upto - 1].ts;
        v.update(&mut out, &a.snapshot(), first, now, a.frames())
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_view_says_each_flow_kind_and_reset_once() {
        let mut c = Conv::new(
            "198.51.100.7:40001".parse().unwrap(),
            "203.0.113.9:6881".parse().unwrap(),
        );
        c.client_ttl = 64;
        c.handshake();
        let after_handshake = c.packets.len();
        c.data(
            Side::Client,
            &crate::synth::bt::handshake([0; 8], [7; 20], b"-GN0100-abcdefghijkl"),
        )
        .data(Side::Server, &[1; 500]);
        let mut forged = c.packet(Side::Client, TcpFlags::RST | TcpFlags::ACK, &[]);
        forged.ttl = 200;
        c.push(forged);
        let rst_frame = c.packets.len() as u64;
        c.data(Side::Client, b"still talking");
        let n = c.packets.len();

        let mut a = Analyzer::new(&Options::default());
        let mut v = LiveView::default();
        feed(&mut a, &c, 0..after_handshake);
        let first = view(&mut v, &a, &c, after_handshake);
        assert!(
            first.contains("flow 1 new: 198.51.100.7:40001 -> 203.0.113.9:6881\n"),
            "{first}"
        );
        assert!(first.contains("active:"), "{first}");

        feed(&mut a, &c, after_handshake..n);
        let second = view(&mut v, &a, &c, n);
        assert!(second.contains("flow 1 is bittorrent"), "{second}");
        assert!(!second.contains("new:"), "{second}");
        let rst_line = second
            .lines()
            .find(|l| l.contains(&format!("RST frame {rst_frame} in flow 1 from the client")))
            .unwrap_or_else(|| panic!("{second}"));
        assert!(rst_line.contains("ttl 200: FORGED ("), "{rst_line}");
        assert!(rst_line.contains("ttl_other_stack"), "{rst_line}");
        assert!(second.contains("bittorrent, up "), "{second}");

        // Nothing new: nothing said.
        let third = view(&mut v, &a, &c, n);
        assert_eq!(third, "");
    }

    #[test]
    fn a_changed_verdict_gets_its_own_line() {
        let mut v = LiveView::default();
        let mut c = Conv::new(
            "198.51.100.7:40001".parse().unwrap(),
            "203.0.113.9:6881".parse().unwrap(),
        );
        c.handshake().data(Side::Server, &[1; 100]);
        c.send(Side::Server, TcpFlags::RST | TcpFlags::ACK, &[]);
        let mut a = Analyzer::new(&Options::default());
        let n = c.packets.len();
        feed(&mut a, &c, 0..n);
        let mut snap = a.snapshot();
        let out = {
            let mut o = Vec::new();
            v.update(
                &mut o,
                &snap,
                c.packets[0].ts,
                c.packets[n - 1].ts,
                a.frames(),
            )
            .unwrap();
            String::from_utf8(o).unwrap()
        };
        assert!(out.contains("flow 1 closed (rst)"), "{out}");
        let before = snap[0].rsts[0].verdict;
        snap[0].rsts[0].verdict = Some(if before == Some(Verdict::Forged) {
            Verdict::Endpoint
        } else {
            Verdict::Forged
        });
        let mut o = Vec::new();
        v.update(
            &mut o,
            &snap,
            c.packets[0].ts,
            c.packets[n - 1].ts,
            a.frames(),
        )
        .unwrap();
        let out = String::from_utf8(o).unwrap();
        assert!(out.contains(" now "), "{out}");
        assert!(
            out.contains(&format!("(was {})", verdict_text(before))),
            "{out}"
        );
    }

    #[test]
    fn linktype_numbers_follow_the_registry() {
        assert_eq!(link_type(pcap::Linktype(1)), LinkType::ETHERNET);
        assert_eq!(link_type(pcap::Linktype(113)), LinkType::LINUX_SLL);
        assert_eq!(link_type(pcap::Linktype(276)), LinkType::LINUX_SLL2);
        // DLT_RAW is 12 on Linux; files (and bttrace) number it 101.
        assert_eq!(link_type(pcap::Linktype(12)), LinkType::RAW);
    }
}
