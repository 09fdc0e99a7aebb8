//! Reader tests: formats written by our synthesiser and by the independent `pcap-file` crate,
//! and every way a file can be cut or lie.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use super::*;
use crate::synth::{self, NgIface, Packet, PcapOpts, Record};

/// All frames of a capture as owned `(index, ts, link, data, wire_len)`, and its notes.
type Owned = (u64, Timestamp, LinkType, Vec<u8>, u32);

fn read_all(bytes: Vec<u8>) -> Result<(Vec<Owned>, Vec<Note>), CaptureError> {
    let mut r = CaptureReader::from_bytes(bytes)?;
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        out.push((f.index, f.ts, f.link, f.data.to_vec(), f.wire_len));
    }
    Ok((out, r.notes().to_vec()))
}

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Packet {
                ts: Timestamp(1_262_304_000_123_456_789 + i as i64 * 1_000_001_000),
                payload: vec![i as u8; i * 10],
                ..Packet::default()
            }
            .record(LinkType::ETHERNET, None)
        })
        .collect()
}

fn pcap_bytes(n: usize, o: PcapOpts) -> Vec<u8> {
    synth::pcap(LinkType::ETHERNET, &records(n), o)
}

#[test]
fn classic_pcap_in_every_byte_order_and_resolution() {
    for (nanos, big_endian) in [(false, false), (false, true), (true, false), (true, true)] {
        let o = PcapOpts {
            nanos,
            big_endian,
            ..PcapOpts::default()
        };
        let reader = CaptureReader::from_bytes(pcap_bytes(1, o)).unwrap();
        let want = if nanos {
            Format::PcapNanos
        } else {
            Format::Pcap
        };
        assert_eq!(reader.info().format, want);
        let (frames, notes) = read_all(pcap_bytes(3, o)).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let recs = records(3);
        assert_eq!(frames.len(), 3);
        for (f, r) in frames.iter().zip(&recs) {
            let ts = if nanos {
                r.ts
            } else {
                Timestamp(r.ts.0 / 1000 * 1000)
            };
            assert_eq!(
                (f.1, f.2, &f.3, f.4),
                (ts, LinkType::ETHERNET, &r.data, r.wire_len)
            );
        }
        assert_eq!(
            frames.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
}

#[test]
fn pcap_written_by_pcap_file_reads_the_same() {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    use pcap_file::{DataLink, Endianness, TsResolution};
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::NanoSecond,
        endianness: Endianness::Big,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    let ip = Packet::default().ip_bytes();
    w.write_packet(&PcapPacket::new(
        Duration::new(1_600_000_000, 42),
        ip.len() as u32 + 100,
        &ip,
    ))
    .unwrap();
    let (frames, _) = read_all(w.into_writer()).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].1, Timestamp(1_600_000_000_000_000_042));
    assert_eq!(frames[0].2, LinkType::RAW);
    assert_eq!(frames[0].3, ip);
    assert_eq!(frames[0].4, ip.len() as u32 + 100);
}

#[test]
fn pcapng_interfaces_keep_their_own_link_type_and_resolution() {
    let ifaces = [
        NgIface {
            link: LinkType::ETHERNET,
            tsresol: 6,
        },
        NgIface {
            link: LinkType::RAW,
            tsresol: 9,
        },
        NgIface {
            link: LinkType::LINUX_SLL,
            tsresol: 0x80 | 20,
        },
    ];
    let p = Packet::default();
    let t = Timestamp(1_500_000_000_987_654_321);
    let packets = vec![
        (
            0,
            Record {
                ts: t,
                ..p.record(LinkType::ETHERNET, None)
            },
        ),
        (
            1,
            Record {
                ts: t,
                ..p.record(LinkType::RAW, None)
            },
        ),
        (
            2,
            Record {
                ts: t,
                ..p.record(LinkType::LINUX_SLL, None)
            },
        ),
    ];
    let reader = CaptureReader::from_bytes(synth::pcapng(&ifaces, &packets)).unwrap();
    assert_eq!(reader.info().format, Format::Pcapng);
    let (frames, notes) = read_all(synth::pcapng(&ifaces, &packets)).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(frames[0].1, Timestamp(1_500_000_000_987_654_000));
    assert_eq!(frames[1].1, t);
    // 2^-20 s units: within a microsecond.
    assert!((frames[2].1.0 - t.0).abs() < 1_000, "{:?}", frames[2].1);
    let links: Vec<LinkType> = frames.iter().map(|f| f.2).collect();
    assert_eq!(
        links,
        vec![LinkType::ETHERNET, LinkType::RAW, LinkType::LINUX_SLL]
    );
}

#[test]
fn pcapng_sections_each_start_their_own_interfaces() {
    let p = Packet::default();
    let a = synth::pcapng(
        &[NgIface {
            link: LinkType::ETHERNET,
            tsresol: 6,
        }],
        &[(0, p.record(LinkType::ETHERNET, None))],
    );
    let b = synth::pcapng(
        &[NgIface {
            link: LinkType::RAW,
            tsresol: 6,
        }],
        &[(0, p.record(LinkType::RAW, None))],
    );
    let mut both = a;
    both.extend(b);
    let mut reader = CaptureReader::from_bytes(both).unwrap();
    let mut links = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        links.push((f.index, f.link));
    }
    assert_eq!(links, vec![(1, LinkType::ETHERNET), (2, LinkType::RAW)]);
    assert_eq!(
        reader.info().link_types,
        vec![LinkType::ETHERNET, LinkType::RAW]
    );
}

#[test]
fn big_endian_pcapng_from_pcap_file_reads_the_same() {
    use pcap_file::pcapng::PcapNgWriter;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::{
        InterfaceDescriptionBlock, InterfaceDescriptionOption,
    };
    use pcap_file::{DataLink, Endianness};
    let mut w = PcapNgWriter::with_endianness(Vec::new(), Endianness::Big).unwrap();
    let mut idb = InterfaceDescriptionBlock::new(DataLink::ETHERNET, 0);
    // pcap-file writes nanosecond units whatever the interface says; declare them.
    idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
    w.write_pcapng_block(idb).unwrap();
    let data = Packet::default().record(LinkType::ETHERNET, None).data;
    w.write_pcapng_block(EnhancedPacketBlock {
        interface_id: 0,
        timestamp: Duration::new(1_234_567_890, 5),
        original_len: data.len() as u32,
        data: Cow::Borrowed(&data),
        options: vec![],
    })
    .unwrap();
    let (frames, notes) = read_all(w.into_inner()).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].1, Timestamp(1_234_567_890_000_000_005));
    assert_eq!(frames[0].3, data);
}

#[test]
fn gzip_is_detected_from_the_bytes() {
    let plain = pcap_bytes(4, PcapOpts::default());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let reader = CaptureReader::from_bytes(gz.clone()).unwrap();
    assert!(reader.info().gzip);
    let (frames, notes) = read_all(gz).unwrap();
    assert_eq!(frames.len(), 4);
    assert!(notes.is_empty());
}

#[test]
fn a_cut_gzip_stream_keeps_what_came_before() {
    let plain = pcap_bytes(40, PcapOpts::default());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let cut = gz[..gz.len() * 2 / 3].to_vec();
    let (frames, notes) = read_all(cut).unwrap();
    assert!(frames.len() < 40);
    assert!(
        notes
            .iter()
            .any(|n| n.message.contains("gzip stream damaged or cut off")),
        "{notes:?}"
    );
}

fn read_all_ahead(bytes: Vec<u8>) -> Result<(Vec<Owned>, Vec<Note>), CaptureError> {
    let mut r = CaptureReader::from_read_ahead(
        Box::new(std::io::Cursor::new(bytes)),
        true,
        GzipBound::default(),
    )?;
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        out.push((f.index, f.ts, f.link, f.data.to_vec(), f.wire_len));
    }
    Ok((out, r.notes().to_vec()))
}

#[test]
fn reading_ahead_in_a_thread_gives_the_same_frames_and_notes() {
    // Records from a few bytes to 600 KB, so that records straddle blocks, some longer than
    // the room kept before a block for them; about 8 MB in all, plain, gzipped and cut.
    let recs: Vec<Record> = (0..400usize)
        .map(|i| {
            let len = if i % 50 == 7 {
                600_000
            } else {
                (i * 7919) % 20_000
            };
            Record {
                ts: Timestamp(1_700_000_000_000_000_000 + i as i64 * 1000),
                data: vec![i as u8; len],
                wire_len: len as u32,
            }
        })
        .collect();
    let o = PcapOpts {
        snaplen: 1 << 20,
        ..PcapOpts::default()
    };
    let plain = synth::pcap(LinkType::ETHERNET, &recs, o);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let cut_gz = gz[..gz.len() * 2 / 3].to_vec();
    let cut_plain = plain[..plain.len() - 1000].to_vec();
    for (name, bytes) in [
        ("plain", plain),
        ("gzip", gz),
        ("cut gzip", cut_gz),
        ("cut plain", cut_plain),
    ] {
        let direct = read_all(bytes.clone()).unwrap();
        let ahead = read_all_ahead(bytes).unwrap();
        assert_eq!(direct.0.len(), ahead.0.len(), "{name}");
        assert!(direct.0 == ahead.0, "{name}: frames differ");
        assert_eq!(direct.1, ahead.1, "{name}");
        assert!(direct.0.len() > 200, "{name}: {} frames", direct.0.len());
    }
}

#[test]
fn a_reader_dropped_early_stops_its_read_ahead_thread() {
    let bytes = synth::pcap(LinkType::ETHERNET, &records(2000), PcapOpts::default());
    let mut r = CaptureReader::from_read_ahead(
        Box::new(std::io::Cursor::new(bytes)),
        true,
        GzipBound::default(),
    )
    .unwrap();
    assert!(r.next_frame().unwrap().is_some());
    // Dropping joins the thread: this returns only once it has ended.
    drop(r);
}

#[test]
fn a_record_cut_short_ends_the_file_with_a_note() {
    let full = pcap_bytes(3, PcapOpts::default());
    let cut = full[..full.len() - 5].to_vec();
    let (frames, notes) = read_all(cut).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].frame, Some(3));
    assert!(
        notes[0].message.contains("last record cut short"),
        "{}",
        notes[0]
    );
}

#[test]
fn a_record_header_cut_short_is_named() {
    let full = pcap_bytes(2, PcapOpts::default());
    let second = 24 + 16 + records(1)[0].data.len();
    let cut = full[..second + 7].to_vec();
    let (frames, notes) = read_all(cut).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(notes[0].offset, Some(second as u64));
    assert!(notes[0].message.contains("inside a record header"));
}

#[test]
fn an_impossible_record_length_stops_reading_there() {
    let mut bytes = pcap_bytes(2, PcapOpts::default());
    let second = 24 + 16 + records(1)[0].data.len();
    bytes[second + 8..second + 12].copy_from_slice(&0xEA00_0000u32.to_le_bytes());
    let (frames, notes) = read_all(bytes).unwrap();
    assert_eq!(frames.len(), 1);
    assert!(
        notes[0].message.contains("corrupt from here"),
        "{}",
        notes[0]
    );
}

#[test]
fn snaplen_extremes_are_not_trusted_for_buffering() {
    for snaplen in [0, u32::MAX] {
        let o = PcapOpts {
            snaplen,
            ..PcapOpts::default()
        };
        let (frames, _) = read_all(pcap_bytes(2, o)).unwrap();
        assert_eq!(frames.len(), 2);
    }
}

#[test]
fn files_that_are_not_captures_say_what_they_look_like() {
    let e = read_all(b"<html><body>not a capture".to_vec()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a capture file (first bytes 3c 68 74 6d 6c 3e 3c 62 \"<html><b\"); bttrace reads pcap and pcapng, optionally gzip-compressed"
    );
    assert!(
        read_all(Vec::new())
            .unwrap_err()
            .to_string()
            .contains("the file is empty")
    );
    let zstd = read_all(vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap_err();
    assert!(zstd.to_string().contains("zstd-compressed"));
    let snoop = read_all(b"snoop\0\0\0\0\0\0\x02".to_vec()).unwrap_err();
    assert!(snoop.to_string().contains("Solaris snoop"));
}

#[test]
fn unknown_versions_are_refused() {
    let mut bytes = pcap_bytes(1, PcapOpts::default());
    bytes[4] = 1;
    assert!(matches!(
        read_all(bytes).unwrap_err(),
        CaptureError::Version { major: 1, .. }
    ));
    let mut ng = synth::pcapng(&[], &[]);
    ng[12] = 0;
    ng[14] = 1;
    assert_eq!(
        read_all(ng).unwrap_err().to_string(),
        "unsupported pcapng version 0.1"
    );
}

#[test]
fn pcapng_length_lies_end_the_input_with_a_note() {
    let iface = [NgIface {
        link: LinkType::ETHERNET,
        tsresol: 6,
    }];
    let rec = Packet::default().record(LinkType::ETHERNET, None);
    let good = synth::pcapng(&iface, &[(0, rec.clone()), (0, rec.clone())]);
    let shb_idb = synth::pcapng(&iface, &[]).len();
    let epb_len = (good.len() - shb_idb) / 2;

    // Trailing length differs from the leading one.
    let mut bad = good.clone();
    let trail = shb_idb + epb_len - 4;
    bad[trail] ^= 0x40;
    let (frames, notes) = read_all(bad).unwrap();
    assert_eq!(frames.len(), 0);
    assert!(notes[0].message.contains("trailing length"), "{}", notes[0]);

    // Length not a multiple of 4.
    let mut bad = good.clone();
    bad[shb_idb + epb_len + 4] = 0x4d;
    let (frames, notes) = read_all(bad).unwrap();
    assert_eq!(frames.len(), 1);
    assert!(notes[0].message.contains("invalid length"), "{}", notes[0]);

    // Captured length larger than the block.
    let mut bad = good.clone();
    bad[shb_idb + 20..shb_idb + 24].copy_from_slice(&5000u32.to_le_bytes());
    let (_, notes) = read_all(bad).unwrap();
    assert!(notes[0].message.contains("cannot hold"), "{}", notes[0]);

    // A packet naming an interface that does not exist.
    let mut bad = good;
    bad[shb_idb + 8] = 3;
    let (frames, notes) = read_all(bad).unwrap();
    assert_eq!(frames.len(), 0);
    assert!(notes[0].message.contains("interface 3"), "{}", notes[0]);
}

#[test]
fn pcapng_option_overrun_is_noted_and_packets_still_read() {
    let iface = [NgIface {
        link: LinkType::ETHERNET,
        tsresol: 6,
    }];
    let rec = Packet::default().record(LinkType::ETHERNET, None);
    let mut bytes = synth::pcapng(&iface, &[(0, rec)]);
    // The IDB's if_tsresol option (at SHB 28 + IDB body offset 16) claims 200 bytes.
    bytes[28 + 16 + 2] = 200;
    let (frames, notes) = read_all(bytes).unwrap();
    assert_eq!(frames.len(), 1);
    assert!(notes[0].message.contains("option overruns"), "{}", notes[0]);
}

#[test]
fn every_prefix_reads_without_panicking() {
    let pcap = pcap_bytes(4, PcapOpts::default());
    let iface = [NgIface {
        link: LinkType::RAW,
        tsresol: 9,
    }];
    let ng = synth::pcapng(
        &iface,
        &records(4).into_iter().map(|r| (0, r)).collect::<Vec<_>>(),
    );
    let rec_len = |r: &Record| r.data.len();
    let pcap_bounds: Vec<usize> = records(4)
        .iter()
        .scan(24, |at, r| {
            *at += 16 + rec_len(r);
            Some(*at)
        })
        .collect();
    let ng_head = synth::pcapng(&iface, &[]).len();
    let ng_bounds: Vec<usize> = records(4)
        .iter()
        .scan(ng_head, |at, r| {
            *at += 32 + rec_len(r).div_ceil(4) * 4;
            Some(*at)
        })
        .collect();
    for (full, first, bounds) in [(pcap, 24, pcap_bounds), (ng, ng_head, ng_bounds)] {
        let (all, _) = read_all(full.clone()).unwrap();
        for cut in 0..full.len() {
            if let Ok((frames, notes)) = read_all(full[..cut].to_vec()) {
                assert!(frames.len() <= all.len());
                // Cutting exactly between records leaves a valid, shorter capture.
                // (pcapng: the section header alone, 28 bytes, is a valid empty file too).
                let boundary = cut == first || cut == 28 && first != 24 || bounds.contains(&cut);
                assert!(
                    boundary || !notes.is_empty(),
                    "prefix {cut}: silent early end"
                );
                for (a, b) in frames.iter().zip(&all) {
                    assert_eq!(a, b);
                }
            }
        }
    }
}

#[test]
fn directories_expand_sorted_without_logs_or_hidden_files() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("2009-06-01");
    std::fs::create_dir(&sub).unwrap();
    for name in ["b.dump", "a.dump.gz", "a.log", ".hidden"] {
        std::fs::write(sub.join(name), b"x").unwrap();
    }
    std::fs::write(dir.path().join("z.pcap"), b"x").unwrap();
    let got: Vec<PathBuf> = expand_inputs(&[dir.path().to_path_buf()])
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        got,
        vec![
            sub.join("a.dump.gz"),
            sub.join("b.dump"),
            dir.path().join("z.pcap")
        ]
    );
}

/// A little-endian pcapng block of type `btype` around `body`.
fn ng_raw_block(btype: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    synth::ng_block(&mut out, btype, body);
    out
}

#[test]
fn obsolete_packet_blocks_read_like_enhanced_ones_with_a_16_bit_interface() {
    let iface = NgIface {
        link: LinkType::RAW,
        tsresol: 6,
    };
    let mut file = synth::pcapng(&[iface], &[]);
    // Interface 0 in 16 bits, then a drops count that must not be read as part of it.
    let mut pb = Vec::new();
    pb.extend_from_slice(&0u16.to_le_bytes());
    pb.extend_from_slice(&0xffffu16.to_le_bytes());
    pb.extend_from_slice(&0u32.to_le_bytes());
    pb.extend_from_slice(&2_000_000u32.to_le_bytes());
    pb.extend_from_slice(&3u32.to_le_bytes());
    pb.extend_from_slice(&60u32.to_le_bytes());
    pb.extend_from_slice(&[7, 8, 9]);
    file.extend(ng_raw_block(2, &pb));
    let (frames, notes) = read_all(file.clone()).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(frames.len(), 1);
    let (index, ts, link, data, wire_len) = &frames[0];
    assert_eq!(
        (*index, *ts, *link, data.as_slice(), *wire_len),
        (
            1,
            Timestamp(2_000_000_000),
            LinkType::RAW,
            &[7u8, 8, 9][..],
            60
        )
    );

    // A packet block too short for its fixed fields ends the input, saying so.
    file.extend(ng_raw_block(2, &[0; 16]));
    let (frames, notes) = read_all(file).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        notes[0].message,
        "packet block of 28 bytes is shorter than its 32-byte minimum: the file is corrupt \
         from here; analysed the 1 frames before it"
    );
}

#[test]
fn simple_and_interface_blocks_below_their_minimum_end_the_input_by_name() {
    let iface = NgIface {
        link: LinkType::RAW,
        tsresol: 6,
    };
    for (btype, name, min) in [
        (3, "simple packet block", 16),
        (1, "interface description block", 20),
    ] {
        let mut file = synth::pcapng(&[iface], &[]);
        file.extend(ng_raw_block(btype, &[]));
        let (frames, notes) = read_all(file).unwrap();
        assert!(frames.is_empty());
        assert_eq!(
            notes[0].message,
            format!(
                "{name} of 12 bytes is shorter than its {min}-byte minimum: the file is \
                 corrupt from here; analysed the 0 frames before it"
            )
        );
    }
}
