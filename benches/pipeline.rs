//! Benchmarks of the hot stages on captures built in memory: frame decoding, in-order
//! reassembly, and the whole per-file pipeline on bulk BitTorrent-like transfers, full size
//! and cut to 254 bytes a packet (as `editcap -s 254` does). Throughput is in captured bytes.
//!
//! `cargo bench --bench pipeline`; compare ratios within one run, not absolute times.

use std::hint::black_box;

use bttrace::capture::{Frame, LinkType, Timestamp};
use bttrace::flows::{Limits, PacketRef, Side, StreamSink, reasm::Stream, seq::SeqNum};
use bttrace::synth::{self, Conv, PcapOpts, Record};
use bttrace::wire::{self, TcpFlags};
use bttrace::{Options, analyze_bytes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// `flows` interleaved bulk transfers of `segments` 1448-byte segments each, with ACKs.
fn bulk_capture(flows: u16, segments: usize, snaplen: Option<usize>) -> Vec<u8> {
    let mut convs: Vec<Conv> = (0..flows)
        .map(|i| {
            let mut c = Conv::new(
                format!("198.51.100.1:{}", 40000 + i).parse().unwrap(),
                "203.0.113.1:6881".parse().unwrap(),
            );
            c.step_ns = 10_000;
            c.handshake();
            c
        })
        .collect();
    let payload = vec![0xa5u8; 1448];
    for n in 0..segments {
        for c in convs.iter_mut() {
            c.send(Side::Server, TcpFlags::ACK, &payload);
            if n % 2 == 1 {
                c.send(Side::Client, TcpFlags::ACK, &[]);
            }
        }
    }
    let mut recs: Vec<Record> = convs
        .iter()
        .flat_map(|c| {
            c.packets
                .iter()
                .map(|p| p.record(LinkType::ETHERNET, snaplen))
        })
        .collect();
    recs.sort_by_key(|r| r.ts);
    let snap = snaplen.map_or(262_144, |s| s as u32);
    synth::pcap(
        LinkType::ETHERNET,
        &recs,
        PcapOpts {
            snaplen: snap,
            ..PcapOpts::default()
        },
    )
}

fn bench_decode(c: &mut Criterion) {
    let rec = Conv::new(
        "198.51.100.1:40000".parse().unwrap(),
        "203.0.113.1:6881".parse().unwrap(),
    )
    .packet(Side::Server, TcpFlags::ACK, &[0; 1448])
    .record(LinkType::ETHERNET, None);
    let frame = Frame {
        index: 1,
        ts: Timestamp(0),
        link: LinkType::ETHERNET,
        data: &rec.data,
        wire_len: rec.wire_len,
        offset: 0,
    };
    c.bench_function("wire::decode ethernet/ipv4/tcp", |b| {
        b.iter(|| black_box(wire::decode(black_box(&frame)).is_ok()))
    });
}

struct Count(u64);
impl StreamSink for Count {
    type Shared = ();
    fn data(&mut self, _: Side, _: u64, bytes: &[u8], _: PacketRef, _: &mut ()) {
        self.0 += bytes.len() as u64;
    }
    fn hole(
        &mut self,
        _: Side,
        _: u64,
        len: u64,
        _: bttrace::flows::HoleCause,
        _: PacketRef,
        _: &mut (),
    ) {
        self.0 += len;
    }
}

fn bench_reassembly(c: &mut Criterion) {
    let data = vec![1u8; 1448];
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(1448 * 1000));
    g.bench_function("in-order 1000 segments", |b| {
        b.iter(|| {
            let mut s = Stream::new(Side::Server, Limits::default());
            s.set_origin(SeqNum(7));
            let mut sink = Count(0);
            for i in 0..1000u32 {
                s.push(
                    SeqNum(7) + i * 1448,
                    1448,
                    &data,
                    PacketRef::default(),
                    &mut sink,
                    &mut (),
                );
            }
            black_box(sink.0)
        })
    });
    g.bench_function("reordered pairs 1000 segments", |b| {
        b.iter(|| {
            let mut s = Stream::new(Side::Server, Limits::default());
            s.set_origin(SeqNum(7));
            let mut sink = Count(0);
            for i in (0..1000u32).step_by(2) {
                s.push(
                    SeqNum(7) + (i + 1) * 1448,
                    1448,
                    &data,
                    PacketRef::default(),
                    &mut sink,
                    &mut (),
                );
                s.push(
                    SeqNum(7) + i * 1448,
                    1448,
                    &data,
                    PacketRef::default(),
                    &mut sink,
                    &mut (),
                );
            }
            black_box(sink.0)
        })
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("analyze");
    g.sample_size(20);
    for (name, snap) in [("full", None), ("cut-254", Some(254))] {
        let bytes = bulk_capture(8, 2_500, snap);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("8 bulk flows, 30k packets, {name}"), |b| {
            b.iter(|| {
                let r = analyze_bytes("bench", bytes.clone(), &Options::default());
                black_box(r.flows.len())
            })
        });
    }
    g.finish();
}

/// The peer-wire decoder alone on a stream of 16 KiB-block pieces (bodies skipped by
/// arithmetic) and on a stream of small messages (every byte parsed), then the whole pipeline
/// on real BitTorrent captures from the fixtures.
fn bench_peer_wire(c: &mut Criterion) {
    use bttrace::btparse::Message;
    let mut pieces = synth::bt::handshake([0; 8], [1; 20], b"-TR3000-abcdefghijkl");
    for i in 0..200 {
        pieces.extend(
            synth::bt::message(
                &Message::Piece {
                    index: i,
                    begin: 0,
                    length: 16384,
                },
                7,
            )
            .unwrap(),
        );
    }
    let mut small = synth::bt::handshake([0; 8], [1; 20], b"-TR3000-abcdefghijkl");
    for i in 0..20_000 {
        small.extend(synth::bt::message(&Message::Have { index: i }, 0).unwrap());
        small.extend(
            synth::bt::message(
                &Message::Request {
                    index: i,
                    begin: 0,
                    length: 16384,
                },
                0,
            )
            .unwrap(),
        );
    }
    let mut g = c.benchmark_group("peer wire");
    for (name, stream) in [("16 KiB pieces", &pieces), ("have+request", &small)] {
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(format!("decode {name}, 1448-byte segments"), |b| {
            b.iter(|| {
                let mut d = bttrace::btparse::FlowDecoder::new(Default::default());
                let mut shared = bttrace::btparse::Shared::default();
                for (i, seg) in stream.chunks(1448).enumerate() {
                    let at = PacketRef {
                        frame: i as u64,
                        ts: Timestamp(0),
                    };
                    d.data(Side::Server, (i * 1448) as u64, seg, at, &mut shared);
                }
                black_box(d.kind())
            })
        });
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for rel in [
        "ndpi/bittorrent_transmission.pcapng",
        "netns/bt_download_full.pcap",
    ] {
        let bytes = std::fs::read(fixtures.join(rel)).unwrap();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("analyze {rel}"), |b| {
            b.iter(|| {
                black_box(
                    analyze_bytes(rel, bytes.clone(), &Options::default())
                        .flows
                        .len(),
                )
            })
        });
    }
    g.finish();
}

/// The peer-wire decoder on piece data cut as Glasnost and `editcap -s 254` cut it: of every
/// 1448-byte segment only the first 200 bytes reach the decoder, the rest is a hole
/// (`HoleCause::Truncated`). Bulk streams of 16 KiB and 256 KiB blocks (framing can be
/// predicted from the previous piece's length) and a random-payload twin (no framing to find:
/// the decoder must give up cheaply).
fn bench_peer_wire_cut(c: &mut Criterion) {
    use bttrace::btparse::Message;
    use bttrace::flows::HoleCause;
    fn pieces(block: u32, n: u32) -> Vec<u8> {
        let mut s = synth::bt::handshake([0; 8], [1; 20], b"-TR3000-abcdefghijkl");
        for i in 0..n {
            s.extend(
                synth::bt::message(
                    &Message::Piece {
                        index: i,
                        begin: 0,
                        length: block,
                    },
                    7,
                )
                .unwrap(),
            );
        }
        s
    }
    let random = synth::glasnost::random(8 << 20, 13);
    let streams = [
        ("16 KiB pieces", pieces(16384, 512)),
        ("256 KiB pieces", pieces(262_144, 32)),
        ("random payload", random),
    ];
    let mut g = c.benchmark_group("peer wire cut");
    for (name, stream) in &streams {
        let segments = stream.len().div_ceil(1448);
        g.throughput(Throughput::Elements(segments as u64));
        g.bench_function(
            format!("decode {name}, 1448-byte segments cut to 200"),
            |b| {
                b.iter(|| {
                    let mut d = bttrace::btparse::FlowDecoder::new(Default::default());
                    let mut shared = bttrace::btparse::Shared::default();
                    for (i, seg) in stream.chunks(1448).enumerate() {
                        let at = PacketRef {
                            frame: i as u64,
                            ts: Timestamp(0),
                        };
                        let off = (i * 1448) as u64;
                        let kept = seg.len().min(200);
                        d.data(Side::Server, off, &seg[..kept], at, &mut shared);
                        if seg.len() > kept {
                            let len = (seg.len() - kept) as u64;
                            d.hole(
                                Side::Server,
                                off + kept as u64,
                                len,
                                HoleCause::Truncated,
                                at,
                                &mut shared,
                            );
                        }
                    }
                    black_box(d.kind())
                })
            },
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_reassembly,
    bench_pipeline,
    bench_peer_wire,
    bench_peer_wire_cut
);
criterion_main!(benches);
