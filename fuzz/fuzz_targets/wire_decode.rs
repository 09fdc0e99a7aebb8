//! A frame → `wire::decode`.
//!
//! Input: byte 0 picks a link type from the supported list (plus one unsupported), byte 1
//! picks how much longer the packet was on the wire than captured (as a snaplen cut leaves
//! it; never shorter, which the capture reader guarantees), the rest is the frame.
//!
//! Properties: no panic; on success the captured payload is a sub-slice of the frame, at
//! most the declared payload length, and the declared length fits the wire length.
#![no_main]

use std::hint::black_box;

use bttrace::capture::{Frame, LinkType, Timestamp};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 15] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::PPP,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::PPP_HDLC,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::PPI,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType::LINUX_SLL2,
    LinkType(147), // unsupported (DLT_USER0)
];

fuzz_target!(|input: &[u8]| {
    let [pick, slack, data @ ..] = input else {
        return;
    };
    let link = LINKS[usize::from(*pick) % LINKS.len()];
    let extra = if *slack < 128 {
        0
    } else {
        u32::from(*slack - 127) * 509
    };
    let frame = Frame {
        index: 1,
        ts: Timestamp(0),
        link,
        data,
        wire_len: data.len() as u32 + extra,
        offset: 0,
    };
    match bttrace::wire::decode(&frame) {
        Ok(seg) => {
            assert!(
                seg.payload.len() as u64 <= u64::from(seg.payload_len),
                "captured payload {} > declared {}",
                seg.payload.len(),
                seg.payload_len
            );
            assert!(
                u64::from(seg.payload_len) <= u64::from(frame.wire_len),
                "declared payload {} > wire length {}",
                seg.payload_len,
                frame.wire_len
            );
            let base = data.as_ptr() as usize;
            let p = seg.payload.as_ptr() as usize;
            assert!(
                seg.payload.is_empty() || (p >= base && p + seg.payload.len() <= base + data.len()),
                "payload is not inside the frame"
            );
            black_box(seg.missing_payload());
            black_box(seg.anomalies().count());
            black_box(format!("{} {} {:?}", seg.src, seg.flags, seg.options));
        }
        Err(skip) => {
            black_box((skip.code(), skip.describe()));
        }
    }
});
