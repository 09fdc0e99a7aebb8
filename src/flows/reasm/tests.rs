//! Reassembly traces: each test feeds segments the way a capture would and checks the exact
//! stream (bytes and holes) that comes out.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Data(u64, Vec<u8>),
    Hole(u64, u64, HoleCause),
}

#[derive(Default)]
struct Rec {
    ev: Vec<Ev>,
}

impl StreamSink for Rec {
    type Shared = ();
    fn data(&mut self, side: Side, offset: u64, bytes: &[u8], _at: PacketRef, _: &mut ()) {
        assert_eq!(side, Side::Client);
        self.ev.push(Ev::Data(offset, bytes.to_vec()));
    }
    fn hole(
        &mut self,
        _: Side,
        offset: u64,
        len: u64,
        cause: HoleCause,
        _at: PacketRef,
        _: &mut (),
    ) {
        self.ev.push(Ev::Hole(offset, len, cause));
    }
}

impl Rec {
    /// Checks the events tile the stream from 0 without gaps or overlaps; returns its length.
    fn contiguous_len(&self) -> u64 {
        let mut at = 0;
        for e in &self.ev {
            match e {
                Ev::Data(o, b) => {
                    assert_eq!(*o, at, "data out of place in {:?}", self.ev);
                    at += b.len() as u64;
                }
                Ev::Hole(o, l, _) => {
                    assert_eq!(*o, at, "hole out of place in {:?}", self.ev);
                    at += l;
                }
            }
        }
        at
    }

    /// The stream with holes as `None`.
    fn bytes(&self) -> Vec<Option<u8>> {
        let mut out = Vec::new();
        for e in &self.ev {
            match e {
                Ev::Data(_, b) => out.extend(b.iter().map(|&x| Some(x))),
                Ev::Hole(_, l, _) => out.extend(std::iter::repeat_n(None, *l as usize)),
            }
        }
        out
    }
}

const ISN: u32 = 1_000;

fn at(frame: u64) -> PacketRef {
    PacketRef {
        frame,
        ts: Timestamp(frame as i64 * 1_000_000),
    }
}

fn stream() -> Stream {
    let mut s = Stream::new(Side::Client, Limits::default());
    s.set_origin(SeqNum(ISN));
    s
}

/// A stream that holds at most `bytes` out of order (and 100 pieces).
fn holding(bytes: usize) -> Stream {
    let limits = Limits {
        max_pending_bytes: bytes,
        max_pending_pieces: 100,
    };
    let mut s = Stream::new(Side::Client, limits);
    s.set_origin(SeqNum(ISN));
    s
}

/// Pushes `data` at stream offset `off`, fully captured.
fn put(s: &mut Stream, r: &mut Rec, off: u32, data: &[u8], frame: u64) -> Pushed {
    s.push(
        SeqNum(ISN) + off,
        data.len() as u64,
        data,
        at(frame),
        r,
        &mut (),
    )
}

#[test]
fn in_order_segments_are_delivered_as_they_come() {
    let (mut s, mut r) = (stream(), Rec::default());
    assert_eq!(
        put(&mut s, &mut r, 0, b"hello ", 1),
        Pushed {
            new: 6,
            retransmitted: 0,
            ..Pushed::default()
        }
    );
    put(&mut s, &mut r, 6, b"world", 2);
    assert_eq!(
        r.ev,
        vec![
            Ev::Data(0, b"hello ".to_vec()),
            Ev::Data(6, b"world".to_vec())
        ]
    );
    assert_eq!(s.next_offset(), 11);
    assert_eq!(s.stats.unique, 11);
    assert_eq!(s.pending(), (0, 0));
}

#[test]
fn snaplen_cut_becomes_a_hole_of_known_length() {
    // Glasnost keeps 200 payload bytes of a 1448-byte segment.
    let (mut s, mut r) = (stream(), Rec::default());
    let captured = vec![7u8; 200];
    s.push(SeqNum(ISN), 1448, &captured, at(1), &mut r, &mut ());
    assert_eq!(
        r.ev,
        vec![
            Ev::Data(0, captured),
            Ev::Hole(200, 1248, HoleCause::Truncated)
        ]
    );
    assert_eq!(s.stats.unique, 1448);
    assert_eq!(s.stats.truncated, 1248);
}

#[test]
fn headers_only_capture_is_all_hole() {
    let (mut s, mut r) = (stream(), Rec::default());
    s.push(SeqNum(ISN), 1000, &[], at(1), &mut r, &mut ());
    assert_eq!(r.ev, vec![Ev::Hole(0, 1000, HoleCause::Truncated)]);
}

#[test]
fn out_of_order_data_waits_for_the_gap() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 5, b"world", 1);
    assert!(r.ev.is_empty());
    assert_eq!(s.pending(), (5, 1));
    assert_eq!(s.stats.unique, 5);
    put(&mut s, &mut r, 0, b"hello", 2);
    assert_eq!(
        r.ev,
        vec![
            Ev::Data(0, b"hello".to_vec()),
            Ev::Data(5, b"world".to_vec())
        ]
    );
    assert_eq!(s.pending(), (0, 0));
    assert_eq!(s.stats.unique, 10);
    assert_eq!(s.stats.retransmitted, 0);
}

#[test]
fn full_retransmission_is_counted_not_delivered() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"abcdef", 1);
    let p = put(&mut s, &mut r, 0, b"abcdef", 2);
    assert_eq!(
        p,
        Pushed {
            new: 0,
            retransmitted: 6,
            ..Pushed::default()
        }
    );
    assert_eq!(r.ev.len(), 1);
    assert_eq!(s.stats.retransmitted, 6);
    assert_eq!(s.stats.overlap_mismatches, 0);
}

#[test]
fn partial_overlap_delivers_only_the_new_bytes() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"abcdef", 1);
    let p = put(&mut s, &mut r, 3, b"defghi", 2);
    assert_eq!(
        p,
        Pushed {
            new: 3,
            retransmitted: 3,
            ..Pushed::default()
        }
    );
    assert_eq!(r.ev.last(), Some(&Ev::Data(6, b"ghi".to_vec())));
}

#[test]
fn retransmission_with_different_bytes_is_an_anomaly() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"GET /index", 1);
    put(&mut s, &mut r, 0, b"GET /evil!", 7);
    assert_eq!(s.stats.overlap_mismatches, 1);
    assert_eq!(s.stats.first_mismatch_frame, Some(7));
    // The first copy stands.
    assert_eq!(r.ev, vec![Ev::Data(0, b"GET /index".to_vec())]);
}

#[test]
fn differing_overlap_inside_the_buffer_is_an_anomaly() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 10, b"0123456789", 1);
    put(&mut s, &mut r, 15, b"56XX89abcd", 2);
    assert_eq!(s.stats.overlap_mismatches, 1);
    assert_eq!(s.stats.first_mismatch_frame, Some(2));
    // Only the 5 bytes beyond the first copy are new.
    assert_eq!(s.stats.unique, 15);
    assert_eq!(s.stats.retransmitted, 5);
}

#[test]
fn segment_spanning_buffered_pieces_fills_only_the_gaps() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 10, b"KLMNO", 1);
    put(&mut s, &mut r, 20, b"UVWXY", 2);
    // Covers [5, 30): gaps [5,10), [15,20), [25,30) are new.
    let p = put(&mut s, &mut r, 5, b"FGHIJKLMNOPQRSTUVWXYZ[\\]^", 3);
    assert_eq!(
        p,
        Pushed {
            new: 15,
            retransmitted: 10,
            ..Pushed::default()
        }
    );
    assert_eq!(s.stats.overlap_mismatches, 0);
    put(&mut s, &mut r, 0, b"ABCDE", 4);
    let all: Vec<u8> = r.bytes().into_iter().map(|b| b.unwrap()).collect();
    assert_eq!(all, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^");
    assert_eq!(s.pending(), (0, 0));
}

#[test]
fn in_order_segment_reaching_into_the_buffer_is_split() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 4, b"efgh", 1);
    let p = put(&mut s, &mut r, 0, b"abcdef", 2);
    assert_eq!(
        p,
        Pushed {
            new: 4,
            retransmitted: 2,
            ..Pushed::default()
        }
    );
    assert_eq!(
        r.ev,
        vec![Ev::Data(0, b"abcd".to_vec()), Ev::Data(4, b"efgh".to_vec())]
    );
}

#[test]
fn receiver_ack_beyond_a_gap_that_never_fills_means_capture_loss() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"aaaa", 1);
    put(&mut s, &mut r, 8, b"cccc", 2);
    // The receiver acknowledges 12 bytes: [4, 8) reached it. The wait goes on (the bytes
    // may still come, later in the file); when the flow ends without them, they were lost
    // before the capture point.
    s.acked(SeqNum(ISN) + 12);
    assert_eq!(r.ev, vec![Ev::Data(0, b"aaaa".to_vec())]);
    s.flush(at(3), &mut r, &mut ());
    assert_eq!(
        r.ev,
        vec![
            Ev::Data(0, b"aaaa".to_vec()),
            Ev::Hole(4, 4, HoleCause::NotCaptured),
            Ev::Data(8, b"cccc".to_vec()),
        ]
    );
    assert_eq!((s.stats.not_captured, s.stats.unfilled), (4, 0));
    assert_eq!(s.next_offset(), 12);
}

#[test]
fn bytes_that_come_after_their_acknowledgment_are_reassembled() {
    // Two capture queues written one after the other: the ACK of [0, 12) is in the file
    // before the segment [4, 8) it covers.
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"aaaa", 1);
    put(&mut s, &mut r, 8, b"cccc", 2);
    s.acked(SeqNum(ISN) + 12);
    let p = put(&mut s, &mut r, 4, b"bbbb", 3);
    assert_eq!(
        p,
        Pushed {
            new: 4,
            ..Pushed::default()
        }
    );
    assert_eq!(r.contiguous_len(), 12);
    assert_eq!(
        (
            s.stats.not_captured,
            s.stats.unassembled,
            s.stats.retransmitted
        ),
        (0, 0, 0)
    );
}

#[test]
fn an_acknowledged_gap_given_up_by_the_bound_was_not_captured() {
    let (mut s, mut r) = (holding(10), Rec::default());
    put(&mut s, &mut r, 50, b"12345", 1);
    // Acknowledged up to 30: [0, 30) was received, [30, 50) is not known to be.
    s.acked(SeqNum(ISN) + 30);
    put(&mut s, &mut r, 55, b"678901", 2);
    assert_eq!(
        r.ev,
        vec![
            Ev::Hole(0, 30, HoleCause::NotCaptured),
            Ev::Hole(30, 20, HoleCause::Overflow),
            Ev::Data(50, b"12345".to_vec()),
            Ev::Data(55, b"678901".to_vec()),
        ]
    );
    assert_eq!((s.stats.not_captured, s.stats.overflow), (30, 20));
}

#[test]
fn an_ack_of_bytes_never_seen_invents_nothing() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"aaaa", 1);
    s.acked(SeqNum(ISN) + 1_000_000);
    s.flush(at(2), &mut r, &mut ());
    assert_eq!(r.ev.len(), 1);
    assert_eq!(s.next_offset(), 4);
    // With a buffered piece, holes stop at the highest byte seen.
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"aaaa", 1);
    put(&mut s, &mut r, 10, b"bb", 3);
    s.acked(SeqNum(ISN) + 1_000_000);
    s.flush(at(4), &mut r, &mut ());
    assert_eq!(s.next_offset(), 12);
    assert_eq!(r.contiguous_len(), 12);
    assert_eq!(s.stats.not_captured, 6);
}

#[test]
fn a_full_buffer_gives_up_the_oldest_gap() {
    let (mut s, mut r) = (holding(10), Rec::default());
    put(&mut s, &mut r, 100, b"123456", 1);
    assert!(r.ev.is_empty());
    put(&mut s, &mut r, 106, b"789012", 2);
    assert_eq!(
        r.ev,
        vec![
            Ev::Hole(0, 100, HoleCause::Overflow),
            Ev::Data(100, b"123456".to_vec()),
            Ev::Data(106, b"789012".to_vec()),
        ]
    );
    assert_eq!(s.stats.overflow, 100);
    // The given-up bytes arriving late were captured: unassembled, not delivered, not lost.
    let p = put(&mut s, &mut r, 0, &[0u8; 100], 3);
    assert_eq!(
        p,
        Pushed {
            new: 0,
            retransmitted: 0,
            unassembled: 100,
        }
    );
    assert_eq!(r.ev.len(), 3);
    assert_eq!((s.stats.overflow, s.stats.unassembled), (0, 100));
    // A second copy of them is a retransmission.
    let p = put(&mut s, &mut r, 40, &[0u8; 20], 4);
    assert_eq!((p.retransmitted, p.unassembled), (20, 0));
    assert_eq!(s.stats.unassembled, 100);
}

#[test]
fn late_bytes_of_an_acknowledged_gap_are_unassembled_in_part() {
    let (mut s, mut r) = (holding(5), Rec::default());
    s.push(SeqNum(ISN) + 100, 5, b"later", at(1), &mut r, &mut ());
    s.acked(SeqNum(ISN + 105));
    // The bound gives the gap up; the receiver had acknowledged it.
    s.push(SeqNum(ISN) + 105, 1, b"x", at(1), &mut r, &mut ());
    assert_eq!(s.stats.not_captured, 100);
    // The middle of the gap arrives: the gap splits, both ends stay missing.
    let p = put(&mut s, &mut r, 30, &[1u8; 40], 2);
    assert_eq!((p.unassembled, p.retransmitted), (40, 0));
    assert_eq!((s.stats.not_captured, s.stats.unassembled), (60, 40));
    // Both ends, and a stretch beyond the gap already delivered.
    let p = put(&mut s, &mut r, 0, &[1u8; 106], 3);
    assert_eq!((p.unassembled, p.retransmitted), (60, 46));
    assert_eq!((s.stats.not_captured, s.stats.unassembled), (0, 100));
}

#[test]
fn piece_limit_bounds_tiny_segments() {
    let limits = Limits {
        max_pending_bytes: 1 << 20,
        max_pending_pieces: 4,
    };
    let mut s = Stream::new(Side::Client, limits);
    s.set_origin(SeqNum(ISN));
    let mut r = Rec::default();
    for i in 0..5 {
        put(&mut s, &mut r, 10 + i * 2, b"x", i as u64 + 1);
    }
    assert!(s.pending().1 <= 4);
    assert_eq!(r.ev.first(), Some(&Ev::Hole(0, 10, HoleCause::Overflow)));
}

#[test]
fn flush_ends_with_unfilled_holes() {
    let (mut s, mut r) = (stream(), Rec::default());
    put(&mut s, &mut r, 0, b"ab", 1);
    put(&mut s, &mut r, 5, b"fg", 2);
    put(&mut s, &mut r, 9, b"j", 3);
    s.flush(at(4), &mut r, &mut ());
    assert_eq!(
        r.ev,
        vec![
            Ev::Data(0, b"ab".to_vec()),
            Ev::Hole(2, 3, HoleCause::Unfilled),
            Ev::Data(5, b"fg".to_vec()),
            Ev::Hole(7, 2, HoleCause::Unfilled),
            Ev::Data(9, b"j".to_vec()),
        ]
    );
    assert_eq!(s.stats.unfilled, 5);
}

#[test]
fn sequence_wraparound_keeps_offsets_growing() {
    let mut s = Stream::new(Side::Client, Limits::default());
    let origin = SeqNum(u32::MAX - 3);
    s.set_origin(origin);
    let mut r = Rec::default();
    s.push(origin, 4, b"abcd", at(1), &mut r, &mut ());
    // Sequence numbers wrapped to 0; the stream offset keeps growing.
    s.push(SeqNum(0), 4, b"efgh", at(2), &mut r, &mut ());
    s.push(SeqNum(8), 2, b"kl", at(3), &mut r, &mut ());
    s.push(SeqNum(4), 4, b"ij\0\0", at(4), &mut r, &mut ());
    assert_eq!(r.contiguous_len(), 14);
    assert_eq!(s.offset_of(SeqNum(10)), Some(14));
    assert_eq!(s.stats.unique, 14);
}

#[test]
fn bytes_before_a_mid_stream_origin_are_counted_apart() {
    let mut s = Stream::new(Side::Client, Limits::default());
    s.set_origin(SeqNum(5_000));
    let mut r = Rec::default();
    s.push(SeqNum(5_000), 3, b"xyz", at(1), &mut r, &mut ());
    // A reordered earlier segment straddling the origin.
    let p = s.push(SeqNum(4_998), 4, b"vwxy", at(2), &mut r, &mut ());
    assert_eq!(p.new, 0);
    assert_eq!(s.stats.before_origin, 2);
    assert_eq!(s.stats.retransmitted, 4);
}

#[test]
fn nothing_happens_without_an_origin_or_bytes() {
    let mut s = Stream::new(Side::Client, Limits::default());
    let mut r = Rec::default();
    assert_eq!(
        s.push(SeqNum(1), 5, b"abcde", at(1), &mut r, &mut ()),
        Pushed::default()
    );
    s.set_origin(SeqNum(1));
    assert_eq!(
        s.push(SeqNum(1), 0, b"", at(2), &mut r, &mut ()),
        Pushed::default()
    );
    assert!(r.ev.is_empty());
}

#[test]
fn origin_moves_only_before_delivery() {
    let mut s = Stream::new(Side::Client, Limits::default());
    s.set_origin(SeqNum(100));
    s.set_origin(SeqNum(90));
    assert_eq!(s.offset_of(SeqNum(90)), Some(0));
    let mut r = Rec::default();
    s.push(SeqNum(90), 2, b"ab", at(1), &mut r, &mut ());
    s.set_origin(SeqNum(7));
    assert_eq!(s.offset_of(SeqNum(92)), Some(2));
}

/// A stream cut into segments, each possibly truncated, shuffled and duplicated.
fn arb_delivery() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, usize, usize)>)> {
    (1usize..2000).prop_flat_map(|len| {
        let data = proptest::collection::vec(any::<u8>(), len);
        let cuts = proptest::collection::vec(1usize..len.max(2), 0..20);
        (
            data,
            cuts,
            any::<u64>(),
            0usize..5,
            proptest::collection::vec(0usize..300, 40),
        )
            .prop_map(move |(data, mut cuts, seed, dups, caps)| {
                cuts.push(0);
                cuts.push(len);
                cuts.sort_unstable();
                cuts.dedup();
                let mut segs: Vec<(usize, usize, usize)> = cuts
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| (w[0], w[1], caps[i % caps.len()]))
                    .collect();
                for d in 0..dups {
                    let s = segs[(seed as usize + d * 7) % segs.len()];
                    segs.push(s);
                }
                // Deterministic shuffle from the seed.
                let mut x = seed | 1;
                for i in (1..segs.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    segs.swap(i, (x % (i as u64 + 1)) as usize);
                }
                (data, segs)
            })
    })
}

proptest! {
    #[test]
    fn any_order_reproduces_the_stream((data, segs) in arb_delivery(), origin in any::<u32>()) {
        let mut s = Stream::new(Side::Client, Limits { max_pending_bytes: 1 << 20, max_pending_pieces: 1 << 10 });
        s.set_origin(SeqNum(origin));
        let mut r = Rec::default();
        for (i, (a, b, cap)) in segs.iter().enumerate() {
            let captured = &data[*a..(*a + *cap).min(*b)];
            s.push(SeqNum(origin) + *a as u32, (*b - *a) as u64, captured, at(i as u64 + 1), &mut r, &mut ());
        }
        s.flush(at(999), &mut r, &mut ());
        prop_assert_eq!(r.contiguous_len(), data.len() as u64);
        prop_assert_eq!(s.stats.unique, data.len() as u64);
        prop_assert_eq!(s.stats.unfilled, 0);
        // Every captured byte is the original byte; holes only where a copy was truncated.
        for (i, b) in r.bytes().iter().enumerate() {
            if let Some(b) = b {
                prop_assert_eq!(*b, data[i]);
            }
        }
        prop_assert_eq!(s.stats.overlap_mismatches, 0);
    }

    #[test]
    fn arbitrary_segments_never_break_the_invariants(
        segs in proptest::collection::vec((any::<u32>(), 0u64..5000, proptest::collection::vec(any::<u8>(), 0..64), any::<bool>()), 0..60)
    ) {
        let mut s = Stream::new(Side::Client, Limits { max_pending_bytes: 4096, max_pending_pieces: 8 });
        s.set_origin(SeqNum(0));
        let mut r = Rec::default();
        for (i, (seq, len, bytes, is_ack)) in segs.iter().enumerate() {
            if *is_ack {
                s.acked(SeqNum(*seq));
            } else {
                s.push(SeqNum(*seq), *len, bytes, at(i as u64), &mut r, &mut ());
            }
            prop_assert!(s.pending().0 <= 4096 + 64);
        }
        s.flush(at(1000), &mut r, &mut ());
        prop_assert_eq!(r.contiguous_len(), s.next_offset());
        prop_assert_eq!(s.pending(), (0, 0));
    }
}
