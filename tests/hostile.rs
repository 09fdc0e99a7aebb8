//! Hostile input: captures built in code with `bttrace::synth`, then damaged one field at a
//! time, plus the `[malformed]` fixtures. For every case:
//! - nothing panics, and the whole analysis (JSON and text reports included) finishes under a
//!   watchdog ([`WATCHDOG`]), so a hang fails the test instead of stalling the suite;
//! - the one-line error or the note the damage calls for is there, naming the frame and byte
//!   offset where it can;
//! - what comes before the damage is still analysed (frames counted, flows built).
//!
//! Tests whose doc comment says "Regression" assert behaviour that was wrong when this
//! suite was written (they were `#[ignore]`d as bugs) and has been fixed since.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use bttrace::btparse::Kind;
use bttrace::btparse::Message;
use bttrace::capture::{Frame, LinkType, Note, Timestamp};
use bttrace::flows::{Close, Roles, Side};
use bttrace::synth::{self, Conv, NgIface, PcapOpts, Record, bt};
use bttrace::wire::TcpFlags;
use bttrace::{CaptureReport, Options, analyze_bytes, analyze_file};

/// How long one analysis of a few kilobytes may take, in a debug build on a busy machine.
const WATCHDOG: Duration = Duration::from_secs(20);

// ---- the watchdog and the analysis under it -------------------------------------------------

/// Runs `f` on its own thread; fails if it panics (re-raising its panic) or does not finish
/// within [`WATCHDOG`].
fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn");
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {WATCHDOG:?} (hang?)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the thread ended without sending"),
        },
    }
}

/// A report and its text rendering, both made under the watchdog.
struct Analysed {
    r: CaptureReport,
    text: String,
}

impl std::ops::Deref for Analysed {
    type Target = CaptureReport;
    fn deref(&self) -> &CaptureReport {
        &self.r
    }
}

fn render(r: CaptureReport) -> Analysed {
    let json = serde_json::to_string(&r).expect("JSON");
    assert!(json.starts_with('{'));
    let mut text = Vec::new();
    bttrace::report::text::write_capture(&mut text, &r).expect("text report");
    let text = String::from_utf8(text).expect("text report is UTF-8");
    if let Some(e) = &r.error {
        assert!(!e.contains('\n'), "error is not one line: {e:?}");
    }
    for n in &r.notes {
        assert!(!n.to_string().contains('\n'), "note is not one line: {n}");
    }
    Analysed { r, text }
}

fn analyze_with(name: &str, bytes: Vec<u8>, opts: Options) -> Analysed {
    let n = name.to_string();
    guarded(name, move || render(analyze_bytes(&n, bytes, &opts)))
}

fn analyze(name: &str, bytes: Vec<u8>) -> Analysed {
    analyze_with(name, bytes, Options::default())
}

fn analyze_fixture(rel: &str) -> Analysed {
    let path = fixture(rel);
    guarded(rel, move || {
        render(analyze_file(&path, &Options::default()))
    })
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The note whose message contains `needle`; fails listing every note and the error.
fn note<'a>(r: &'a CaptureReport, needle: &str) -> &'a Note {
    r.notes
        .iter()
        .find(|n| n.message.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "{}: no note containing {needle:?}; notes: {:#?}; error: {:?}",
                r.path, r.notes, r.error
            )
        })
}

fn error(r: &CaptureReport) -> &str {
    r.error.as_deref().unwrap_or_else(|| {
        panic!(
            "{}: expected an error, got none; notes {:?}",
            r.path, r.notes
        )
    })
}

fn skipped(r: &CaptureReport, code: &str) -> (u64, u64) {
    r.skipped
        .get(code)
        .map(|t| (t.count, t.first_frame))
        .unwrap_or_else(|| panic!("{}: nothing skipped as {code}: {:?}", r.path, r.skipped))
}

fn anomaly(r: &CaptureReport, code: &str) -> (u64, u64) {
    r.anomalies
        .get(code)
        .map(|t| (t.count, t.first_frame))
        .unwrap_or_else(|| panic!("{}: no {code} anomaly: {:?}", r.path, r.anomalies))
}

// ---- the capture every case damages ---------------------------------------------------------

fn client() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 51413)
}

fn server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)), 6881)
}

const PIECE_BLOCK: u32 = 1000;

/// A BitTorrent connection, 20 packets:
/// 1 SYN, 2 SYN-ACK, 3 ACK, 4 client handshake, 5 ack, 6 server handshake, 7 ack,
/// 8 bitfield, 9 ack, 10 interested, 11 ack, 12 unchoke, 13 ack, 14 request, 15 ack,
/// 16 piece (1013 payload bytes), 17 ack, 18 FIN, 19 FIN, 20 ACK.
fn bt_conv_between(c: SocketAddr, s: SocketAddr) -> Conv {
    let msg = |m: Message| bt::message(&m, 0xee).expect("a message");
    let mut conv = Conv::new(c, s);
    conv.handshake();
    conv.data(
        Side::Client,
        &bt::handshake(
            [0, 0, 0, 0, 0, 0x10, 0, 5],
            [0xaa; 20],
            b"-TR3000-abcdefghijkl",
        ),
    );
    conv.data(
        Side::Server,
        &bt::handshake([0; 8], [0xaa; 20], b"-qB4250-mnopqrstuvwx"),
    );
    conv.data(Side::Server, &msg(Message::Bitfield { len: 20 }));
    conv.data(Side::Client, &msg(Message::Interested));
    conv.data(Side::Server, &msg(Message::Unchoke));
    conv.data(
        Side::Client,
        &msg(Message::Request {
            index: 0,
            begin: 0,
            length: PIECE_BLOCK,
        }),
    );
    conv.data(
        Side::Server,
        &msg(Message::Piece {
            index: 0,
            begin: 0,
            length: PIECE_BLOCK,
        }),
    );
    conv.close();
    conv
}

fn bt_conv() -> Conv {
    bt_conv_between(client(), server())
}

const FRAMES: u64 = 20;
/// Frame numbers (1-based) in [`bt_conv`].
const SYN: usize = 1;
const ACK_OF_HANDSHAKE: usize = 5;
const BITFIELD: usize = 8;
const PIECE: usize = 16;

fn records(conv: &Conv) -> Vec<Record> {
    conv.packets
        .iter()
        .map(|p| p.record(LinkType::ETHERNET, None))
        .collect()
}

fn pcap_of(recs: &[Record], o: PcapOpts) -> Vec<u8> {
    synth::pcap(LinkType::ETHERNET, recs, o)
}

fn base_pcap() -> Vec<u8> {
    pcap_of(&records(&bt_conv()), PcapOpts::default())
}

/// Byte offset of each record header in a little-endian classic pcap.
fn pcap_offsets(b: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        out.push(off);
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    out
}

/// Offset of frame `n`'s (1-based) IPv4 header in [`base_pcap`]'s bytes (Ethernet).
fn ip_at(b: &[u8], n: usize) -> usize {
    pcap_offsets(b)[n - 1] + 16 + 14
}

fn put_u32_le(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u16_be(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The report of the undamaged capture, for comparisons.
fn baseline() -> Analysed {
    analyze("base.pcap", base_pcap())
}

/// The one flow of [`bt_conv`], found by its client.
fn the_flow(r: &CaptureReport) -> &bttrace::model::FlowReport {
    r.flows
        .iter()
        .find(|f| f.client == client().to_string())
        .unwrap_or_else(|| panic!("{}: no flow from {}: {:?}", r.path, client(), r.flows.len()))
}

#[test]
fn the_undamaged_capture_is_what_the_cases_assume() {
    let r = baseline();
    assert_eq!(r.error, None);
    assert_eq!(r.frames, FRAMES);
    assert_eq!(r.tcp_segments, FRAMES);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert!(r.skipped.is_empty() && r.anomalies.is_empty());
    assert_eq!(r.flows.len(), 1);
    let f = the_flow(&r);
    assert_eq!(f.kind, Some(Kind::BitTorrent));
    assert_eq!(f.close, Close::Fin);
    assert_eq!(f.bytes_down, 68 + 25 + 5 + 13 + u64::from(PIECE_BLOCK));
    assert!(r.text.contains("bittorrent"));
}

// ---- classic pcap: the file header ----------------------------------------------------------

#[test]
fn bad_magic_is_a_one_line_error_showing_the_first_bytes() {
    let mut b = base_pcap();
    b[..8].copy_from_slice(b"<html><b");
    let r = analyze("page.html", b);
    assert_eq!(
        error(&r),
        "not a capture file (first bytes 3c 68 74 6d 6c 3e 3c 62 \"<html><b\"); bttrace reads \
         pcap and pcapng, optionally gzip-compressed"
    );
    assert_eq!(r.frames, 0);
    assert!(r.text.contains("error: not a capture file"));

    let mut b = base_pcap();
    b[..4].copy_from_slice(&[0xd4, 0xc3, 0xb2, 0xa2]);
    assert!(error(&analyze("near-miss", b)).contains("first bytes d4 c3 b2 a2"));
}

#[test]
fn empty_and_tiny_files_are_one_line_errors() {
    assert!(error(&analyze("empty", Vec::new())).contains("the file is empty"));
    assert!(error(&analyze("one byte", vec![0xd4])).contains("first bytes d4"));
    let b = base_pcap();
    assert_eq!(
        error(&analyze("short header", b[..20].to_vec())),
        "file ends inside the pcap file header"
    );
    let ng = base_pcapng();
    assert_eq!(
        error(&analyze("short ng header", ng[..10].to_vec())),
        "file ends inside the pcapng file header"
    );
}

#[test]
fn unknown_major_version_is_an_error_naming_it() {
    let mut b = base_pcap();
    b[4..6].copy_from_slice(&3u16.to_le_bytes());
    let r = analyze("v3.pcap", b);
    assert_eq!(error(&r), "unsupported pcap version 3.4");
    assert_eq!(r.frames, 0);
}

#[test]
fn unknown_minor_version_is_a_note_and_the_file_is_read() {
    let mut b = base_pcap();
    b[6..8].copy_from_slice(&7u16.to_le_bytes());
    let r = analyze("v2.7.pcap", b);
    let n = note(&r, "pcap minor version 7 is unknown; reading as 2.4");
    assert_eq!((n.frame, n.offset), (None, Some(6)));
    assert_eq!(r.frames, FRAMES);
    assert_eq!(r.flows.len(), 1);
}

#[test]
fn snaplen_zero_is_a_note_and_records_are_trusted_up_to_256_kib() {
    let mut b = base_pcap();
    put_u32_le(&mut b, 16, 0);
    let r = analyze("snaplen0.pcap", b);
    let n = note(&r, "snaplen 0 in the file header");
    assert_eq!(n.offset, Some(16));
    assert_eq!(r.frames, FRAMES);
    assert_eq!(the_flow(&r).kind, Some(Kind::BitTorrent));
}

#[test]
fn snaplen_4_gib_reads_normally_and_still_caps_a_record_at_16_mib() {
    let mut b = base_pcap();
    put_u32_le(&mut b, 16, u32::MAX);
    let r = analyze("snaplen4g.pcap", b.clone());
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.frames, FRAMES);

    // With the snaplen saying anything goes, a record claiming 20 MB is still refused
    // (never buffered) and everything before it analysed.
    let at = pcap_offsets(&b)[PIECE - 1];
    put_u32_le(&mut b, at + 8, 20_000_000);
    let r = analyze("snaplen4g-huge-record.pcap", b);
    let n = note(
        &r,
        "record claims 20000000 captured bytes, more than the 16777216",
    );
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert!(
        n.message.contains("analysed the 15 frames before it"),
        "{n}"
    );
    assert_eq!(r.frames, PIECE as u64 - 1);
    assert_eq!(the_flow(&r).kind, Some(Kind::BitTorrent));
}

#[test]
fn link_type_reserved_bits_are_a_note() {
    let mut b = base_pcap();
    put_u32_le(&mut b, 20, 0x0030_0001);
    let r = analyze("reserved-bits.pcap", b);
    let n = note(
        &r,
        "link-type field 0x00300001 has reserved bits set; using link type 1",
    );
    assert_eq!(n.offset, Some(20));
    assert_eq!(r.frames, FRAMES);
    assert_eq!(r.tcp_segments, FRAMES);
}

// ---- classic pcap: records ------------------------------------------------------------------

#[test]
fn record_longer_than_the_file_is_a_note_and_earlier_frames_count() {
    let mut b = base_pcap();
    let offs = pcap_offsets(&b);
    let last = *offs.last().unwrap();
    let caplen = u32::from_le_bytes(b[last + 8..last + 12].try_into().unwrap());
    put_u32_le(&mut b, last + 8, caplen + 100);
    let r = analyze("overrun.pcap", b);
    let n = note(
        &r,
        &format!(
            "last record cut short: {caplen} of its {} bytes are in the file",
            caplen + 100
        ),
    );
    assert_eq!((n.frame, n.offset), (Some(FRAMES), Some(last as u64)));
    assert!(
        n.message
            .contains("analysed the 19 complete frames before it"),
        "{n}"
    );
    assert_eq!(r.frames, FRAMES - 1);
    let f = the_flow(&r);
    assert_eq!(f.kind, Some(Kind::BitTorrent));
    assert_eq!(f.bytes_down, baseline().flows[0].bytes_down);
}

#[test]
fn file_cut_inside_a_record_header_or_body_keeps_the_frames_before() {
    let b = base_pcap();
    let offs = pcap_offsets(&b);
    let at = offs[PIECE - 1];
    let r = analyze("cut-in-header.pcap", b[..at + 5].to_vec());
    let n = note(&r, "file ends inside a record header (5 of 16 bytes)");
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);

    let r = analyze("cut-in-body.pcap", b[..at + 16 + 30].to_vec());
    let n = note(&r, "last record cut short: 30 of its");
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);
    assert_eq!(the_flow(&r).kind, Some(Kind::BitTorrent));
}

#[test]
fn record_larger_than_the_snaplen_is_read_up_to_libpcaps_maximum() {
    // libpcap reads a record longer than the header's snaplen (up to 256 KiB); so does
    // bttrace. Beyond that the file is corrupt from the record on.
    let recs = records(&bt_conv());
    let b = pcap_of(
        &recs,
        PcapOpts {
            snaplen: 64,
            ..PcapOpts::default()
        },
    );
    let r = analyze("over-snaplen.pcap", b.clone());
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.frames, FRAMES);
    assert_eq!(the_flow(&r).bytes_down, baseline().flows[0].bytes_down);

    let mut b = b;
    let at = pcap_offsets(&b)[ACK_OF_HANDSHAKE - 1];
    put_u32_le(&mut b, at + 8, 300_000);
    let r = analyze("over-256k.pcap", b);
    let n = note(
        &r,
        "record claims 300000 captured bytes, more than the 262144 a record can hold",
    );
    assert_eq!(
        (n.frame, n.offset),
        (Some(ACK_OF_HANDSHAKE as u64), Some(at as u64))
    );
    assert!(n.message.contains("corrupt from here"));
    assert_eq!(r.frames, ACK_OF_HANDSHAKE as u64 - 1);
    assert_eq!(r.flows.len(), 1);
}

#[test]
fn zero_length_records_are_frames_skipped_as_link_truncated() {
    let mut recs = records(&bt_conv());
    let empty = Record {
        ts: recs[5].ts,
        data: Vec::new(),
        wire_len: 0,
    };
    let cut_to_nothing = Record {
        ts: recs[5].ts,
        data: Vec::new(),
        wire_len: 60,
    };
    recs.insert(5, empty);
    recs.insert(6, cut_to_nothing);
    let r = analyze("zero-length.pcap", pcap_of(&recs, PcapOpts::default()));
    assert_eq!(r.frames, FRAMES + 2);
    assert_eq!(r.tcp_segments, FRAMES);
    assert_eq!(skipped(&r, "link_truncated"), (2, 6));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(the_flow(&r).bytes_down, baseline().flows[0].bytes_down);
}

#[test]
fn time_going_backwards_is_a_note_naming_the_first_frame() {
    let mut conv = bt_conv();
    // Frames 8 and 12 step back one second; the rest keep going forward.
    for i in [7, 11] {
        conv.packets[i].ts = Timestamp(conv.packets[i].ts.0 - 1_000_000_000);
    }
    let r = analyze(
        "backwards.pcap",
        pcap_of(&records(&conv), PcapOpts::default()),
    );
    let n = note(
        &r,
        "capture time goes backwards 2 times; intervals use the latest time seen",
    );
    assert_eq!(n.frame, Some(8));
    assert_eq!(r.frames, FRAMES);
    let f = the_flow(&r);
    assert_eq!(f.kind, Some(Kind::BitTorrent));
    assert!(f.duration_s >= 0.0);
    assert!(
        f.series
            .up
            .iter()
            .chain(&f.series.down)
            .map(|&x| u64::from(x))
            .sum::<u64>()
            > 0
    );
}

#[test]
fn sub_second_fields_out_of_range_are_a_note() {
    let mut b = base_pcap();
    for (i, off) in pcap_offsets(&b).into_iter().enumerate() {
        if i % 5 == 0 {
            put_u32_le(&mut b, off + 4, 1_500_000);
        }
    }
    let r = analyze("bad-usec.pcap", b);
    note(
        &r,
        "4 records have a sub-second timestamp field out of range; used as is",
    );
    assert_eq!(r.frames, FRAMES);
}

#[test]
fn garbage_after_the_last_record_is_reported_not_read_as_frames() {
    let mut b = base_pcap();
    let end = b.len();
    b.extend_from_slice(&[0xff; 40]);
    let r = analyze("trailing-garbage.pcap", b);
    let n = note(&r, "more than the 262144 a record can hold");
    assert_eq!((n.frame, n.offset), (Some(FRAMES + 1), Some(end as u64)));
    assert_eq!(r.frames, FRAMES);
}

// ---- pcapng ---------------------------------------------------------------------------------

fn base_pcapng() -> Vec<u8> {
    let recs = records(&bt_conv());
    let pkts: Vec<(u32, Record)> = recs.into_iter().map(|r| (0, r)).collect();
    synth::pcapng(
        &[NgIface {
            link: LinkType::ETHERNET,
            tsresol: 6,
        }],
        &pkts,
    )
}

/// (offset, type, length) of each block of a little-endian pcapng file.
fn ng_blocks(b: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 12 <= b.len() {
        let t = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
        out.push((off, t, len));
        if len < 12 {
            break;
        }
        off += len;
    }
    out
}

/// Offset of the enhanced packet block of frame `n` (1-based).
fn epb_at(b: &[u8], n: usize) -> usize {
    ng_blocks(b)
        .into_iter()
        .filter(|x| x.1 == 6)
        .nth(n - 1)
        .unwrap()
        .0
}

fn ng_block(btype: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()).div_ceil(4) * 4;
    let mut out = Vec::new();
    out.extend_from_slice(&btype.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(body);
    out.resize(len - 4, 0);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

fn shb_body(major: u16, minor: u16, options: &[u8]) -> Vec<u8> {
    let mut b = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    b.extend_from_slice(&major.to_le_bytes());
    b.extend_from_slice(&minor.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    b.extend_from_slice(options);
    b
}

/// The blocks of [`base_pcapng`] after its section header.
fn ng_after_shb() -> Vec<u8> {
    let b = base_pcapng();
    let (_, t, len) = ng_blocks(&b)[0];
    assert_eq!(t, 0x0A0D_0D0A);
    b[len..].to_vec()
}

#[test]
fn the_undamaged_pcapng_reads_like_the_pcap() {
    let r = analyze("base.pcapng", base_pcapng());
    assert_eq!(r.error, None);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.frames, FRAMES);
    assert_eq!(the_flow(&r).bytes_down, baseline().flows[0].bytes_down);
}

#[test]
fn pcapng_block_whose_trailing_length_disagrees_ends_the_input_there() {
    let mut b = base_pcapng();
    let at = epb_at(&b, PIECE);
    let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
    put_u32_le(&mut b, at + len - 4, len as u32 + 4);
    let r = analyze("trailer.pcapng", b);
    let n = note(
        &r,
        &format!(
            "block of type 6: trailing length {} differs from leading length {len}: the file is \
             corrupt from here; analysed the 15 frames before it",
            len + 4
        ),
    );
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);
    assert_eq!(the_flow(&r).kind, Some(Kind::BitTorrent));
}

#[test]
fn pcapng_block_length_that_overruns_the_file_is_a_note() {
    let mut b = base_pcapng();
    let at = epb_at(&b, PIECE);
    put_u32_le(&mut b, at + 4, 1 << 20);
    let total = b.len() - at;
    let r = analyze("overrun.pcapng", b);
    let n = note(
        &r,
        &format!("last block cut short: {total} of its 1048576 bytes are in the file"),
    );
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);
}

#[test]
fn pcapng_block_lengths_that_cannot_be_are_a_note() {
    for (bad, what) in [
        (13u32, "not a multiple of 4"),
        (8, "below the 12-byte minimum"),
        (0, "zero"),
        (32 << 20, "above the 16 MiB bound"),
        (u32::MAX, "4 GiB"),
    ] {
        let mut b = base_pcapng();
        let at = epb_at(&b, ACK_OF_HANDSHAKE);
        put_u32_le(&mut b, at + 4, bad);
        let r = analyze(what, b);
        let n = note(&r, &format!("block of type 6 has invalid length {bad}"));
        assert_eq!(
            (n.frame, n.offset),
            (Some(ACK_OF_HANDSHAKE as u64), Some(at as u64)),
            "{what}"
        );
        assert_eq!(r.frames, ACK_OF_HANDSHAKE as u64 - 1, "{what}");
        assert_eq!(r.flows.len(), 1, "{what}");
    }
}

#[test]
fn enhanced_packet_block_too_small_for_its_captured_length_is_a_note() {
    let mut b = base_pcapng();
    let at = epb_at(&b, PIECE);
    let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap());
    put_u32_le(&mut b, at + 20, 5000);
    let r = analyze("epb-caplen.pcapng", b);
    let n = note(
        &r,
        &format!("enhanced packet block of {len} bytes cannot hold its 5000 captured bytes"),
    );
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert!(n.message.contains("corrupt from here"));
    assert_eq!(r.frames, PIECE as u64 - 1);
}

#[test]
fn packet_naming_an_undescribed_interface_is_a_note() {
    let mut b = base_pcapng();
    let at = epb_at(&b, PIECE);
    put_u32_le(&mut b, at + 8, 5);
    let r = analyze("iface5.pcapng", b);
    let n = note(
        &r,
        "packet names interface 5, but only 1 interfaces are described",
    );
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);

    // No interface at all before the first packet.
    let mut b = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    let rest = ng_after_shb();
    let (_, t, idb_len) = ng_blocks(&rest)[0];
    assert_eq!(t, 1);
    b.extend_from_slice(&rest[idb_len..]);
    let r = analyze("no-idb.pcapng", b);
    note(
        &r,
        "packet names interface 0, but only 0 interfaces are described",
    );
    assert_eq!(r.frames, 0);
}

#[test]
fn interface_option_that_overruns_its_block_is_a_note_and_packets_are_read() {
    let mut b = base_pcapng();
    let (idb, t, _) = ng_blocks(&b)[1];
    assert_eq!(t, 1);
    // The if_tsresol option (code 9 at body offset 8) claims 200 bytes.
    b[idb + 8 + 8 + 2..idb + 8 + 8 + 4].copy_from_slice(&200u16.to_le_bytes());
    let r = analyze("idb-option.pcapng", b);
    let n = note(
        &r,
        "interface 0 description: an option overruns its block; later options ignored",
    );
    assert_eq!(n.offset, Some(idb as u64));
    assert_eq!(r.frames, FRAMES);
    assert_eq!(the_flow(&r).kind, Some(Kind::BitTorrent));
}

#[test]
fn section_header_option_that_overruns_is_a_note_and_packets_are_read() {
    // shb_comment claiming 100 bytes with 4 present.
    let mut opts = 1u16.to_le_bytes().to_vec();
    opts.extend_from_slice(&100u16.to_le_bytes());
    opts.extend_from_slice(b"oops");
    let mut b = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &opts));
    b.extend_from_slice(&ng_after_shb());
    let r = analyze("shb-option.pcapng", b);
    let n = note(
        &r,
        "section header option overruns its block; options ignored",
    );
    assert_eq!(n.offset, Some(0));
    assert_eq!(r.frames, FRAMES);
}

#[test]
fn section_headers_that_cannot_be_read() {
    let after = ng_after_shb();
    let with = |shb: Vec<u8>| {
        let mut b = shb;
        b.extend_from_slice(&after);
        b
    };
    let r = analyze("v1.1", with(ng_block(0x0A0D_0D0A, &shb_body(1, 1, &[]))));
    assert_eq!(error(&r), "unsupported pcapng version 1.1");

    let mut shb = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    shb[8..12].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    let r = analyze("no-bom", with(shb));
    assert_eq!(
        error(&r),
        "byte 0: section header has no valid byte-order mark"
    );

    let mut shb = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    put_u32_le(&mut shb, 4, 20);
    assert_eq!(
        error(&analyze("shb-len", with(shb))),
        "byte 0: section header length 20 is invalid"
    );

    let mut shb = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    let l = shb.len();
    put_u32_le(&mut shb, l - 4, 99);
    assert!(
        error(&analyze("shb-trailer", with(shb)))
            .contains("section header's trailing length differs from its leading length")
    );
}

#[test]
fn a_later_section_with_an_unknown_version_is_skipped_and_the_next_one_read() {
    let after = ng_after_shb();
    let mut b = base_pcapng();
    let first_len = b.len();
    b.extend_from_slice(&ng_block(0x0A0D_0D0A, &shb_body(2, 0, &[])));
    b.extend_from_slice(&after); // skipped: inside the version-2 section
    b.extend_from_slice(&ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[])));
    b.extend_from_slice(&after);
    let r = analyze("sections.pcapng", b);
    let n = note(&r, "section with unsupported pcapng version 2.0 skipped");
    assert_eq!(n.offset, Some(first_len as u64));
    assert_eq!(r.frames, 2 * FRAMES);
}

#[test]
fn pcapng_cut_inside_a_block_header() {
    let b = base_pcapng();
    let at = epb_at(&b, PIECE);
    let r = analyze("cut.pcapng", b[..at + 6].to_vec());
    let n = note(&r, "file ends inside a block header");
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);
}

#[test]
fn pcapng_timestamps_out_of_range_are_clamped_with_a_note() {
    // Two packets of different flows, the second with a timestamp past i64 nanoseconds.
    let mut b = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    b.extend_from_slice(&idb(101, 9));
    let syn = |port: u16, units: u64| {
        let mut conv = Conv::new(SocketAddr::new(client().ip(), port), server());
        conv.send(Side::Client, TcpFlags::SYN, &[]);
        epb(0, units, &conv.packets[0].ip_bytes())
    };
    b.extend_from_slice(&syn(1000, 1_700_000_000_000_000_000));
    b.extend_from_slice(&syn(1001, u64::MAX));
    let r = analyze("ts-overflow.pcapng", b);
    note(&r, "some timestamps were out of range");
    assert_eq!(r.frames, 2);
    assert_eq!(r.flows.len(), 2);
}

/// An interface description block: link type and `if_tsresol`.
fn idb(link: u16, tsresol: u8) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    body.extend_from_slice(&9u16.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&[tsresol, 0, 0, 0, 0, 0, 0, 0]);
    ng_block(1, &body)
}

/// An enhanced packet block of interface `iface` at `units` of its resolution.
fn epb(iface: u32, units: u64, data: &[u8]) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(units as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    ng_block(6, &body)
}

/// Regression (fixed in ef12415); the bug was: Series::add multiplies (idx + 1) *
/// interval_ns without overflow check (src/flows/series.rs:73): a flow spanning ~i64::MAX ns
/// panics with overflow checks on
#[test]
fn a_flow_spanning_the_whole_timestamp_range_does_not_overflow_the_series() {
    // One flow: data at time 0 and at a timestamp clamped to i64::MAX nanoseconds.
    let mut b = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    b.extend_from_slice(&idb(101, 9));
    let mut conv = Conv::new(client(), server());
    conv.send(Side::Client, TcpFlags::PSH | TcpFlags::ACK, b"aaaaaaaaaa");
    conv.send(Side::Client, TcpFlags::PSH | TcpFlags::ACK, b"bbbbbbbbbb");
    b.extend_from_slice(&epb(0, 0, &conv.packets[0].ip_bytes()));
    b.extend_from_slice(&epb(0, u64::MAX, &conv.packets[1].ip_bytes()));
    let r = analyze("series-overflow.pcapng", b);
    note(&r, "some timestamps were out of range");
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0].bytes_up, 20);
    assert!(r.flows[0].series.up.len() <= 4096);
}

/// Regression (fixed in ef12415); the bug was: an enhanced packet block shorter than
/// its fixed fields (here 16 bytes) is read past its end: the note names a captured length
/// taken from the next block
#[test]
fn enhanced_packet_block_shorter_than_its_fields_is_called_too_short() {
    let mut b = base_pcapng();
    let at = epb_at(&b, PIECE);
    // Replace frame 16's block with a 16-byte EPB (4 body bytes: the interface id only).
    let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
    let short = ng_block(6, &0u32.to_le_bytes());
    b.splice(at..at + len, short);
    let r = analyze("short-epb.pcapng", b);
    let n = note(&r, "enhanced packet block too short");
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);
}

/// Regression (fixed in ef12415); the bug was: an interface description block shorter
/// than its 20-byte minimum is accepted without a note; its link type is read from its own
/// trailing length (12 = raw IP) and its snaplen from the next block
#[test]
fn interface_block_shorter_than_its_fields_is_a_note() {
    let mut b = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    b.extend_from_slice(&ng_block(1, &[]));
    b.extend_from_slice(&ng_after_shb());
    let r = analyze("short-idb.pcapng", b);
    assert!(
        r.notes
            .iter()
            .any(|n| n.message.contains("interface") && n.message.contains("short")),
        "no note about the 12-byte interface block: {:?}; link types {:?}",
        r.notes,
        r.link_types
    );
    assert!(
        !r.link_types.contains(&LinkType::RAW_12),
        "{:?}",
        r.link_types
    );
}

// ---- IPv4 and TCP headers -------------------------------------------------------------------

fn damaged_frame(name: &str, frame: usize, damage: impl FnOnce(&mut [u8])) -> Analysed {
    let mut b = base_pcap();
    let ip = ip_at(&b, frame);
    damage(&mut b[ip..]);
    analyze(name, b)
}

#[test]
fn ipv4_header_length_below_5_words_is_skipped_as_bad_header() {
    let base = baseline();
    for ihl in 0..5u8 {
        let r = damaged_frame("ihl", BITFIELD, |ip| ip[0] = 0x40 | ihl);
        assert_eq!(
            skipped(&r, "ip_bad_header"),
            (1, BITFIELD as u64),
            "ihl {ihl}"
        );
        assert_eq!(r.frames, FRAMES);
        assert_eq!(r.tcp_segments, FRAMES - 1);
        // The bitfield (25 bytes) was never seen, but the client acknowledged it once later
        // data arrived: lost before the capture point, and the rest still counted.
        let f = the_flow(&r);
        assert_eq!(f.kind, Some(Kind::BitTorrent));
        assert_eq!(f.missing_down, 25, "ihl {ihl}");
        assert_eq!(f.bytes_down, base.flows[0].bytes_down - 25, "ihl {ihl}");
    }
}

#[test]
fn ipv4_total_length_below_the_header_is_skipped_as_bad_header() {
    let r = damaged_frame("total<ihl", PIECE, |ip| put_u16_be(ip, 2, 12));
    assert_eq!(skipped(&r, "ip_bad_header"), (1, PIECE as u64));
    assert_eq!(r.frames, FRAMES);
}

#[test]
fn ipv4_total_length_larger_than_the_frame_believes_the_wire_length() {
    let base = baseline();
    let r = damaged_frame("total>frame", PIECE, |ip| put_u16_be(ip, 2, 60_000));
    assert_eq!(anomaly(&r, "ip_length_exceeds_frame"), (1, PIECE as u64));
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    let (f, g) = (the_flow(&r), &base.flows[0]);
    // No byte is invented: the same payload as the undamaged capture.
    assert_eq!(f.bytes_down, g.bytes_down);
    assert_eq!(f.payload_down, g.payload_down);
    assert_eq!(f.truncated_down, 0);
}

#[test]
fn ipv4_total_length_zero_is_taken_from_the_wire_as_segmentation_offload_leaves_it() {
    let base = baseline();
    let r = damaged_frame("total0", PIECE, |ip| put_u16_be(ip, 2, 0));
    assert!(r.skipped.is_empty() && r.anomalies.is_empty());
    assert_eq!(the_flow(&r).bytes_down, base.flows[0].bytes_down);
}

#[test]
fn ipv4_fragment_is_counted_not_used() {
    let r = damaged_frame("mf", PIECE, |ip| ip[6] |= 0x20);
    assert_eq!(skipped(&r, "ip_fragment"), (1, PIECE as u64));
}

#[test]
fn tcp_data_offset_below_5_or_beyond_the_packet_is_skipped_as_bad_header() {
    for doff in [0u8, 4, 6, 15] {
        // Frame 17 is a bare ACK: 20 bytes of TCP header, no payload, so an offset of 6 or
        // more words claims bytes the packet does not have.
        let r = damaged_frame("doff", PIECE + 1, |ip| ip[20 + 12] = doff << 4);
        assert_eq!(
            skipped(&r, "tcp_bad_header"),
            (1, PIECE as u64 + 1),
            "data offset {doff}"
        );
        assert_eq!(r.tcp_segments, FRAMES - 1);
        assert_eq!(r.flows.len(), 1);
    }
}

#[test]
fn tcp_data_offset_inside_the_payload_shortens_it_and_nothing_breaks() {
    // The piece's data offset says 15 words: 40 payload bytes become "options".
    let r = damaged_frame("doff-in-payload", PIECE, |ip| ip[20 + 12] = 15 << 4);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    let f = the_flow(&r);
    assert_eq!(f.bytes_down, baseline().flows[0].bytes_down - 40);
}

/// A connection whose SYN carries options (MSS, NOP, window scale): frames as [`bt_conv`].
fn syn_options_pcap(options: &[u8]) -> Vec<u8> {
    let mut conv = bt_conv();
    conv.packets[SYN - 1].options = options.to_vec();
    pcap_of(&records(&conv), PcapOpts::default())
}

#[test]
fn tcp_option_that_overruns_the_header_is_an_anomaly_and_the_segment_is_used() {
    for (opts, what) in [
        (
            &[2u8, 40, 5, 0xb4, 1, 3, 3, 7][..],
            "MSS length 40 in 8 bytes",
        ),
        (
            &[1, 1, 1, 8, 10, 0, 0, 0][..],
            "timestamps length 10 in 5 bytes",
        ),
        (&[3, 0, 0, 0][..], "length 0"),
        (&[3, 1, 0, 0][..], "length 1"),
        (&[1, 1, 1, 2][..], "length byte missing"),
    ] {
        let r = analyze(what, syn_options_pcap(opts));
        assert_eq!(anomaly(&r, "tcp_options_malformed"), (1, 1), "{what}");
        assert_eq!(r.tcp_segments, FRAMES, "{what}");
        let f = the_flow(&r);
        assert_eq!(f.roles, Roles::Syn, "{what}");
        assert!(f.rtt_ms.is_some(), "{what}");
    }
}

#[test]
fn tcp_options_cut_by_the_snaplen_are_an_anomaly() {
    let mut conv = bt_conv();
    conv.packets[SYN - 1].options = vec![2, 4, 5, 0xb4, 1, 3, 3, 7];
    let mut recs = records(&conv);
    // Keep the fixed TCP header and 3 option bytes.
    recs[SYN - 1].data.truncate(14 + 20 + 20 + 3);
    let r = analyze("options-cut", pcap_of(&recs, PcapOpts::default()));
    assert_eq!(anomaly(&r, "tcp_options_truncated"), (1, 1));
    assert_eq!(the_flow(&r).roles, Roles::Syn);
}

#[test]
fn tcp_header_cut_by_the_snaplen_is_skipped_as_truncated() {
    let mut recs = records(&bt_conv());
    recs[PIECE - 1].data.truncate(14 + 20 + 10);
    let r = analyze("tcp-cut", pcap_of(&recs, PcapOpts::default()));
    assert_eq!(skipped(&r, "tcp_truncated"), (1, PIECE as u64));
}

#[test]
fn snaplen_cut_payload_is_a_hole_of_known_length() {
    let recs: Vec<Record> = bt_conv()
        .packets
        .iter()
        .map(|p| p.record(LinkType::ETHERNET, Some(14 + 40 + 200)))
        .collect();
    let r = analyze(
        "snaplen254",
        pcap_of(
            &recs,
            PcapOpts {
                snaplen: 254,
                ..PcapOpts::default()
            },
        ),
    );
    let f = the_flow(&r);
    assert_eq!(f.bytes_down, baseline().flows[0].bytes_down);
    assert_eq!(f.truncated_down, 13 + u64::from(PIECE_BLOCK) - 200);
    assert_eq!(f.kind, Some(Kind::BitTorrent));
}

/// Regression (fixed in ef12415); the bug was: an IPv4 header that does not fit in the
/// packet as it was on the wire (not cut by the snaplen) is reported as ip_truncated ("IP
/// header cut by the snaplen") instead of ip_bad_header; same for the fixture
/// zeek/ipv4-truncated-broken-header.pcap
#[test]
fn ipv4_header_longer_than_the_uncut_packet_is_a_bad_header_not_a_snaplen_cut() {
    // A bare ACK (40 bytes of IP) claiming a 60-byte IP header; total length 40 < 60.
    let r = damaged_frame("ihl15", PIECE + 1, |ip| ip[0] = 0x4f);
    assert_eq!(skipped(&r, "ip_bad_header"), (1, PIECE as u64 + 1));

    let r = analyze_fixture("zeek/ipv4-truncated-broken-header.pcap");
    assert_eq!(skipped(&r, "ip_bad_header"), (1, 1));
}

#[test]
fn ethernet_frame_shorter_than_its_header_is_link_truncated() {
    let mut recs = records(&bt_conv());
    recs[PIECE - 1].data.truncate(10);
    let r = analyze("eth-cut", pcap_of(&recs, PcapOpts::default()));
    assert_eq!(skipped(&r, "link_truncated"), (1, PIECE as u64));
}

// ---- IPv6 -----------------------------------------------------------------------------------

fn v6_conv() -> Conv {
    let c = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
        51413,
    );
    let s = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9)),
        6881,
    );
    bt_conv_between(c, s)
}

#[test]
fn ipv6_payload_length_beyond_the_frame_and_bad_extension_chains() {
    let conv = v6_conv();
    let recs = records(&conv);
    let b = pcap_of(&recs, PcapOpts::default());
    let r = analyze("v6", b.clone());
    assert_eq!(r.tcp_segments, FRAMES);
    let bytes_down = r.flows[0].bytes_down;

    let ip = pcap_offsets(&b)[PIECE - 1] + 16 + 14;
    let mut long = b.clone();
    put_u16_be(&mut long, ip + 4, 60_000);
    let r = analyze("v6-plen", long);
    assert_eq!(anomaly(&r, "ip_length_exceeds_frame"), (1, PIECE as u64));
    assert_eq!(r.flows[0].bytes_down, bytes_down);

    // Next header: hop-by-hop, whose length byte claims 2 KiB.
    let mut chain = b.clone();
    chain[ip + 6] = 0;
    chain[ip + 40 + 1] = 255;
    let r = analyze("v6-hbh", chain);
    assert_eq!(skipped(&r, "ip_bad_header"), (1, PIECE as u64));

    // Destination-options headers written over the TCP header, the last pointing at yet
    // another: the walk runs into the payload and must stop there.
    let mut deep = b;
    deep[ip + 6] = 60;
    for k in 0..4 {
        deep[ip + 40 + 8 * k] = 60;
        deep[ip + 40 + 8 * k + 1] = 0;
    }
    let r = analyze("v6-deep", deep);
    assert_eq!(r.frames, FRAMES);
    assert_eq!(r.tcp_segments, FRAMES - 1);
}

// ---- gzip -----------------------------------------------------------------------------------

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A capture that does not compress much (random payloads), 2 + 400 frames.
fn incompressible_pcap() -> Vec<u8> {
    let mut conv = Conv::new(client(), server());
    conv.handshake();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let payload: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        conv.data(Side::Server, &payload);
    }
    pcap_of(&records(&conv), PcapOpts::default())
}

#[test]
fn gzip_copy_reads_like_the_original() {
    let r = analyze("base.pcap.gz", gzip(&base_pcap()));
    assert!(r.gzip);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(r.frames, FRAMES);
}

#[test]
fn gzip_stream_cut_off_keeps_the_frames_before_it() {
    let plain = incompressible_pcap();
    let total = pcap_offsets(&plain).len() as u64;
    let gz = gzip(&plain);
    let cut = gz.len() / 2;
    let r = analyze("cut.pcap.gz", gz[..cut].to_vec());
    assert!(r.gzip);
    assert_eq!(r.error, None);
    let n = note(
        &r,
        &format!("gzip stream damaged or cut off after {cut} compressed bytes"),
    );
    assert!(
        n.message
            .ends_with(&format!("analysed the {} frames before it", r.frames)),
        "{n}"
    );
    assert!(n.offset.is_some());
    assert!(
        r.frames > total / 4 && r.frames < total,
        "{} of {total} frames",
        r.frames
    );
    assert_eq!(r.flows.len(), 1);
    assert!(r.flows[0].bytes_down > 0);
}

#[test]
fn gzip_stream_with_a_bad_checksum_is_a_note_after_every_frame() {
    let mut gz = gzip(&base_pcap());
    let n = gz.len();
    gz[n - 8] ^= 0xff; // CRC32 of the member
    let r = analyze("crc.pcap.gz", gz);
    assert_eq!(r.frames, FRAMES);
    note(&r, "gzip stream damaged or cut off");
}

#[test]
fn gzip_with_trailing_garbage_reads_every_frame() {
    let mut gz = gzip(&base_pcap());
    gz.extend_from_slice(b"this is not another gzip member");
    let r = analyze("trailing.pcap.gz", gz);
    assert_eq!(r.frames, FRAMES);
    assert_eq!(r.flows.len(), 1);
}

#[test]
fn gzip_that_cannot_be_decompressed_or_holds_no_capture_is_an_error() {
    let gz = gzip(&base_pcap());
    let r = analyze("header-only.gz", gz[..10].to_vec());
    assert!(
        error(&r).starts_with("not a capture file (gzip stream unreadable: "),
        "{:?}",
        r.error
    );
    let mut garbage = gz[..10].to_vec();
    garbage.extend_from_slice(&[0xff; 64]);
    assert!(error(&analyze("garbage.gz", garbage)).contains("gzip stream unreadable"));
    assert!(error(&analyze("text.gz", gzip(b"hello, world\n"))).contains("first bytes 68 65 6c"));
    assert!(error(&analyze("empty.gz", gzip(b""))).contains("not a capture file"));
    let r = analyze("just-2-bytes.gz", vec![0x1f, 0x8b]);
    assert!(error(&r).contains("not a capture file"), "{:?}", r.error);
}

#[test]
fn gzip_of_a_damaged_capture_reports_both() {
    let mut plain = base_pcap();
    let at = pcap_offsets(&plain)[PIECE - 1];
    put_u32_le(&mut plain, at + 8, 20_000_000);
    let r = analyze("damaged.pcap.gz", gzip(&plain));
    assert!(r.gzip);
    let n = note(&r, "record claims 20000000 captured bytes");
    assert_eq!((n.frame, n.offset), (Some(PIECE as u64), Some(at as u64)));
    assert_eq!(r.frames, PIECE as u64 - 1);
}

/// A gzip bomb in small: 20,000 records of 100 zero bytes (2.3 MB) compress a thousandfold.
fn zeros_gz() -> Vec<u8> {
    let recs: Vec<Record> = (0..20_000)
        .map(|_| Record {
            ts: Timestamp(T0),
            data: vec![0; 100],
            wire_len: 100,
        })
        .collect();
    gzip(&pcap_of(&recs, PcapOpts::default()))
}

#[test]
fn a_gzip_stream_expanding_beyond_its_ratio_bound_stops_with_a_note() {
    let gz = zeros_gz();
    assert!(gz.len() < 20_000, "{} bytes compressed", gz.len());
    let bound = bttrace::capture::GzipBound {
        ratio: 10,
        free: 64 << 10,
    };
    let opts = Options {
        gzip: bound,
        ..Options::default()
    };
    let r = analyze_with("bomb.pcap.gz", gz.clone(), opts);
    assert!(r.error.is_none());
    assert!(r.frames > 0 && r.frames < 20_000, "{} frames", r.frames);
    let n = note(&r, "beyond the bound of 10 times");
    assert!(n.message.contains("--gzip-ratio"), "{n}");
    // Nothing else is said about the record the bound cut.
    assert!(
        !r.notes.iter().any(|n| n.message.contains("cut short")),
        "{:?}",
        r.notes
    );
    // Lifted, every frame is read.
    let opts = Options {
        gzip: bttrace::capture::GzipBound { ratio: 0, ..bound },
        ..Options::default()
    };
    let r = analyze_with("bomb.pcap.gz", gz, opts);
    assert_eq!(r.frames, 20_000);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

// ---- bounds on hostile traffic (small versions of bench/memory.sh) --------------------------

fn syn(src: SocketAddr, dst: SocketAddr, isn: u32, ts: i64) -> Record {
    let mut conv = Conv::new(src, dst);
    conv.client_seq = isn;
    conv.ts = Timestamp(ts);
    conv.send(Side::Client, TcpFlags::SYN, &[]);
    conv.packets[0].record(LinkType::ETHERNET, None)
}

#[test]
fn a_syn_flood_beyond_the_flow_bound_retires_flows_and_counts_them() {
    let recs: Vec<Record> = (0..2000u32)
        .map(|i| {
            let src = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i % 250) as u8)),
                10_000 + i as u16,
            );
            syn(
                src,
                server(),
                i * 7919,
                1_700_000_000_000_000_000 + i64::from(i) * 1000,
            )
        })
        .collect();
    let opts = Options {
        max_flows: 100,
        ..Options::default()
    };
    let r = analyze_with("flood", pcap_of(&recs, PcapOpts::default()), opts);
    assert_eq!(r.frames, 2000);
    assert!(r.flows.len() <= 100, "{} flows listed", r.flows.len());
    let retired = r.flows_retired.expect("flows_retired");
    assert_eq!(retired.flows + r.flows.len() as u64, 2000);
    assert_eq!(retired.never_established, retired.flows);
    assert!(r.text.contains("flow table limit 100 reached"));
}

/// `n` connections open at once: every handshake, then each one's request, each one's
/// answer, then every close, interleaved across the connections.
fn concurrent_pcap(n: u16) -> Vec<u8> {
    let mut convs: Vec<Conv> = (0..n)
        .map(|i| {
            let c = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 10_000 + i);
            let mut conv = Conv::new(c, server());
            conv.client_seq = 1000 + u32::from(i) * 7919;
            conv
        })
        .collect();
    let mut recs = Vec::new();
    let mut t = T0;
    // Round by round, every connection plays its next step.
    for round in 0..4 {
        for c in convs.iter_mut() {
            let before = c.packets.len();
            match round {
                0 => c.handshake(),
                1 => c.data(Side::Client, b"GET"),
                2 => c.data(Side::Server, &[9; 500]),
                _ => c.close(),
            };
            for p in &c.packets[before..] {
                let mut r = p.record(LinkType::ETHERNET, None);
                r.ts = Timestamp(t);
                t += 1000;
                recs.push(r);
            }
        }
    }
    pcap_of(&recs, PcapOpts::default())
}

/// The flow-table bound never invents flows: connections retired while open are remembered,
/// and their later packets are counted to them instead of opening flows with guessed roles.
#[test]
fn retiring_open_connections_never_turns_their_later_packets_into_new_flows() {
    let opts = Options {
        max_flows: 100,
        ..Options::default()
    };
    let r = analyze_with("concurrent", concurrent_pcap(250), opts);
    let retired = r.flows_retired.expect("flows_retired");
    assert_eq!(retired.flows + r.flows.len() as u64, 250, "{retired:?}");
    assert_eq!(retired.never_established, 0, "{retired:?}");
    assert!(
        r.flows.iter().all(|f| f.roles == Roles::Syn),
        "a flow with guessed roles"
    );
    assert!(
        r.flows
            .iter()
            .all(|f| f.bytes_up == 3 && f.bytes_down == 500)
    );
    // Every packet is in a listed flow or counted to a retired one.
    let listed: u64 = r.flows.iter().map(|f| f.packets_up + f.packets_down).sum();
    assert_eq!(listed + retired.packets, r.tcp_segments);
    assert!(
        retired.packets_after > 0 && retired.forgotten == 0,
        "{retired:?}"
    );
    // Said in every format: the note (text, JSON, the captures table's notes) and the
    // captures table's own columns.
    let n = note(&r, "flow table limit 100 reached");
    assert!(n.message.contains("never taken for new flows"), "{n}");
    assert!(r.text.contains("flow table limit 100 reached"));
    let mut csv = bttrace::report::csv::CapturesCsv::new(Vec::new()).unwrap();
    csv.capture(&r).unwrap();
    let row = first_csv_row(csv.into_inner().unwrap());
    let col = |name: &str| row[name].as_str();
    assert_eq!(col("flows_retired"), retired.flows.to_string());
    assert_eq!(col("retired_packets"), retired.packets.to_string());
    assert!(col("notes").contains("flow table limit 100 reached"));
}

/// A new connection on the 4-tuple of a retired one is a new flow, as on a live one.
#[test]
fn a_new_syn_on_a_retired_four_tuple_is_a_new_connection() {
    let mut recs: Vec<Record> = Vec::new();
    for i in 0..20u32 {
        let src = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            20_000 + i as u16,
        );
        recs.push(syn(src, server(), 1000 + i, T0 + i64::from(i) * 1000));
    }
    // The first 4-tuple again, a new ISN: a new connection; then its retransmission.
    let first = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)), 20_000);
    recs.push(syn(first, server(), 777_777, T0 + 100_000));
    recs.push(syn(first, server(), 777_777, T0 + 200_000));
    let opts = Options {
        max_flows: 8,
        ..Options::default()
    };
    let r = analyze_with("reopened", pcap_of(&recs, PcapOpts::default()), opts);
    let retired = r.flows_retired.expect("flows_retired");
    let reopened: Vec<_> = r
        .flows
        .iter()
        .filter(|f| f.client == first.to_string())
        .collect();
    assert_eq!(reopened.len(), 1, "{:?}", r.flows.len());
    assert_eq!(reopened[0].instance, 1);
    assert_eq!(reopened[0].packets_up, 2);
    assert_eq!(retired.flows + r.flows.len() as u64, 21);
}

/// Regression (fixed in ef12415); the bug was: rst::capture_contexts (src/rst/mod.rs)
/// compares every flow with every other flow, calling FlowDecoder::kind() each time:
/// O(flows^2). 30,000 SYNs take 6 s in release, 100,000 take 2-5 min; a capture at the --max-
/// flows default (100,000) always pays 10^10 kind() calls, and flows kept past the bound (syn-
/// reuse) make it unbounded
#[test]
fn a_syn_flood_is_analysed_in_linear_time() {
    let recs: Vec<Record> = (0..20_000u32)
        .map(|i| {
            let src = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i / 60_000) as u8 + 1)),
                1024 + (i % 60_000) as u16,
            );
            syn(
                src,
                server(),
                i.wrapping_mul(2_654_435_761),
                1_700_000_000_000_000_000,
            )
        })
        .collect();
    // Under the watchdog: linear work is well under a second even in a debug build.
    let r = analyze("20k SYNs", pcap_of(&recs, PcapOpts::default()));
    assert_eq!(r.flows.len(), 20_000);
}

/// Regression (fixed in ef12415); the bug was: flows ended by a new SYN on their
/// 4-tuple go to FlowTable::done, which --max-flows does not bound: SYNs with fresh ISNs on one
/// 4-tuple grow the flow list (and memory) with the capture
#[test]
fn new_connections_on_one_four_tuple_stay_within_the_flow_bound() {
    let src = client();
    let recs: Vec<Record> = (0..2000u32)
        .map(|i| {
            syn(
                src,
                server(),
                1000 + i * 104_729,
                1_700_000_000_000_000_000 + i64::from(i),
            )
        })
        .collect();
    let opts = Options {
        max_flows: 100,
        ..Options::default()
    };
    let r = analyze_with("reuse", pcap_of(&recs, PcapOpts::default()), opts);
    assert_eq!(r.frames, 2000);
    assert!(
        r.flows.len() <= 100,
        "{} flows listed with --max-flows 100",
        r.flows.len()
    );
}

#[test]
fn resets_beyond_the_per_flow_record_bound_are_counted() {
    let mut conv = bt_conv();
    conv.close();
    for _ in 0..300 {
        conv.send(Side::Server, TcpFlags::RST, &[]);
    }
    let r = analyze("rsts", pcap_of(&records(&conv), PcapOpts::default()));
    let f = the_flow(&r);
    assert_eq!(f.rsts.len(), 256);
    assert_eq!(f.rsts_dropped, 300 - 256);
    // The true count and the judged count, in every format.
    assert_eq!((f.rsts_seen, f.rsts_judged), (300, 256));
    assert!(r.text.contains("300 (256 judged)"), "{}", r.text);
    let mut csv = bttrace::report::csv::FlowsCsv::new(Vec::new()).unwrap();
    csv.capture(&r).unwrap();
    let csv = String::from_utf8(csv.into_inner().unwrap()).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| row[head.iter().position(|h| *h == name).unwrap()];
    assert_eq!((col("rsts"), col("rsts_judged")), ("300", "256"));
}

/// One server-to-client bulk flow of 600 segments of 1000 bytes, sent in reverse order
/// within windows of 100 segments, every segment twice.
fn storm_pcap() -> Vec<u8> {
    let mut conv = Conv::new(client(), server());
    conv.handshake();
    let base = conv.server_seq;
    for w in 0..6u32 {
        for k in (0..100u32).rev() {
            let n = w * 100 + k;
            for _ in 0..2 {
                let mut p = conv.packet(Side::Server, TcpFlags::ACK, &[n as u8; 1000]);
                p.seq = base.wrapping_add(n * 1000);
                conv.push(p);
            }
        }
    }
    pcap_of(&records(&conv), PcapOpts::default())
}

#[test]
fn out_of_order_storm_within_the_buffer_counts_every_byte_once() {
    // 100 KB windows fit the default 8 MiB / 8,192-piece buffer: nothing is given up.
    let r = analyze("storm", storm_pcap());
    let f = the_flow(&r);
    assert_eq!(f.bytes_down, 600_000);
    assert_eq!(f.retrans_down, 600_000);
    assert_eq!(f.missing_down, 0);
    assert_eq!(f.overlap_mismatches, 0);
}

#[test]
fn out_of_order_storm_beyond_the_buffer_gives_gaps_up_and_keeps_the_books_straight() {
    let opts = Options {
        reassembly: bttrace::flows::Limits {
            max_pending_bytes: 16 << 10,
            max_pending_pieces: 8,
        },
        ..Options::default()
    };
    let r = analyze_with("tiny-buffer storm", storm_pcap(), opts);
    let f = the_flow(&r);
    // Every stream byte is reassembled (unique), given up and never seen (missing), or seen
    // after its gap was given up (unassembled); every payload byte is one of those once or a
    // retransmission (README: out-of-order data).
    assert!(
        f.unassembled_down > 0,
        "the tiny buffer must have given gaps up"
    );
    assert_eq!(f.bytes_down + f.missing_down + f.unassembled_down, 600_000);
    assert_eq!(
        f.bytes_down + f.unassembled_down + f.retrans_down,
        f.payload_down
    );
    assert_eq!(f.payload_down, 1_200_000);
}

// ---- reordering deeper than a window: reassembled, or counted as unassembled -------------

/// Segment size of the bulk downloads below.
const MSS: usize = 1448;
/// Block length of their pieces (what clients request).
const BLOCK: u32 = 16 << 10;

/// A BitTorrent download of `pieces` blocks of 16 KiB in 1448-byte segments, each followed by
/// the client's cumulative ACK of what it then holds in order; `schedule` gives the segment
/// numbers in arrival order, `capture` the order the capture wrote those (segment, ACK) pairs.
fn bulk_download(
    pieces: u32,
    schedule: impl Fn(usize) -> Vec<usize>,
    capture: impl Fn(usize) -> Vec<usize>,
) -> Vec<u8> {
    let msg = |m: Message| bt::message(&m, 0x5c).expect("a message");
    let mut conv = Conv::new(client(), server());
    conv.step_ns = 20_000;
    conv.handshake();
    conv.data(
        Side::Client,
        &bt::handshake([0; 8], [0xaa; 20], b"-TR3000-abcdefghijkl"),
    );
    conv.data(
        Side::Server,
        &bt::handshake([0; 8], [0xaa; 20], b"-qB4250-mnopqrstuvwx"),
    );
    conv.data(Side::Client, &msg(Message::Interested));
    conv.data(Side::Server, &msg(Message::Unchoke));
    let mut stream = Vec::new();
    for index in 0..pieces {
        stream.extend(msg(Message::Piece {
            index,
            begin: 0,
            length: BLOCK,
        }));
    }
    let base = conv.server_seq;
    let chunks: Vec<&[u8]> = stream.chunks(MSS).collect();
    let arrivals = schedule(chunks.len());
    let mut held = vec![false; chunks.len()];
    let mut contiguous = 0;
    let mut pairs = Vec::new();
    for &k in &arrivals {
        held[k] = true;
        while contiguous < held.len() && held[contiguous] {
            contiguous += 1;
        }
        let mut p = conv.packet(Side::Server, TcpFlags::ACK, chunks[k]);
        p.seq = base.wrapping_add((k * MSS) as u32);
        let mut a = conv.packet(Side::Client, TcpFlags::ACK, &[]);
        a.ack = base.wrapping_add((contiguous * MSS).min(stream.len()) as u32);
        a.ts = Timestamp(p.ts.0 + conv.step_ns / 2);
        pairs.push((p, a));
        conv.ts = Timestamp(conv.ts.0 + conv.step_ns);
    }
    for i in capture(pairs.len()) {
        let (p, a) = pairs[i].clone();
        conv.packets.push(p);
        conv.packets.push(a);
    }
    conv.server_seq = base.wrapping_add(stream.len() as u32);
    conv.close();
    pcap_of(&records(&conv), PcapOpts::default())
}

/// Stream bytes of [`bulk_download`]'s pieces: 13 header bytes and the block each.
fn piece_stream(pieces: u32) -> u64 {
    u64::from(pieces) * (13 + u64::from(BLOCK))
}

/// The first record of a CSV table, by column name.
fn first_csv_row(csv: Vec<u8>) -> std::collections::HashMap<String, String> {
    let mut rdr = csv::Reader::from_reader(csv.as_slice());
    let head = rdr.headers().unwrap().clone();
    let row = rdr.records().next().unwrap().unwrap();
    head.iter()
        .zip(row.iter())
        .map(|(h, c)| (h.to_string(), c.to_string()))
        .collect()
}

fn pieces_down(f: &bttrace::model::FlowReport) -> u64 {
    let bt = f.bittorrent.as_ref().expect("a BitTorrent flow");
    bt.server.messages.get("piece").copied().unwrap_or(0)
}

#[test]
fn blocks_of_290_kb_swapped_are_reassembled_and_every_piece_decoded() {
    // 1,280 pieces (21 MB); every pair of 200-segment blocks (289,600 bytes) swapped: 256 KiB
    // of out-of-order buffer gave 10.4 MB missing, 10.4 MB retransmitted and no piece.
    let swapped = |n: usize| {
        let blocks: Vec<_> = (0..n).step_by(200).map(|a| a..(a + 200).min(n)).collect();
        let mut out = Vec::new();
        for pair in blocks.chunks(2) {
            out.extend(pair.iter().rev().flat_map(|b| b.clone()));
        }
        out
    };
    let r = analyze(
        "swapped.pcap",
        bulk_download(1280, swapped, |n| (0..n).collect()),
    );
    all_reassembled(&r, 1280);
}

/// Every byte of [`bulk_download`]'s `pieces` reassembled, none missing, retransmitted or left
/// unassembled, and every piece decoded.
fn all_reassembled(r: &Analysed, pieces: u32) {
    let f = the_flow(r);
    let handshake_etc = 68 + 5; // handshake and unchoke
    assert_eq!(f.bytes_down, piece_stream(pieces) + handshake_etc);
    assert_eq!(
        (f.missing_down, f.retrans_down, f.unassembled_down),
        (0, 0, 0)
    );
    assert_eq!(pieces_down(f), u64::from(pieces));
    assert!(
        !r.notes
            .iter()
            .any(|n| n.message.contains("not reassembled"))
    );
}

#[test]
fn two_capture_queues_written_one_after_the_other() {
    // Segments and their ACKs alternate between two queues; the file holds the first queue's
    // packets, then the second's. The first queue's ACKs come before the second queue's
    // segments they acknowledge: the gaps are held open and filled when those come.
    let two_queues = |n: usize| (0..n).step_by(2).chain((1..n).step_by(2)).collect();
    let r = analyze(
        "queues.pcap",
        bulk_download(64, |n| (0..n).collect(), two_queues),
    );
    all_reassembled(&r, 64);
}

#[test]
fn two_capture_queues_beyond_the_reassembly_bound_are_unassembled_not_lost() {
    // 1,280 pieces (21 MB): the second queue's half (10.5 MB) is more than one direction may
    // hold (8 MiB). The oldest gaps are given up; their bytes, when they come, are captured
    // but not reassembled; the rest is reassembled.
    let two_queues = |n: usize| (0..n).step_by(2).chain((1..n).step_by(2)).collect();
    let pieces = 1280;
    let r = analyze(
        "queues.pcap",
        bulk_download(pieces, |n| (0..n).collect(), two_queues),
    );
    let f = the_flow(&r);
    let total = piece_stream(pieces) + 68 + 5;
    assert_eq!(f.missing_down, 0, "nothing was lost");
    assert_eq!(f.retrans_down, 0, "nothing was sent twice");
    assert_eq!(f.bytes_down + f.unassembled_down, total);
    // Only what the 8 MiB bound could not hold is given up (2.1 MB here; half, 10.5 MB,
    // when an ACK beyond a gap gave it up at once).
    assert!(f.unassembled_down > 0);
    assert!(
        f.unassembled_down < total / 2 - (8 << 20) + (64 << 10),
        "{} of {total}",
        f.unassembled_down
    );
    assert!(pieces_down(f) > 1100, "{}", pieces_down(f));
    assert!(pieces_down(f) < u64::from(pieces));
    let n = note(&r, "captured but not reassembled");
    assert!(n.message.contains(&f.unassembled_down.to_string()), "{n}");
    assert!(r.text.contains("captured but not reassembled"));
    let mut csv = bttrace::report::csv::FlowsCsv::new(Vec::new()).unwrap();
    csv.capture(&r).unwrap();
    let row = first_csv_row(csv.into_inner().unwrap());
    let col = |name: &str| row[name].as_str();
    assert_eq!(col("unassembled_down"), f.unassembled_down.to_string());
    let json = serde_json::to_value(&r.r).unwrap();
    assert_eq!(
        json["flows"][0]["unassembled_down"],
        serde_json::json!(f.unassembled_down)
    );
    // Out of goodput: the series holds only the reassembled bytes.
    let series: u64 = f.series.down.iter().map(|&b| u64::from(b)).sum();
    assert_eq!(series, f.bytes_down);
}

// ---- times that cannot be, and notes that must not mislead -----------------------------------

const T0: i64 = 1_700_000_000_000_000_000;
const DAY_NS: i64 = 86_400_000_000_000;

/// A 10 s transfer: 1,000 segments of 1,250 bytes from the server, one every 10 ms, each
/// acknowledged (1 Mbit/s).
fn steady_conv() -> Conv {
    let mut conv = Conv::new(client(), server());
    conv.ts = Timestamp(T0);
    conv.step_ns = 5_000_000;
    conv.handshake();
    for _ in 0..1000 {
        conv.data(Side::Server, &[0x5a; 1250]);
    }
    conv.close();
    conv
}

#[test]
fn one_corrupted_timestamp_is_an_anomaly_not_a_79_year_flow() {
    let mut recs = records(&steady_conv());
    // Record 1001 (a data segment) says 79 years later.
    recs[1000].ts = Timestamp(recs[1000].ts.0 + 79 * 365 * DAY_NS);
    let r = analyze("outlier", pcap_of(&recs, PcapOpts::default()));
    let f = the_flow(&r);
    assert!(f.duration_s < 11.0, "{} s", f.duration_s);
    assert_eq!(anomaly(&r, "timestamp_outlier"), (1, 1001));
    note(&r, "more than a day from the frames around them");
    let g = f.goodput_bps.expect("goodput");
    assert!((900_000.0..1_100_000.0).contains(&g), "{g} bit/s");
    assert_eq!(f.bytes_down, 1_250_000);
    assert!(
        !r.notes.iter().any(|n| n.message.contains("goes backwards")),
        "{:?}",
        r.notes
    );
}

#[test]
fn a_clock_that_steps_and_stays_is_taken_as_it_stands() {
    let mut recs = records(&steady_conv());
    // From record 1001 on, the clock is 10 days ahead: a step, not a damaged record.
    for r in recs.iter_mut().skip(1000) {
        r.ts = Timestamp(r.ts.0 + 10 * DAY_NS);
    }
    let r = analyze("step", pcap_of(&recs, PcapOpts::default()));
    assert!(
        !r.anomalies.contains_key("timestamp_outlier"),
        "{:?}",
        r.anomalies
    );
    note(&r, "a clock step");
    let f = the_flow(&r);
    assert!(f.duration_s > 10.0 * 86_400.0, "{} s", f.duration_s);
}

#[test]
fn a_long_flow_reaching_its_own_series_bound_is_not_blamed_on_the_shared_budget() {
    let mut conv = Conv::new(client(), server());
    conv.ts = Timestamp(T0);
    conv.handshake().data(Side::Server, &[1; 100]);
    conv.ts = Timestamp(conv.ts.0 + 10 * DAY_NS);
    conv.data(Side::Server, &[2; 100]).close();
    let r = analyze("long", pcap_of(&records(&conv), PcapOpts::default()));
    let f = the_flow(&r);
    assert!(f.series.interval_ms > 100.0, "{}", f.series.interval_ms);
    assert!(f.series.down.len() <= 4096);
    assert!(
        !r.notes
            .iter()
            .any(|n| n.message.contains("all flows together")),
        "the shared budget is blamed: {:?}",
        r.notes
    );
}

/// An interface description block with `if_tsresol` 9 and `if_tsoffset` `secs`.
fn idb_with_offset(secs: i64) -> Vec<u8> {
    let mut body = 101u16.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    body.extend_from_slice(&9u16.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&[9, 0, 0, 0]);
    body.extend_from_slice(&14u16.to_le_bytes());
    body.extend_from_slice(&8u16.to_le_bytes());
    body.extend_from_slice(&secs.to_le_bytes());
    body.extend_from_slice(&[0, 0, 0, 0]);
    ng_block(1, &body)
}

#[test]
fn an_if_tsoffset_far_in_the_past_clamps_to_the_past() {
    let mut b = ng_block(0x0A0D_0D0A, &shb_body(1, 0, &[]));
    b.extend_from_slice(&idb_with_offset(i64::MIN));
    let mut conv = Conv::new(client(), server());
    conv.send(Side::Client, TcpFlags::SYN, &[]);
    b.extend_from_slice(&epb(
        0,
        1_700_000_000_000_000_000,
        &conv.packets[0].ip_bytes(),
    ));
    let r = analyze("tsoffset.pcapng", b);
    note(&r, "some timestamps were out of range");
    let t = r.first_time.unwrap();
    assert!(t < -9.0e9, "clamped to {t}: not before 1677");
}

#[test]
fn file_name_dates_that_cannot_be_do_not_replace_the_packets_time() {
    for stated in ["-1", "9223372036854775807", "0"] {
        let name = format!("bt_198.51.100.7_host.example.net_{stated}.dump");
        // A name alone makes no test: `--glasnost on` asks for one.
        let r = analyze_with(&name, base_pcap(), forced());
        let g = r.glasnost.as_ref().expect("a Glasnost name");
        assert_eq!(g.name.as_ref().unwrap().time.to_string(), stated);
        let first = r.first_time.unwrap().floor() as i64;
        assert_eq!(r.test_time(), Some(first), "{name}");
    }
    // A plausible one still stands.
    let r = analyze_with(
        "bt_198.51.100.7_host.example.net_1257080094.dump",
        base_pcap(),
        forced(),
    );
    assert_eq!(r.test_time(), Some(1_257_080_094));
}

fn forced() -> Options {
    Options {
        glasnost: bttrace::glasnost::Mode::On,
        ..Options::default()
    }
}

// ---- peak memory of the CLI ------------------------------------------------------------------

/// Peak resident memory (KiB) of `bttrace analyze --format json` on `bytes`, as the process
/// itself reports it (`--stats`, from `VmHWM`); `None` where the system does not say (the test
/// then says loudly that it skipped). Measured inside the child: a parent's memory can leak
/// into `ru_maxrss` across fork and exec.
fn peak_rss_kib(bytes: Vec<u8>) -> Option<u64> {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("capture.pcap");
    std::fs::write(&cap, bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(["analyze", "--stats", "--format", "json"])
        .arg(&cap)
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "bttrace failed: {}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr
        .lines()
        .find_map(|l| l.split("peak memory ").nth(1))
        .unwrap_or_else(|| panic!("no stats line in {stderr:?}"));
    peak.strip_suffix(" KiB")?.parse().ok()
}

/// `flows` concurrent server-to-client bulk flows of `segments` 1448-byte segments each.
fn bulk_pcap(flows: u16, segments: u32) -> Vec<u8> {
    let mut convs: Vec<Conv> = (0..flows)
        .map(|i| {
            let mut c = Conv::new(SocketAddr::new(client().ip(), 30_000 + i), server());
            c.handshake();
            c
        })
        .collect();
    let payload = vec![0x5a; 1448];
    let mut recs = Vec::new();
    for c in &mut convs {
        recs.extend(records(c));
        c.packets.clear();
    }
    for _ in 0..segments {
        for c in &mut convs {
            c.data(Side::Server, &payload);
            recs.extend(records(c));
            c.packets.clear();
        }
    }
    // One clock for all: timestamps in capture order.
    for (k, r) in recs.iter_mut().enumerate() {
        r.ts = Timestamp(1_700_000_000_000_000_000 + k as i64 * 10_000);
    }
    pcap_of(&recs, PcapOpts::default())
}

#[test]
fn peak_memory_does_not_grow_with_the_size_of_a_capture() {
    let small = bulk_pcap(8, 250);
    let large = bulk_pcap(8, 1000);
    let (a, b) = (small.len(), large.len());
    let Some(one) = guarded("rss x1", move || peak_rss_kib(small)) else {
        eprintln!("SKIPPED: this system does not report peak memory (/proc/self/status)");
        return;
    };
    let four = guarded("rss x4", move || peak_rss_kib(large)).unwrap();
    assert!(
        four < one + 4 * 1024,
        "peak {one} KiB for {a} bytes, {four} KiB for {b} bytes"
    );
}

/// Regression (fixed): each flow's goodput series was a dense Vec grown to the bin of its latest
/// byte, so two 1-byte packets 409.5 s apart cost 32 KiB per direction, twice (2,000 such flows
/// took ~150 MB; bench/memory.sh series-40k 1.5 GB). Bins are now u32 under one budget shared by
/// all flows, coarsened when it runs out.
#[test]
fn goodput_series_memory_follows_the_data_not_the_time_span() {
    let mut recs = Vec::new();
    for round in 0..2i64 {
        for i in 0..2000u32 {
            let c = SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, (i / 250) as u8 + 1)),
                20_000 + (i % 250) as u16,
            );
            let mut conv = Conv::new(c, server());
            conv.client_seq = 1000 + round as u32;
            conv.ts = Timestamp(
                1_700_000_000_000_000_000 + round * 409_500_000_000 + i64::from(i) * 1000,
            );
            conv.send(Side::Client, TcpFlags::PSH | TcpFlags::ACK, b"x");
            recs.extend(records(&conv));
        }
    }
    let b = pcap_of(&recs, PcapOpts::default());
    let size = b.len();
    // 2,000 flows of 4,096 bins pass the shared bound: the report says the series coarsened,
    // and every byte is still in some bin.
    let r = analyze("series.pcap", b.clone());
    assert!(
        r.r.notes
            .iter()
            .any(|n| n.message.contains("series doubled its interval")),
        "{:?}",
        r.r.notes
    );
    let binned: u64 =
        r.r.flows
            .iter()
            .map(|f| f.series.up.iter().map(|&x| u64::from(x)).sum::<u64>())
            .sum();
    assert_eq!(binned, 4000);
    let Some(kib) = guarded("rss", move || peak_rss_kib(b)) else {
        eprintln!("SKIPPED: this system does not report peak memory (/proc/self/status)");
        return;
    };
    // 2,000 flows' records and reports need a few MB; 64 MiB is generous.
    assert!(
        kib < 64 * 1024,
        "peak RSS {} MiB for a {} KB capture of 2,000 two-packet flows",
        kib / 1024,
        size / 1000
    );
}

// ---- what the capture says, printed ---------------------------------------------------------

/// Control characters other than the newlines that end the report's own lines.
fn control_chars(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect()
}

#[test]
fn peer_ids_and_extension_names_are_shown_escaped_in_json() {
    let mut conv = Conv::new(client(), server());
    conv.handshake();
    conv.data(
        Side::Client,
        &bt::handshake([0; 8], [0xaa; 20], b"\n\x1b[2J\r\x07hello-world!!"),
    );
    let r = analyze("ids.pcap", pcap_of(&records(&conv), PcapOpts::default()));
    let json = serde_json::to_string(&r.r).unwrap();
    assert!(!json.contains('\x1b') && !json.contains('\n'), "{json}");
    // Peer ids are printed with \xNN escapes wherever they appear.
    assert!(
        r.text.contains("\\x0a\\x1b[2J\\x0d\\x07hello"),
        "{}",
        r.text
    );
}

/// Peer ids in the tables are the 20 bytes as hex, faithful and safe in a spreadsheet (no
/// defusing apostrophe, no escapes); JSON has the hex and a readable `peer_id_text`.
#[test]
fn peer_ids_are_hex_in_the_tables() {
    let mut conv = Conv::new(client(), server());
    conv.handshake();
    let id = *b"-UT1800-\xc5\x00=SUM(A1)x\n";
    conv.data(Side::Client, &bt::handshake([0; 8], [0xaa; 20], &id));
    let r = analyze("ids.pcap", pcap_of(&records(&conv), PcapOpts::default()));
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut csv = bttrace::report::csv::FlowsCsv::new(Vec::new()).unwrap();
    csv.capture(&r.r).unwrap();
    let csv = String::from_utf8(csv.into_inner().unwrap()).unwrap();
    let mut rdr = ::csv::Reader::from_reader(csv.as_bytes());
    let head = rdr.headers().unwrap().clone();
    let row = rdr.records().next().unwrap().unwrap();
    let col = |name: &str| row[head.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(col("peer_id_up"), hex);
    assert_eq!(hex.len(), 40);
    let json = serde_json::to_value(&r.r).unwrap();
    let h = &json["flows"][0]["bittorrent"]["client"]["handshake"];
    assert_eq!(h["peer_id"], hex.as_str());
    assert_eq!(h["peer_id_text"], "-UT1800-\\xc5\\x00=SUM(A1)x\\x0a");
}

/// Regression (fixed in ef12415); the bug was: an Azureus-style peer id with control
/// characters as its client code ('-', 0x0a, 0x1b, '1234-...') gives peer_client "unknown
/// client \n\x1b 1.2.3.4", printed raw in the text report (src/btparse/peer_id.rs azureus): a
/// capture can break report lines and send escape sequences to the terminal
#[test]
fn client_names_from_peer_ids_cannot_inject_control_characters_into_the_text_report() {
    let mut conv = Conv::new(client(), server());
    conv.handshake();
    conv.data(
        Side::Client,
        &bt::handshake([0; 8], [0xaa; 20], b"-\n\x1b1234-abcdefghijkl"),
    );
    conv.data(
        Side::Server,
        &bt::handshake([0; 8], [0xaa; 20], b"-qB4250-mnopqrstuvwx"),
    );
    let r = analyze(
        "azureus-code.pcap",
        pcap_of(&records(&conv), PcapOpts::default()),
    );
    assert_eq!(r.flows[0].kind, Some(Kind::BitTorrent));
    assert!(control_chars(&r.text).is_empty(), "{:?}", r.text);
    let line = r.text.lines().find(|l| l.contains("client sent:")).unwrap();
    assert!(
        line.contains("no handshake") || line.contains("handshake at frame"),
        "{line}"
    );
    assert!(
        !r.text.lines().any(|l| l.starts_with('\x1b')),
        "a report line starts with the capture's bytes: {:?}",
        r.text
    );
}

/// Regression (fixed in ef12415); the bug was: extension names from an extended
/// handshake (BEP 10 `m` keys) are printed raw by Message::describe (src/btparse/mod.rs), so
/// with --messages a capture can split a message line and send escape sequences to the terminal
#[test]
fn extension_names_cannot_inject_control_characters_into_the_messages_view() {
    let mut ext = bttrace::btparse::ExtHandshake::default();
    ext.messages.insert("ut_\nmetadata".into(), 3);
    ext.messages.insert("\x1b[2J".into(), 4);
    let mut conv = Conv::new(client(), server());
    conv.handshake();
    conv.data(
        Side::Client,
        &bt::handshake(
            [0, 0, 0, 0, 0, 0x10, 0, 0],
            [0xaa; 20],
            b"-TR3000-abcdefghijkl",
        ),
    );
    conv.data(
        Side::Client,
        &bt::message(&Message::ExtendedHandshake(Some(ext)), 0).unwrap(),
    );
    let opts = Options {
        messages: true,
        ..Options::default()
    };
    let r = analyze_with(
        "ext-names.pcap",
        pcap_of(&records(&conv), PcapOpts::default()),
        opts,
    );
    let line = r
        .text
        .lines()
        .find(|l| l.contains("Extended handshake"))
        .expect("the extended handshake is listed");
    assert!(
        line.contains("metadata"),
        "the message is split over lines: {line:?}"
    );
    assert!(control_chars(&r.text).is_empty(), "{:?}", r.text);
}

// ---- the wire decoder on its own --------------------------------------------------------------

/// Regression (fixed in ef12415); the bug was: wire::decode trusts frame.wire_len >=
/// data.len(); a Frame built with a shorter wire_len (the fields are public) and IPv4 total
/// length 0 underflows `declared - ihl` (src/wire/mod.rs ipv4: attempt to subtract with
/// overflow)
#[test]
fn decode_survives_a_frame_whose_wire_length_is_below_its_captured_length() {
    let mut p = bt_conv().packets[PIECE - 1].clone();
    p.payload.truncate(4);
    let mut ip = p.ip_bytes();
    ip[2] = 0;
    ip[3] = 0;
    let got = guarded("decode", move || {
        let f = Frame {
            index: 1,
            ts: Timestamp(0),
            link: LinkType::RAW,
            data: &ip,
            wire_len: 10,
            offset: 0,
        };
        bttrace::wire::decode(&f)
            .map(|s| (s.payload.len(), s.payload_len))
            .ok()
    });
    if let Some((captured, declared)) = got {
        assert!(captured as u64 <= u64::from(declared));
    }
}

// ---- the [malformed] fixtures -----------------------------------------------------------------

/// (fixture, frames, TCP flows, a note or error that must appear). From the "Malformed and
/// corrupt" table of fixtures/README.md; where bttrace's reading differs from the table, the
/// comment says why.
const MALFORMED: &[(&str, u64, usize, Option<&str>)] = &[
    // The table wants an error (capinfos refuses); bttrace notes the bits and reads on (the
    // file has no records either way).
    (
        "libpcap/linktype-reserved-field-not-zero.pcap",
        0,
        0,
        Some("reserved bits set"),
    ),
    (
        "libpcap/pcap-invalid-version-1.pcap",
        0,
        0,
        Some("unsupported pcap version 1.4"),
    ),
    (
        "libpcap/pcap-invalid-version-2.pcap",
        1,
        0,
        Some("pcap minor version 5 is unknown"),
    ),
    (
        "libpcap/pcapng-invalid-vers-1.pcapng",
        0,
        0,
        Some("unsupported pcapng version 0.1"),
    ),
    (
        "libpcap/pcapng-invalid-vers-2.pcapng",
        0,
        0,
        Some("unsupported pcapng version 1.1"),
    ),
    // The SHB's own length is wrong before its option is: the error says so.
    (
        "libpcap/shb-option-too-long.pcapng",
        0,
        0,
        Some("section header's trailing length differs"),
    ),
    ("ndpi/badpackets.pcap", 93, 0, None),
    ("ndpi/fuzz-2006-06-26-2594.pcap", 691, 23, None),
    // 37 in the table: tshark counts a malformed segment as a conversation.
    ("ndpi/fuzz-2006-09-29-28586.pcap", 131, 36, None),
    // The table says 1 packet (Wireshark reads a frame out of a 524,501-byte claim in a
    // 239-byte file); bttrace calls the file corrupt from there.
    (
        "ndpi/fuzz-2021-10-13.pcap",
        0,
        0,
        Some("record claims 524501 captured bytes"),
    ),
    // 2 flows in the table: tshark reassembles the fragments.
    ("ndpi/ip_fragmented_garbage.pcap", 1252, 0, None),
    ("ndpi/malformed_dns.pcap", 6, 0, None),
    ("ndpi/malformed_icmp.pcap", 1, 0, None),
    ("ndpi/ossfuzz_seed_fake_traces_1.pcapng", 21, 6, None),
    ("ndpi/ossfuzz_seed_fake_traces_2.pcapng", 101, 6, None),
    ("ndpi/ossfuzz_seed_fake_traces_3.pcapng", 4, 1, None),
    ("ndpi/ossfuzz_seed_fake_traces_4.pcapng", 2, 0, None),
    ("pcap-analyzer/frag_tcp_80_ipv4_sp_frag1.pcap", 1, 0, None),
    ("pcapplusplus/ip4_bad_fragment.pcap", 1, 0, None),
    (
        "suricata-verify/10.7.29.101_49898-178.63.41.150_25.pcap",
        18,
        1,
        Some("record claims 3925868813 captured bytes"),
    ),
    // The table says 2: Wireshark reads a 1-byte frame out of the corrupt record header.
    (
        "suricata-verify/bug-6875-01__fuzz.pcap",
        1,
        0,
        Some("record claims 1409179648 captured bytes"),
    ),
    (
        "suricata-verify/decode-too-many-layers__input.pcap",
        1,
        0,
        None,
    ),
    ("suricata-verify/decode-too-small__test.pcap", 8, 0, None),
    ("suricata-verify/tcp-empty-sack__tcp-opt.pcap", 42, 1, None),
    ("suricata-verify/tcp-opt-invalid-warning.pcap", 1, 1, None),
    (
        "suricata-verify/tcp-session-decode-malformed-ipv4__input.pcap",
        11,
        1,
        None,
    ),
    (
        "suricata-verify/tcp-session-ipv6-decode-malformed__input.pcap",
        8,
        1,
        None,
    ),
    (
        "suricata-verify/tls_DER-incomplete-header.pcap",
        6,
        1,
        Some("record claims 4325376 captured bytes"),
    ),
    ("suricata-verify/truncated.pcap", 1, 0, None),
    ("suricata-verify/urgent11_cve_2019_12260.pcap", 10, 2, None),
    ("tcpdump/LINKTYPE_IPV4_invalid.pcap", 1, 0, None),
    ("tcpdump/LINKTYPE_IPV6_invalid.pcap", 1, 0, None),
    ("tcpdump/cve2015-0261-crash.pcap", 1, 0, None),
    ("tcpdump/erspan-type-iii-pb-1.pcap", 1, 0, None),
    ("tcpdump/extract_read2_asan.pcap", 1, 0, None),
    ("tcpdump/heap-overflow-1.pcap", 1, 0, None),
    ("tcpdump/heapoverflow-tcp_print.pcap", 1, 1, None),
    ("tcpdump/ipv4_invalid_hdr_length.pcap", 1, 0, None),
    ("tcpdump/ipv4_invalid_total_length.pcap", 1, 0, None),
    ("tcpdump/ipv6-bad-version.pcap", 4, 0, None),
    ("tcpdump/ipv6_frag6_negative_len.pcap", 1, 0, None),
    ("tcpdump/ipv6_invalid_length.pcap", 1, 0, None),
    ("tcpdump/pktap-heap-overflow.pcap", 2, 0, None),
    ("tcpdump/tcp-auth-heapoverflow.pcap", 1, 1, None),
    ("tcpdump/tcp_eight_lowest_weight_flags_set.pcap", 1, 1, None),
    ("tcpdump/tcp_header_heapoverflow.pcap", 1, 0, None),
    (
        "tcpdump/timestamp_invalid_micro.pcap",
        3,
        1,
        Some("sub-second timestamp field out of range"),
    ),
    (
        "tcpdump/timestamp_invalid_nano.pcap",
        3,
        1,
        Some("sub-second timestamp field out of range"),
    ),
    ("zeek/icmp-header-trunc.pcap", 2, 0, None),
    ("zeek/ip-bogus-header-len.pcap", 1, 0, None),
    ("zeek/ip-discarder-truncated-tcp-oob.pcapng", 1, 0, None),
    ("zeek/ip4-tcp-bad-chksum.pcap", 1, 1, None),
    ("zeek/ip4-trunc.pcap", 1, 0, None),
    ("zeek/ip6-ext-trunc.pcap", 1, 0, None),
    ("zeek/ip6-tcp-bad-chksum.pcap", 1, 1, None),
    ("zeek/ip6-trunc.pcap", 1, 0, None),
    ("zeek/ipv4-internally-truncated-header.pcap", 1, 0, None),
    ("zeek/ipv4-truncated-broken-header.pcap", 1, 0, None),
    ("zeek/mpls-6in6-6in6-4in6-trunc.pcap", 1, 0, None),
    ("zeek/nflog-bad-tlv-len.pcap", 1, 0, None),
    ("zeek/trunc-hdr.pcap", 1, 0, None),
    ("zeek/udp-contents-truncated-oob.pcap", 1, 0, None),
    ("zeek/unknown-ip-short-payload.pcap", 4, 0, None),
    ("zeek/window-scale-range.pcap", 5, 1, None),
];

#[test]
fn malformed_fixtures_are_read_as_far_as_they_go() {
    for &(rel, frames, flows, says) in MALFORMED {
        let r = analyze_fixture(rel);
        assert_eq!(r.frames, frames, "{rel}: frames");
        assert_eq!(r.flows.len(), flows, "{rel}: flows");
        assert_eq!(
            r.skipped_total() + r.tcp_segments,
            r.frames,
            "{rel}: every frame is a segment or a skip"
        );
        if let Some(says) = says {
            let all = format!("{:?} {:?}", r.error, r.notes);
            assert!(all.contains(says), "{rel}: {says:?} not in {all}");
        }
    }
}

#[test]
fn every_malformed_fixture_is_listed() {
    let table = std::fs::read_to_string(fixture("README.md")).unwrap();
    let section = table
        .split("## Malformed and corrupt")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the malformed section");
    let listed: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert!(listed.len() >= 60, "{} files", listed.len());
    for f in &listed {
        assert!(
            MALFORMED.iter().any(|m| m.0 == *f),
            "{f} is in the malformed table but not tested here"
        );
    }
}

#[test]
fn truncating_a_malformed_fixture_anywhere_never_panics_or_hangs() {
    // Every prefix of a few small damaged files, and every single-byte flip of the smallest:
    // the capture-level cases a fuzzer starts from.
    for rel in [
        "ndpi/fuzz-2021-10-13.pcap",
        "zeek/nflog-bad-tlv-len.pcap",
        "libpcap/shb-option-too-long.pcapng",
        "tcpdump/time_2106_overflow.pcapng",
        "derived/bt-tcp.pcap.gz",
    ] {
        let bytes = std::fs::read(fixture(rel)).unwrap();
        guarded(rel, move || {
            for cut in 0..=bytes.len() {
                let r = analyze_bytes("prefix", bytes[..cut].to_vec(), &Options::default());
                let _ = serde_json::to_string(&r).unwrap();
            }
            for i in 0..bytes.len().min(300) {
                let mut b = bytes.clone();
                b[i] ^= 0xff;
                let r = analyze_bytes("flip", b, &Options::default());
                let _ = serde_json::to_string(&r).unwrap();
            }
        });
    }
}

/// A Glasnost test whose first BitTorrent download has one seeder segment captured late
/// (after the ACKs of the bytes beyond it): that transfer's bytes are not all reassembled, so
/// its speed is not given and it counts in no rate comparison.
#[test]
fn a_glasnost_transfer_with_unassembled_seeder_bytes_gives_no_speed() {
    use bttrace::glasnost::verdict::{Dir, Proto};
    use bttrace::synth::glasnost::{Fate, Plan, capture, test};
    let plan = Plan::default();
    let packets = test(&plan, |_, _, _, _| Fate::Normal);
    let first_download = |r: &CaptureReport| {
        r.tests
            .iter()
            .find(|t| t.kind == Proto::Bt && t.direction == Some(Dir::Download))
            .cloned()
            .expect("a BitTorrent download")
    };
    let clean = analyze("glasnost-clean.pcap", capture(&packets, None));
    let before = first_download(&clean);
    assert!(before.goodput_bps.is_some(), "{before:?}");
    let flow = clean.flows.iter().find(|f| f.id == before.flow).unwrap();
    let client_port: u16 = flow.client.rsplit(':').next().unwrap().parse().unwrap();
    // The seeder's 50th data segment on that flow is captured after its 300th.
    let mut packets = packets;
    let seeder: Vec<usize> = (0..packets.len())
        .filter(|&i| {
            let p = &packets[i];
            p.dst.port() == client_port && p.src.port() == flow.port && !p.payload.is_empty()
        })
        .collect();
    assert!(seeder.len() > 300, "{}", seeder.len());
    packets[seeder[50]].ts = Timestamp(packets[seeder[300]].ts.0 + 1);
    // Within the reassembly bound the late segment fills its gap: the speed is kept.
    let late = analyze("glasnost-late.pcap", capture(&packets, None));
    let f = late.flows.iter().find(|f| f.id == before.flow).unwrap();
    assert_eq!((f.unassembled_down, f.missing_down), (0, 0), "{f:?}");
    assert_eq!(first_download(&late).goodput_bps, before.goodput_bps);
    // Beyond it (a 64 KiB bound, 250 segments of reordering) the gap is given up.
    let small = Options {
        reassembly: bttrace::flows::reasm::Limits {
            max_pending_bytes: 64 << 10,
            ..Default::default()
        },
        ..Options::default()
    };
    let late = analyze_with("glasnost-late.pcap", capture(&packets, None), small);
    let f = late.flows.iter().find(|f| f.id == before.flow).unwrap();
    assert!(f.unassembled_down > 0 && f.missing_down == 0, "{f:?}");
    let after = first_download(&late);
    assert_eq!(after.flow, before.flow);
    assert_eq!(after.goodput_bps, None);
    assert!(after.series.bps.is_empty());
    let g = late.glasnost.as_ref().expect("a Glasnost test");
    assert!(
        g.notes
            .iter()
            .any(|n| n.contains("captured but not reassembled")),
        "{:?}",
        g.notes
    );
    // The other transfers keep their speeds.
    let speeds = |r: &CaptureReport| r.tests.iter().filter(|t| t.goodput_bps.is_some()).count();
    assert_eq!(speeds(&late) + 1, speeds(&clean));
}
