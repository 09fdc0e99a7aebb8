//! A `FlowDecoder` driven directly with runs of data and holes, as reassembly would feed it
//! (and a little worse: gaps and overlaps the decoder promises to tolerate).
//!
//! The input is a program of operations. Each starts with a byte: bit 0 is the side
//! (client/server), bits 1-3 the operation:
//! - 0, 1: data, length = next byte, bytes taken from the input
//! - 2: data, length = next two bytes (LE), bytes taken from the input
//! - 3: hole, length = next byte + 1
//! - 4: hole, length = next four bytes (LE): a snaplen-cut piece body or a lost window
//! - 5: data after a gap: gap = next byte + 1, then length = next byte
//! - 6: data overlapping what came before: back = next byte, then length = next byte
//! - 7: the roles turn out swapped (`swap_sides`)
//! Bits 4-7 of the op byte pick when the packet changes (a new frame for the run).
//!
//! Properties: no panic; each direction's decoder ends exactly at the stream offset it was
//! fed up to; the event list stays within its bound; every event renders as one line.
#![no_main]

use std::hint::black_box;

use bttrace::btparse::{Config, FlowDecoder, Shared};
use bttrace::capture::Timestamp;
use bttrace::flows::{HoleCause, PacketRef, Side, StreamSink};
use libfuzzer_sys::fuzz_target;

const MAX_EVENTS: usize = 64;

struct Input<'a> {
    b: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&x, rest) = self.b.split_first()?;
        self.b = rest;
        Some(x)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.b.len());
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        head
    }
    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        b.iter().rev().fold(0, |acc, &x| (acc << 8) | u16::from(x))
    }
    fn u32(&mut self) -> u32 {
        let b = self.take(4);
        b.iter().rev().fold(0, |acc, &x| (acc << 8) | u32::from(x))
    }
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let keep_events = data.first().is_some_and(|b| b & 0x80 != 0);
    let mut shared = Shared::default();
    let mut dec = FlowDecoder::new(Config {
        keep_events,
        max_events: MAX_EVENTS,
    });
    let mut input = Input { b: data };
    // Next stream offset each side's decoder should be at.
    let mut pos = [0u64; 2];
    let mut frame = 1u64;
    while let Some(op) = input.byte() {
        let side = if op & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let i = idx(side);
        if op & 0xf0 != 0 {
            frame += 1;
        }
        let at = PacketRef {
            frame,
            ts: Timestamp(1_700_000_000_000_000_000 + frame as i64 * 1_000_000),
        };
        match (op >> 1) & 7 {
            0 | 1 => {
                let n = usize::from(input.byte().unwrap_or(0));
                let bytes = input.take(n);
                dec.data(side, pos[i], bytes, at, &mut shared);
                pos[i] += bytes.len() as u64;
            }
            2 => {
                let n = usize::from(input.u16());
                let bytes = input.take(n);
                dec.data(side, pos[i], bytes, at, &mut shared);
                pos[i] += bytes.len() as u64;
            }
            3 => {
                let n = u64::from(input.byte().unwrap_or(0)) + 1;
                dec.hole(side, pos[i], n, HoleCause::Truncated, at, &mut shared);
                pos[i] += n;
            }
            4 => {
                let n = u64::from(input.u32());
                if n > 0 {
                    dec.hole(side, pos[i], n, HoleCause::NotCaptured, at, &mut shared);
                    pos[i] += n;
                }
            }
            5 => {
                let gap = u64::from(input.byte().unwrap_or(0)) + 1;
                let n = usize::from(input.byte().unwrap_or(0));
                let bytes = input.take(n);
                // Even an empty run declares the gap before it a hole.
                dec.data(side, pos[i] + gap, bytes, at, &mut shared);
                pos[i] += gap + bytes.len() as u64;
            }
            6 => {
                let back = u64::from(input.byte().unwrap_or(0)).min(pos[i]);
                let n = usize::from(input.byte().unwrap_or(0));
                let bytes = input.take(n);
                let start = pos[i] - back;
                dec.data(side, start, bytes, at, &mut shared);
                pos[i] = pos[i].max(start + bytes.len() as u64);
            }
            _ => {
                dec.swap_sides();
                pos.swap(0, 1);
            }
        }
        for s in [Side::Client, Side::Server] {
            if let Some(d) = dec.dir(s) {
                assert_eq!(
                    d.position(),
                    pos[idx(s)],
                    "{s} decoder is at {} but was fed up to {}",
                    d.position(),
                    pos[idx(s)]
                );
            }
        }
    }
    dec.finish(&mut shared);
    black_box(dec.kind().code());
    for s in [Side::Client, Side::Server] {
        if let Some(d) = dec.dir(s) {
            black_box((
                d.handshake,
                d.preamble,
                d.counts,
                d.piece_bytes,
                d.framing,
                d.resyncs,
                d.unparsed,
                d.hole_bytes,
                &d.ext_handshake,
                d.opening.write_ends(),
                d.text.glasnost_commands(),
            ));
        }
    }
    assert!(dec.events.list.len() <= MAX_EVENTS);
    if !keep_events {
        assert!(dec.events.list.is_empty());
    }
    for e in &dec.events.list {
        let line = e.message.describe();
        assert!(!line.contains('\n'), "multi-line event: {line:?}");
    }
});
