//! Decoder tests: packets built by etherparse (an independent encoder) and by hand for the
//! cases no encoder would produce.

use etherparse::PacketBuilder;

use super::*;
use crate::capture::Timestamp;
use crate::synth::{self, Packet};

fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
    Frame {
        index: 1,
        ts: Timestamp(0),
        link,
        data,
        wire_len: data.len() as u32,
        offset: 0,
    }
}

fn decode_ok(link: LinkType, data: &[u8]) -> Segment<'_> {
    decode(&frame(link, data)).unwrap_or_else(|e| panic!("{e:?}"))
}

/// An Ethernet/IPv4/TCP frame from etherparse, with options and payload.
fn etherparse_v4(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([198, 51, 100, 1], [203, 0, 113, 1], 57)
        .tcp(40000, 6881, 0xdead_beef, 4096)
        .syn()
        .ack(0x0102_0304)
        .options(&[
            etherparse::TcpOptionElement::MaximumSegmentSize(1460),
            etherparse::TcpOptionElement::WindowScale(7),
            etherparse::TcpOptionElement::SelectiveAcknowledgementPermitted,
            etherparse::TcpOptionElement::Timestamp(11, 22),
        ])
        .unwrap();
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

#[test]
fn ipv4_tcp_fields_match_etherparse() {
    let bytes = etherparse_v4(b"\x13BitTorrent protocol");
    let s = decode_ok(LinkType::ETHERNET, &bytes);
    let (_, ep) = etherparse::Ethernet2Header::from_slice(&bytes).unwrap();
    let (ip, rest) = etherparse::Ipv4Header::from_slice(ep).unwrap();
    let tcp = etherparse::TcpHeader::from_slice(rest).unwrap().0;
    assert_eq!(s.src.to_string(), "198.51.100.1");
    assert_eq!(s.dst.to_string(), "203.0.113.1");
    assert_eq!((s.sport, s.dport), (tcp.source_port, tcp.destination_port));
    assert_eq!(
        (s.seq, s.ack),
        (tcp.sequence_number, tcp.acknowledgment_number)
    );
    assert_eq!(s.window, tcp.window_size);
    assert!(s.flags.syn() && s.flags.ack() && !s.flags.rst());
    assert_eq!(s.ip.ttl, ip.time_to_live);
    assert_eq!(s.ip.id, Some(ip.identification));
    assert_eq!(s.ip.df, ip.dont_fragment);
    assert_eq!(
        s.options,
        TcpOptions {
            present: true,
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack: false,
            timestamp: Some((11, 22)),
        }
    );
    assert_eq!(s.payload, b"\x13BitTorrent protocol");
    assert_eq!(s.payload_len, 20);
    assert_eq!(s.anomalies().count(), 0);
}

#[test]
fn ipv6_with_extension_headers_matches_etherparse() {
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            33,
        )
        .tcp(6881, 51413, 7, 100)
        .rst();
    let mut plain = Vec::new();
    b.write(&mut plain, b"").unwrap();
    // Insert hop-by-hop (8 bytes) and an atomic fragment header (8 bytes) by hand.
    let mut bytes = plain[..14].to_vec();
    let mut ip6 = plain[14..54].to_vec();
    let tcp = &plain[54..];
    ip6[6] = 0; // next: hop-by-hop
    ip6[4..6].copy_from_slice(&((tcp.len() + 16) as u16).to_be_bytes());
    bytes.extend(ip6);
    bytes.extend([44, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop: next fragment, PadN
    bytes.extend([6, 0, 0, 0, 0, 0, 0, 9]); // fragment: offset 0, M=0
    bytes.extend(tcp);
    let s = decode_ok(LinkType::ETHERNET, &bytes);
    assert_eq!(s.src.to_string(), "2001:db8::1");
    assert_eq!((s.sport, s.dport, s.seq), (6881, 51413, 7));
    assert!(s.flags.rst());
    assert_eq!((s.ip.version, s.ip.ttl, s.ip.id), (6, 33, None));
    assert_eq!(s.payload_len, 0);
}

#[test]
fn every_link_type_reaches_the_same_segment() {
    let ip = Packet {
        payload: b"hello".to_vec(),
        ..Packet::default()
    }
    .ip_bytes();
    let mut frames: Vec<(LinkType, Vec<u8>)> = [
        LinkType::ETHERNET,
        LinkType::LINUX_SLL,
        LinkType::LINUX_SLL2,
        LinkType::NULL,
        LinkType::RAW,
    ]
    .iter()
    .map(|&l| (l, synth::frame(l, &ip)))
    .collect();
    for raw in [LinkType::RAW_12, LinkType::RAW_14, LinkType::IPV4] {
        frames.push((raw, ip.clone()));
    }
    // PPP with and without HDLC framing; PPI around Ethernet; NFLOG with a prefix TLV first.
    frames.push((LinkType::PPP, [&[0xff, 0x03, 0x00, 0x21][..], &ip].concat()));
    frames.push((LinkType::PPP_HDLC, [&[0x00, 0x21][..], &ip].concat()));
    frames.push((LinkType::PPP, [&[0x21][..], &ip].concat()));
    let ppi = [
        &[0, 0, 8, 0, 1, 0, 0, 0][..],
        &synth::frame(LinkType::ETHERNET, &ip),
    ]
    .concat();
    frames.push((LinkType::PPI, ppi));
    let nflog = [
        &[2, 0, 0, 1][..],
        &[8, 0, 10, 0, b'a', b'b', b'c', b'd'],
        &((ip.len() + 4) as u16).to_le_bytes(),
        &[9, 0],
        &ip,
    ]
    .concat();
    frames.push((LinkType::NFLOG, nflog));
    // BSD null written by a big-endian host, and OpenBSD loop.
    for l in [LinkType::NULL, LinkType::LOOP] {
        let mut f = 2u32.to_be_bytes().to_vec();
        f.extend(&ip);
        frames.push((l, f));
    }
    let eth = |ty: &[u8], mid: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend(ty);
        f.extend(mid);
        f.extend(&ip);
        f
    };
    // 802.1Q, QinQ (802.1ad + 802.1Q), PPPoE session, MPLS, LLC/SNAP.
    frames.push((LinkType::ETHERNET, eth(&[0x81, 0], &[0, 5, 0x08, 0])));
    frames.push((
        LinkType::ETHERNET,
        eth(&[0x88, 0xa8], &[0, 5, 0x81, 0, 0, 7, 0x08, 0]),
    ));
    frames.push((
        LinkType::ETHERNET,
        eth(&[0x88, 0x64], &[0x11, 0, 0, 1, 0, 0, 0, 0x21]),
    ));
    frames.push((
        LinkType::ETHERNET,
        eth(&[0x88, 0x47], &[0, 0, 0x10, 0x40, 0, 0, 0x21, 0x40]),
    ));
    frames.push((
        LinkType::ETHERNET,
        eth(&[0, 60], &[0xaa, 0xaa, 3, 0, 0, 0, 8, 0]),
    ));
    for (link, f) in &frames {
        let s = decode_ok(*link, f);
        assert_eq!(
            (s.sport, s.dport, s.payload),
            (40000, 6881, &b"hello"[..]),
            "{link}"
        );
    }
}

#[test]
fn non_tcp_and_unknown_links_are_skip_reasons() {
    let arp = [vec![0xff; 12], vec![0x08, 0x06], vec![0; 28]].concat();
    assert_eq!(
        decode(&frame(LinkType::ETHERNET, &arp)).unwrap_err(),
        Skip::NotIp
    );
    let mut udp = Packet::default().ip_bytes();
    udp[9] = 17;
    assert_eq!(
        decode(&frame(LinkType::RAW, &udp)).unwrap_err(),
        Skip::NotTcp
    );
    assert_eq!(
        decode(&frame(LinkType(147), &udp)).unwrap_err(),
        Skip::UnsupportedLink
    );
    assert_eq!(
        decode(&frame(LinkType::ETHERNET, &[0; 10])).unwrap_err(),
        Skip::LinkTruncated
    );
    assert_eq!(
        decode(&frame(LinkType::RAW, &[0x50; 30])).unwrap_err(),
        Skip::NotIp
    );
    // LINKTYPE_IPV6 carrying a v4 header is a bad header, not "not IP".
    assert_eq!(
        decode(&frame(LinkType::IPV6, &udp)).unwrap_err(),
        Skip::IpBadHeader
    );
}

#[test]
fn broken_ipv4_headers_are_skipped_with_their_reason() {
    let good = Packet::default().ip_bytes();
    let mut ihl4 = good.clone();
    ihl4[0] = 0x44;
    assert_eq!(
        decode(&frame(LinkType::RAW, &ihl4)).unwrap_err(),
        Skip::IpBadHeader
    );
    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&12u16.to_be_bytes());
    assert_eq!(
        decode(&frame(LinkType::RAW, &short_total)).unwrap_err(),
        Skip::IpBadHeader
    );
    let mut frag = good.clone();
    frag[6] = 0x20; // more fragments
    assert_eq!(
        decode(&frame(LinkType::RAW, &frag)).unwrap_err(),
        Skip::IpFragment
    );
    // Cut by the snaplen: the wire length is the whole packet's.
    let cut = |n: usize| Frame {
        wire_len: good.len() as u32,
        ..frame(LinkType::RAW, &good[..n])
    };
    assert_eq!(decode(&cut(19)).unwrap_err(), Skip::IpTruncated);
    assert_eq!(decode(&cut(30)).unwrap_err(), Skip::TcpTruncated);
}

#[test]
fn broken_tcp_headers_are_skipped_or_flagged() {
    let p = Packet {
        options: vec![2, 4, 5, 0xb4],
        payload: vec![1; 10],
        ..Packet::default()
    };
    let good = p.ip_bytes();
    let mut doff4 = good.clone();
    doff4[32] = 0x40;
    assert_eq!(
        decode(&frame(LinkType::RAW, &doff4)).unwrap_err(),
        Skip::TcpBadHeader
    );
    let mut doff15 = good.clone();
    doff15[32] = 0xf0; // 60-byte header in a 34-byte segment
    assert_eq!(
        decode(&frame(LinkType::RAW, &doff15)).unwrap_err(),
        Skip::TcpBadHeader
    );
    // Options cut by the snaplen: the fixed header is used, payload all missing.
    let cut = frame(LinkType::RAW, &good[..42]);
    let cut = Frame {
        wire_len: good.len() as u32,
        ..cut
    };
    let s = decode(&cut).unwrap();
    assert!(s.has(Anomaly::TcpOptionsTruncated));
    assert_eq!((s.payload.len(), s.payload_len), (0, 10));
    // An option whose length runs past the header.
    let mut bad_opt = good;
    bad_opt[41] = 9;
    let s = decode_ok(LinkType::RAW, &bad_opt);
    assert!(s.has(Anomaly::TcpOptionsMalformed));
    assert_eq!(s.options.mss, None);
}

#[test]
fn lengths_come_from_the_ip_header_not_the_frame() {
    let p = Packet {
        payload: vec![9; 300],
        ..Packet::default()
    };
    let full = synth::frame(LinkType::ETHERNET, &p.ip_bytes());
    // Cut to 254 bytes by the snaplen: the payload length still says 300.
    let cut = Frame {
        wire_len: full.len() as u32,
        ..frame(LinkType::ETHERNET, &full[..254])
    };
    let s = decode(&cut).unwrap();
    assert_eq!(
        (s.payload.len(), s.payload_len, s.missing_payload()),
        (200, 300, 100)
    );
    // Ethernet padding after a short packet is not payload.
    let small = synth::frame(LinkType::ETHERNET, &Packet::default().ip_bytes());
    let mut padded = small.clone();
    padded.extend([0u8; 6]);
    let s = decode_ok(LinkType::ETHERNET, &padded);
    assert_eq!((s.payload.len(), s.payload_len), (0, 0));
}

#[test]
fn an_ip_length_beyond_the_wire_length_is_not_believed() {
    let mut ip = Packet {
        payload: vec![1; 20],
        ..Packet::default()
    }
    .ip_bytes();
    ip[2..4].copy_from_slice(&9000u16.to_be_bytes());
    let s = decode_ok(LinkType::RAW, &ip);
    assert!(s.has(Anomaly::IpLengthExceedsFrame));
    assert_eq!(s.payload_len, 20);
    // Total length 0 (segmentation offload): the wire length is used, silently.
    ip[2..4].copy_from_slice(&0u16.to_be_bytes());
    let s = decode_ok(LinkType::RAW, &ip);
    assert_eq!((s.payload_len, s.anomalies().count()), (20, 0));
}

#[test]
fn ipv6_fragments_and_hostile_chains_are_skipped() {
    let v6 = Packet {
        src: "[2001:db8::1]:1".parse().unwrap(),
        dst: "[2001:db8::2]:2".parse().unwrap(),
        ..Packet::default()
    }
    .ip_bytes();
    let tcp = &v6[40..];
    let with_ext = |ext: &[u8], first: u8| {
        let mut b = v6[..40].to_vec();
        b[6] = first;
        b[4..6].copy_from_slice(&((tcp.len() + ext.len()) as u16).to_be_bytes());
        b.extend(ext);
        b.extend(tcp);
        b
    };
    let frag = with_ext(&[6, 0, 0, 9, 0, 0, 0, 1], 44);
    assert_eq!(
        decode(&frame(LinkType::RAW, &frag)).unwrap_err(),
        Skip::IpFragment
    );
    // A destination-options header claiming 2 KiB.
    let long = with_ext(&[6, 255, 0, 0, 0, 0, 0, 0], 60);
    assert_eq!(
        decode(&frame(LinkType::RAW, &long)).unwrap_err(),
        Skip::IpBadHeader
    );
    // ESP: the TCP inside cannot be seen.
    let esp = with_ext(&[0; 8], 50);
    assert_eq!(
        decode(&frame(LinkType::RAW, &esp)).unwrap_err(),
        Skip::NotTcp
    );
    // A chain of 20 hop-by-hop-like headers (each pointing to the next).
    let chain: Vec<u8> = (0..20).flat_map(|_| [60u8, 0, 0, 0, 0, 0, 0, 0]).collect();
    let deep = with_ext(&chain, 60);
    assert_eq!(
        decode(&frame(LinkType::RAW, &deep)).unwrap_err(),
        Skip::IpBadHeader
    );
}

#[test]
fn every_prefix_of_a_frame_decodes_or_skips_without_panic() {
    let p = Packet {
        options: vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
        payload: vec![3; 40],
        ..Packet::default()
    };
    for link in [LinkType::ETHERNET, LinkType::LINUX_SLL2, LinkType::NULL] {
        let full = synth::frame(link, &p.ip_bytes());
        for cut in 0..=full.len() {
            let f = Frame {
                wire_len: full.len() as u32,
                ..frame(link, &full[..cut])
            };
            if let Ok(s) = decode(&f) {
                assert_eq!(s.payload_len, 40);
                assert!(s.payload.len() <= 40);
            }
        }
    }
}

#[test]
fn flags_print_like_wireshark_letters() {
    assert_eq!(TcpFlags(TcpFlags::SYN | TcpFlags::ACK).to_string(), "SA");
    assert_eq!(
        TcpFlags(TcpFlags::RST | TcpFlags::ACK | 0x200).to_string(),
        "RA+200"
    );
}
