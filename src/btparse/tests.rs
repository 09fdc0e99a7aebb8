//! Peer-wire decoding: streams encoded in code, cut and holed the way captures cut them; the
//! decoder must find every message it can see and never one it cannot.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::capture::Timestamp;
use crate::synth::bt;

const HASH: [u8; 20] = [0xaa; 20];
const PEER: &[u8; 20] = b"-TR3000-abcdefghijkl";

/// A run of a direction's stream as reassembly delivers it.
#[derive(Debug, Clone)]
enum Run {
    Data(Vec<u8>),
    Hole(u64),
}

fn at(frame: u64) -> PacketRef {
    PacketRef {
        frame,
        ts: Timestamp(frame as i64 * 1_000),
    }
}

/// Feeds runs (each its own packet) to a fresh decoder; returns it and the events.
fn decode_runs(runs: &[Run]) -> (DirDecoder, Vec<BtEvent>) {
    let mut d = DirDecoder::new(Side::Server);
    let mut ev = Events {
        keep: true,
        max: usize::MAX,
        ..Events::default()
    };
    let mut shared = Shared::default();
    let mut out = Out {
        events: &mut ev,
        shared: &mut shared,
    };
    let mut off = 0u64;
    for (i, r) in runs.iter().enumerate() {
        match r {
            Run::Data(b) => {
                d.data(off, b, at(i as u64 + 1), &mut out);
                off += b.len() as u64;
            }
            Run::Hole(n) => {
                d.hole(off, *n, at(i as u64 + 1), &mut out);
                off += n;
            }
        }
    }
    (d, ev.list)
}

fn ext() -> ExtHandshake {
    ExtHandshake {
        client: Some("Transmission 3.00".into()),
        port: Some(51413),
        reqq: Some(512),
        metadata_size: None,
        messages: BTreeMap::from([("ut_metadata".to_string(), 3), ("ut_pex".to_string(), 1)]),
    }
}

/// One of every message kind, after a handshake.
fn every_message() -> Vec<Message> {
    vec![
        Message::ExtendedHandshake(Some(ext())),
        Message::Bitfield { len: 10 },
        Message::HaveNone,
        Message::HaveAll,
        Message::Interested,
        Message::Unchoke,
        Message::AllowedFast { index: 4 },
        Message::Suggest { index: 5 },
        Message::Request {
            index: 1,
            begin: 16384,
            length: 16384,
        },
        Message::Piece {
            index: 1,
            begin: 16384,
            length: 16384,
        },
        Message::Have { index: 1 },
        Message::Cancel {
            index: 2,
            begin: 0,
            length: 16384,
        },
        Message::Reject {
            index: 2,
            begin: 0,
            length: 16384,
        },
        Message::Port { port: 6881 },
        Message::KeepAlive,
        Message::Extended { sub_id: 3, len: 30 },
        Message::Unknown { id: 42, len: 7 },
        Message::NotInterested,
        Message::Choke,
    ]
}

/// The stream and the truth: offset of each message start.
fn encode(msgs: &[Message]) -> (Vec<u8>, Vec<(u64, Message)>) {
    let mut s = bt::handshake([0, 0, 0, 0, 0, 0x10, 0, 0x05], HASH, PEER);
    let mut truth = Vec::new();
    for m in msgs {
        truth.push((s.len() as u64, m.clone()));
        s.extend(bt::message(m, 0x5a).unwrap());
    }
    (s, truth)
}

fn messages(ev: &[BtEvent]) -> Vec<(u64, Message)> {
    ev.iter()
        .filter(|e| !matches!(e.message, Message::Handshake(_)))
        .map(|e| (e.offset, e.message.clone()))
        .collect()
}

#[test]
fn every_message_kind_round_trips() {
    let (stream, truth) = encode(&every_message());
    let (d, ev) = decode_runs(&[Run::Data(stream.clone())]);
    let hs = d.handshake.expect("handshake");
    assert_eq!(hs.info_hash, Some(HASH));
    assert_eq!(hs.peer_id.as_ref(), Some(PEER));
    assert_eq!(
        reserved_flags(&hs.reserved.unwrap()),
        ["extension_protocol", "fast", "dht"]
    );
    assert_eq!(messages(&ev), truth);
    assert_eq!(d.framing, Framing::Ok);
    assert_eq!(d.position(), stream.len() as u64);
    for k in MsgKind::ALL {
        let want = if k == MsgKind::Extended { 2 } else { 1 };
        assert_eq!(d.counts[k as usize], want, "{k:?}");
    }
    assert_eq!(d.piece_bytes, 16384);
    assert_eq!(d.ext_handshake, Some(ext()));
    assert_eq!(d.first[MsgKind::Bitfield as usize], Some(at(1)));
}

#[test]
fn any_split_point_gives_the_same_messages() {
    let (stream, truth) = encode(&every_message());
    for cut in 1..stream.len() {
        let runs = [
            Run::Data(stream[..cut].to_vec()),
            Run::Data(stream[cut..].to_vec()),
        ];
        let (d, ev) = decode_runs(&runs);
        assert_eq!(messages(&ev), truth, "split at {cut}");
        assert!(d.handshake.is_some());
    }
}

/// The stream as a sender writes it: each write cut into `mss`-byte segments, each segment
/// captured to its first `keep` bytes (Glasnost keeps 200).
fn captured(stream: &[u8], writes: &[u64], mss: u64, keep: u64) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut off = 0u64;
    for w in writes {
        let end = off + w;
        while off < end {
            let seg = mss.min(end - off);
            let kept = keep.min(seg);
            let bytes: Vec<u8> = (off..off + kept)
                .map(|i| stream.get(i as usize).copied().unwrap_or(0x5a))
                .collect();
            runs.push(Run::Data(bytes));
            if seg > kept {
                runs.push(Run::Hole(seg - kept));
            }
            off += seg;
        }
    }
    runs
}

/// Glasnost's emulation from the seeder: handshake, bitfield, unchoke, then `n` piece
/// messages of `piece_len` bytes. Returns the real bytes up to each piece's header (bodies
/// are filler), the writes, and the truth.
fn glasnost_seeder(piece_len: u32, n: u32) -> (Vec<u8>, Vec<u64>, Vec<(u64, Message)>) {
    let mut s = bt::handshake([0; 8], HASH, PEER);
    let mut writes = vec![68];
    let mut truth = Vec::new();
    for m in [Message::Bitfield { len: 161 }, Message::Unchoke] {
        truth.push((s.len() as u64, m.clone()));
        let b = bt::message(&m, 0xff).unwrap();
        writes.push(b.len() as u64);
        s.extend(b);
    }
    let mut total = s.len() as u64;
    for i in 0..n {
        // The message length counts the 4-byte prefix: id, index and begin take 9 more.
        let m = Message::Piece {
            index: i,
            begin: 0,
            length: piece_len - 13,
        };
        truth.push((total, m));
        // Header bytes where they fall, filler elsewhere.
        s.resize(total as usize, 0x5a);
        s.extend(&(piece_len - 4).to_be_bytes());
        s.push(7);
        s.extend(&i.to_be_bytes());
        s.extend(&0u32.to_be_bytes());
        writes.push(u64::from(piece_len));
        total += u64::from(piece_len);
    }
    (s, writes, truth)
}

#[test]
fn glasnost_transfers_survive_the_200_byte_cut() {
    // Each piece follows a request, so it starts a segment: its header is always kept.
    for piece_len in [262_157, 12_500_013] {
        let (s, writes, truth) = glasnost_seeder(piece_len, 3);
        let (d, ev) = decode_runs(&captured(&s, &writes, 1448, 200));
        assert_eq!(messages(&ev), truth);
        assert_eq!(d.framing, Framing::Ok);
        assert_eq!(d.counts[MsgKind::Piece as usize], 3);
        assert_eq!(d.piece_bytes, 3 * u64::from(piece_len - 13));
        assert!(d.hole_bytes > 0);
    }
}

#[test]
fn back_to_back_pieces_keep_framing_only_where_headers_are_kept() {
    // Pipelined pieces written as one stream. 262,157 = 181 * 1448 + 69: the k-th next
    // header lands 69k bytes into its segment, kept for k = 1, 2 (69, 138), cut at 207.
    let (s, writes, truth) = glasnost_seeder(262_157, 6);
    let joined = [writes[..3].to_vec(), vec![writes[3..].iter().sum()]].concat();
    let (d, ev) = decode_runs(&captured(&s, &joined, 1448, 200));
    let got = messages(&ev);
    assert_eq!(got[..5], truth[..5]);
    assert_eq!(
        got[5],
        (truth[5].0, Message::FramingLost(LostReason::HeaderInHole))
    );
    assert_eq!(got.len(), 6);
    assert_eq!(d.counts[MsgKind::Piece as usize], 3);
    // 12,500,013-byte pieces: the second header falls 877 bytes in, cut away.
    let (s, writes, truth) = glasnost_seeder(12_500_013, 3);
    let joined = [writes[..3].to_vec(), vec![writes[3..].iter().sum()]].concat();
    let (d, ev) = decode_runs(&captured(&s, &joined, 1448, 200));
    let got = messages(&ev);
    let second_piece = truth[3].0;
    assert_eq!(got[..3], truth[..3]);
    assert_eq!(
        got[3],
        (second_piece, Message::FramingLost(LostReason::HeaderInHole))
    );
    assert_eq!(got.len(), 4, "nothing reported after the loss: {got:?}");
    assert_eq!(
        d.framing,
        Framing::Lost {
            offset: second_piece,
            reason: LostReason::HeaderInHole
        }
    );
    assert_eq!(d.counts[MsgKind::Piece as usize], 1);
}

/// A seeder's stream of 16 KiB-block pieces written back to back (as clients pipeline them),
/// cut in 1448-byte segments of which 200 bytes are kept, with a `have` after piece `have_after`.
fn pipelined_blocks(n: u32, have_after: Option<u32>) -> (Vec<u8>, Vec<(u64, Message)>) {
    let mut s = bt::handshake([0; 8], HASH, PEER);
    let mut truth = Vec::new();
    for i in 0..n {
        let m = Message::Piece {
            index: i / 16,
            begin: (i % 16) * 16384,
            length: 16384,
        };
        truth.push((s.len() as u64, m.clone()));
        s.extend(bt::message(&m, 0x5a).unwrap());
        if have_after == Some(i) {
            let h = Message::Have { index: 7 };
            truth.push((s.len() as u64, h.clone()));
            s.extend(bt::message(&h, 0).unwrap());
        }
    }
    (s, truth)
}

/// Offsets whose first five bytes a 200-byte cut of 1448-byte segments keeps.
fn header_kept(offset: u64) -> bool {
    offset % 1448 + 5 <= 200
}

#[test]
fn pipelined_pieces_are_counted_wherever_their_header_was_kept() {
    // Most headers fall where the cut dropped the bytes; each time, the next one is predicted
    // a piece further on, checked where the bytes were kept, and framing is regained there.
    let (s, truth) = pipelined_blocks(400, None);
    let (d, ev) = decode_runs(&captured(&s, &[s.len() as u64], 1448, 200));
    // By offset and kind: a header whose fields the cut dropped is reported as `Cut`.
    let seen: Vec<(u64, Option<MsgKind>)> = truth
        .iter()
        .filter(|(o, _)| header_kept(*o))
        .map(|(o, m)| (*o, m.kind()))
        .collect();
    let got: Vec<(u64, Option<MsgKind>)> = messages(&ev)
        .into_iter()
        .filter(|(_, m)| m.kind().is_some())
        .map(|(o, m)| (o, m.kind()))
        .collect();
    assert_eq!(got, seen, "every kept header and nothing else");
    assert!(seen.len() > 40, "{} of 400 headers kept", seen.len());
    assert_eq!(d.counts[MsgKind::Piece as usize], seen.len() as u64);
    assert_eq!(d.resyncs as usize, seen.len() - 1);
}

#[test]
fn a_message_of_another_length_in_a_hole_stops_the_prediction_not_the_search() {
    // A have (9 bytes) hidden in a hole shifts every later header: the predicted offsets
    // hold block bytes, which never match, and a header repeating the last piece's length
    // and id found anywhere in a kept run regains framing.
    let n = 400;
    let (s, truth) = pipelined_blocks(n, Some(20));
    let (d, ev) = decode_runs(&captured(&s, &[s.len() as u64], 1448, 200));
    let truth: BTreeMap<u64, Message> = truth.into_iter().collect();
    let mut pieces = 0;
    for (o, m) in messages(&ev) {
        if m.kind().is_some() {
            assert_eq!(truth.get(&o).map(Message::kind), Some(m.kind()), "at {o}");
            pieces += 1;
        }
    }
    let kept = truth.keys().filter(|o| header_kept(**o)).count();
    assert!(pieces + 3 >= kept, "{pieces} of {kept} kept headers");
    assert!(d.resyncs > 20);
}

#[test]
fn a_handshake_after_a_preamble_is_found_even_across_runs() {
    let preamble: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (stream, truth) = encode(&[Message::Interested, Message::Have { index: 9 }]);
    let mut all = preamble.clone();
    all.extend(&stream);
    for cut in [1, 290, 300, 301, 305, 319, 320, 321, 350] {
        let runs = [
            Run::Data(all[..cut].to_vec()),
            Run::Data(all[cut..].to_vec()),
        ];
        let (d, ev) = decode_runs(&runs);
        assert_eq!(d.preamble, Some(300), "cut {cut}");
        assert_eq!(d.handshake.map(|h| h.offset), Some(300));
        let shifted: Vec<(u64, Message)> =
            truth.iter().map(|(o, m)| (o + 300, m.clone())).collect();
        assert_eq!(messages(&ev), shifted, "cut {cut}");
    }
}

#[test]
fn a_stream_without_a_handshake_is_not_bittorrent() {
    let http = b"GET /announce?info_hash=x HTTP/1.1\r\nHost: tracker\r\n\r\n".repeat(100);
    let (d, ev) = decode_runs(&[Run::Data(http)]);
    assert_eq!(d.framing, Framing::NotBitTorrent);
    assert!(d.handshake.is_none());
    assert!(messages(&ev).is_empty());
    assert_eq!(d.text.lines.len(), 300);
}

#[test]
fn a_hole_over_the_peer_id_keeps_the_rest_of_the_handshake() {
    let (stream, truth) = encode(&[Message::Unchoke]);
    let runs = [
        Run::Data(stream[..50].to_vec()),
        Run::Hole(18),
        Run::Data(stream[68..].to_vec()),
    ];
    let (d, ev) = decode_runs(&runs);
    let hs = d.handshake.unwrap();
    assert_eq!((hs.info_hash, hs.peer_id), (Some(HASH), None));
    assert_eq!(messages(&ev), truth);
}

#[test]
fn a_stream_ending_inside_the_handshake_reports_what_was_seen() {
    let hs = bt::handshake([0; 8], HASH, PEER);
    let mut d = DirDecoder::new(Side::Client);
    let mut ev = Events::default();
    let mut shared = Shared::default();
    let mut ev = Out {
        events: &mut ev,
        shared: &mut shared,
    };
    d.data(0, &hs[..40], at(1), &mut ev);
    assert!(d.handshake.is_none());
    d.finish(&mut ev);
    let h = d.handshake.unwrap();
    assert_eq!(
        (h.reserved, h.info_hash, h.peer_id),
        (Some([0; 8]), None, None)
    );
    // Before the protocol string is complete there is nothing to report.
    let mut d = DirDecoder::new(Side::Client);
    d.data(0, &hs[..19], at(1), &mut ev);
    d.finish(&mut ev);
    assert!(d.handshake.is_none());
}

#[test]
fn a_hole_over_a_header_loses_framing_until_a_trusted_header() {
    let msgs = [
        Message::Have { index: 1 },
        Message::Have { index: 2 },
        Message::Request {
            index: 3,
            begin: 0,
            length: 16384,
        },
        Message::Have { index: 4 },
    ];
    let (stream, truth) = encode(&msgs);
    let (h1, h2, req) = (
        truth[0].0 as usize,
        truth[1].0 as usize,
        truth[2].0 as usize,
    );
    let runs = [
        Run::Data(stream[..h2].to_vec()),
        Run::Hole((req - h2) as u64),
        // A segment starting with a request header: trusted on its own.
        Run::Data(stream[req..].to_vec()),
    ];
    let (d, ev) = decode_runs(&runs);
    let got = messages(&ev);
    assert_eq!(got[0], (h1 as u64, msgs[0].clone()));
    assert_eq!(
        got[1],
        (h2 as u64, Message::FramingLost(LostReason::HeaderInHole))
    );
    assert!(matches!(got[2], (o, Message::Resync { skipped: 9 }) if o == req as u64));
    assert_eq!(got[3..], truth[2..]);
    assert_eq!(d.resyncs, 1);
    assert_eq!(d.unparsed, 9);
}

#[test]
fn an_implausible_length_loses_framing() {
    let mut stream = bt::handshake([0; 8], HASH, PEER);
    stream.extend([0x7f, 0xff, 0xff, 0xff, 7]);
    let (d, ev) = decode_runs(&[Run::Data(stream)]);
    assert!(matches!(
        d.framing,
        Framing::Lost {
            offset: 68,
            reason: LostReason::Implausible
        }
    ));
    assert_eq!(
        messages(&ev),
        vec![(68, Message::FramingLost(LostReason::Implausible))]
    );
}

#[test]
fn a_cut_extended_handshake_is_reported_without_its_dictionary() {
    let (stream, truth) = encode(&[Message::ExtendedHandshake(Some(ext())), Message::Interested]);
    let runs = [
        Run::Data(stream[..80].to_vec()),
        Run::Hole(truth[1].0 - 80),
        Run::Data(stream[truth[1].0 as usize..].to_vec()),
    ];
    let (d, ev) = decode_runs(&runs);
    assert_eq!(
        messages(&ev),
        vec![(68, Message::ExtendedHandshake(None)), truth[1].clone()]
    );
    assert_eq!(d.ext_handshake, None);
    assert_eq!(d.framing, Framing::Ok);
}

fn flow(client: &[Run], server: &[Run]) -> FlowDecoder {
    let mut f = FlowDecoder::new(Config::default());
    let mut shared = Shared::default();
    for (side, runs) in [(Side::Client, client), (Side::Server, server)] {
        let mut off = 0;
        for (i, r) in runs.iter().enumerate() {
            let a = at(i as u64 * 2 + u64::from(side == Side::Server) + 1);
            match r {
                Run::Data(b) => {
                    f.data(side, off, b, a, &mut shared);
                    off += b.len() as u64;
                }
                Run::Hole(n) => {
                    f.hole(side, off, *n, HoleCause::Truncated, a, &mut shared);
                    off += n;
                }
            }
        }
    }
    f
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn flows_are_classified_by_what_they_carry() {
    let hs = bt::handshake([0; 8], HASH, PEER);
    let bt_flow = flow(&[Run::Data(hs.clone())], &[Run::Data(hs)]);
    assert_eq!(bt_flow.kind(), Kind::BitTorrent);

    // Glasnost control: 68 random bytes, then 166, each side; the piece data after.
    let r = |n, s| Run::Data(random_bytes(n, s));
    let control = flow(
        &[r(68, 1), r(166, 2), r(5, 3)],
        &[r(68, 4), r(166, 5), r(5, 6), r(1448, 7)],
    );
    assert_eq!(control.kind(), Kind::Control);
    // Reset right after the first exchange: still recognisable.
    assert_eq!(flow(&[r(68, 8)], &[r(68, 9)]).kind(), Kind::Control);

    // MSE/PE: a 96-byte key plus padding each way, then encrypted traffic.
    let mse = flow(
        &[r(96 + 200, 10), r(80, 11)],
        &[r(96 + 50, 12), r(1448, 13)],
    );
    assert_eq!(mse.kind(), Kind::Encrypted);

    let cmd = flow(
        &[Run::Data(
            b"replay bt as client on port 6881 for 20 seconds.\n".to_vec(),
        )],
        &[Run::Data(b"port 6881 ok\n".to_vec())],
    );
    assert_eq!(cmd.kind(), Kind::Command);

    let http = flow(
        &[Run::Data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec())],
        &[Run::Data(b"HTTP/1.1 200 OK\r\n\r\n".to_vec())],
    );
    assert_eq!(http.kind(), Kind::Other);
    // A TLS client hello of MSE-like size is not MSE.
    let mut tls = vec![0x16, 0x03, 0x01];
    tls.extend(random_bytes(300, 14));
    assert_eq!(flow(&[Run::Data(tls)], &[r(200, 15)]).kind(), Kind::Other);
    assert_eq!(FlowDecoder::new(Config::default()).kind(), Kind::Other);
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::HaveAll),
        any::<u32>().prop_map(|index| Message::Have { index }),
        (1u32..600).prop_map(|len| Message::Bitfield { len }),
        (0u32..1 << 20, 0u32..1 << 20, 0u32..1 << 15).prop_map(|(index, begin, length)| {
            Message::Request {
                index,
                begin,
                length,
            }
        }),
        (0u32..1 << 20, 0u32..1 << 20, 0u32..3000).prop_map(|(index, begin, length)| {
            Message::Piece {
                index,
                begin,
                length,
            }
        }),
        any::<u16>().prop_map(|port| Message::Port { port }),
        (1u8..=255, 2u32..200).prop_map(|(sub_id, len)| Message::Extended { sub_id, len }),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_in_any_segmentation(
        msgs in proptest::collection::vec(arb_message(), 0..40),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        let (stream, truth) = encode(&msgs);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len())).collect();
        points.extend([0, stream.len()]);
        points.sort_unstable();
        points.dedup();
        let runs: Vec<Run> = points.windows(2).map(|w| Run::Data(stream[w[0]..w[1]].to_vec())).collect();
        let (d, ev) = decode_runs(&runs);
        prop_assert_eq!(messages(&ev), truth);
        prop_assert_eq!(d.framing, Framing::Ok);
    }

    #[test]
    fn holes_never_make_the_decoder_report_an_unseen_message(
        msgs in proptest::collection::vec(arb_message(), 1..40),
        segs in proptest::collection::vec((1usize..400, 0usize..400), 1..60),
    ) {
        let (stream, truth) = encode(&msgs);
        // Cut the stream in segments, each keeping a prefix.
        let mut runs = Vec::new();
        let mut off = 0;
        for (len, keep) in segs.iter().cycle() {
            if off >= stream.len() { break; }
            let end = (off + len).min(stream.len());
            let kept = (off + keep).min(end);
            runs.push(Run::Data(stream[off..kept].to_vec()));
            if end > kept { runs.push(Run::Hole((end - kept) as u64)); }
            off = end;
        }
        let (_, ev) = decode_runs(&runs);
        let truth: BTreeMap<u64, Message> = truth.into_iter().collect();
        let mut lost = false;
        for (o, m) in messages(&ev) {
            match m {
                Message::FramingLost(_) => lost = true,
                Message::Resync { .. } => lost = false,
                Message::ExtendedHandshake(None) => {}
                // Length and id seen, fields cut: a message of that id and length is there.
                Message::Cut { id, len } => {
                    let real = truth.get(&o);
                    prop_assert!(real.is_some(), "cut message at {} where none starts", o);
                    let real = real.unwrap();
                    prop_assert_eq!(real.kind(), Some(MsgKind::of_id(id)));
                    prop_assert_eq!(bt::message(real, 0).map(|b| b.len() as u32 - 4), Some(len));
                }
                m => {
                    prop_assert!(!lost, "message reported while lost: {:?}", m);
                    // A resync may rarely trust a look-alike inside a body; it must then
                    // still be a real message start to be reported as that message.
                    prop_assert_eq!(truth.get(&o), Some(&m), "at offset {}", o);
                }
            }
        }
    }

    #[test]
    fn the_chain_search_tries_every_offset_a_chain_can_start_at(
        noise in proptest::collection::vec(any::<u8>(), 0..400),
        chain in proptest::collection::vec(arb_message(), 0..4),
        at in any::<prop::sample::Index>(),
    ) {
        // Random bytes with perhaps a few real messages inside: the zero-byte prefilter finds
        // what trying every offset finds.
        let mut b = noise;
        let (msgs, _) = encode(&chain);
        let at = at.index(b.len() + 1);
        b.splice(at..at, msgs.get(68..).unwrap_or(&[]).iter().copied());
        let every = (1..b.len().saturating_sub(5)).find(|&i| decoder::trusted_chain(&b[i..]));
        prop_assert_eq!(decoder::resync_point(&b, None), every);
    }

    #[test]
    fn arbitrary_bytes_and_holes_never_panic(
        runs in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300).prop_map(Run::Data),
                (0u64..100_000).prop_map(Run::Hole),
            ],
            0..30,
        ),
        lead in proptest::option::of(Just(())),
    ) {
        let mut runs = runs;
        if lead.is_some() {
            runs.insert(0, Run::Data(bt::handshake([0; 8], HASH, PEER)));
        }
        let (d, _) = decode_runs(&runs);
        let total: u64 = runs.iter().map(|r| match r { Run::Data(b) => b.len() as u64, Run::Hole(n) => *n }).sum();
        prop_assert_eq!(d.position(), total);
    }
}

#[test]
fn text_lines_of_all_flows_share_one_bound() {
    let line = b"replay BitTorrent server 20 port 6881\n";
    let cost = line.len() - 1 + LINE_OVERHEAD;
    let mut shared = Shared::new(5 * cost, EVENTS_BUDGET);
    let (mut ea, mut eb) = (Events::default(), Events::default());
    let mut a = DirDecoder::new(Side::Client);
    let mut b = DirDecoder::new(Side::Client);
    for (d, events, frame) in [(&mut a, &mut ea, 1), (&mut b, &mut eb, 2)] {
        let shared = &mut shared;
        d.data(0, &line.repeat(3), at(frame), &mut Out { events, shared });
    }
    assert_eq!(a.text.lines.len(), 3);
    assert_eq!(b.text.lines.len(), 2, "the sixth line is past the bound");
    assert_eq!(shared.text_cut, 1);
    // What was kept still tells a command channel.
    assert_eq!(b.text.glasnost_commands(), 2);
}

#[test]
fn kept_messages_are_bounded_per_flow_and_per_capture() {
    let mut shared = Shared::new(TEXT_BUDGET, 5);
    let mut flows: Vec<Events> = (0..2)
        .map(|_| Events {
            keep: true,
            max: 4,
            ..Events::default()
        })
        .collect();
    for ev in flows.iter_mut() {
        let mut d = DirDecoder::new(Side::Client);
        let mut s = bt::handshake([0; 8], HASH, PEER);
        for _ in 0..5 {
            s.extend(bt::message(&Message::Interested, 0).unwrap());
        }
        d.data(
            0,
            &s,
            at(1),
            &mut Out {
                events: ev,
                shared: &mut shared,
            },
        );
    }
    // Six messages each: the first flow keeps 4 (its own bound), the second 1 (the capture's).
    assert_eq!(flows[0].list.len(), 4);
    assert_eq!(flows[0].dropped, 2);
    assert_eq!(flows[1].list.len(), 1);
    assert_eq!(flows[1].dropped, 5);
    assert_eq!(shared.events_cut, 5);
}

#[test]
fn the_flow_table_hands_every_flow_the_captures_one_text_bound() {
    use crate::capture::LinkType;
    use crate::flows::{FlowTable, TableLimits};
    use crate::synth::Conv;
    let line = b"replay BitTorrent server 20 port 6881\n";
    let cost = line.len() - 1 + LINE_OVERHEAD;
    let mut t = FlowTable::new(TableLimits::default(), FlowDecoder::new(Config::default()));
    t.budgets.sink = Shared::new(5 * cost, EVENTS_BUDGET);
    let mut frame = 0;
    for port in [40_001, 40_002] {
        let mut c = Conv::new(
            format!("198.51.100.7:{port}").parse().unwrap(),
            "203.0.113.9:19970".parse().unwrap(),
        );
        c.handshake().data(Side::Client, &line.repeat(3));
        for p in &c.packets {
            frame += 1;
            let rec = p.record(LinkType::RAW, None);
            let f = rec.frame(frame, LinkType::RAW);
            let seg = crate::wire::decode(&f).unwrap();
            t.process(&seg, PacketRef { frame, ts: f.ts });
        }
    }
    // Three lines in the first flow, two in the second: the sixth is past the shared bound.
    assert_eq!(t.budgets.sink.text_cut, 1);
    let kept: Vec<usize> = t
        .flows()
        .iter()
        .map(|f| f.app.dir(Side::Client).unwrap().text.lines.len())
        .collect();
    assert_eq!(kept, [3, 2]);
}
