//! Two views of one connection, built in code: what the client's capture and the server's
//! capture each show when the path drops, changes or injects packets.

use super::*;
use crate::capture::LinkType;
use crate::flows::Side as End;
use crate::synth::{Conv, Packet, PcapOpts, pcap};

const MS: i64 = 1_000_000;

fn conv() -> Conv {
    let mut c = Conv::new(
        "192.168.1.10:51000".parse().unwrap(),
        "203.0.113.9:6881".parse().unwrap(),
    );
    c.step_ns = 10 * MS;
    c.handshake()
        .data(End::Client, &[1; 68])
        .data(End::Server, &[2; 68])
        .data(End::Server, &[3; 1448])
        .data(End::Server, &[4; 1448]);
    c
}

/// The server's view of a packet the client's capture holds: NAT rewrites the client's
/// address and port, a middlebox adds `isn_shift` to the client's sequence numbers, the
/// server's clock runs `offset` ahead and the packet takes 5 ms.
fn at_server(p: &Packet, client: SocketAddr, isn_shift: u32, offset: i64) -> Packet {
    let nat: SocketAddr = "198.51.100.77:40123".parse().unwrap();
    let mut q = p.clone();
    q.ts = Timestamp(p.ts.0 + offset + 5 * MS);
    q.ttl = p.ttl - 9;
    if p.src == client {
        q.src = nat;
        q.seq = p.seq.wrapping_add(isn_shift);
    } else {
        q.dst = nat;
        if p.flags & TcpFlags::ACK != 0 {
            q.ack = p.ack.wrapping_add(isn_shift);
        }
    }
    q
}

fn write(dir: &Path, name: &str, packets: &[Packet]) -> std::path::PathBuf {
    let recs: Vec<_> = packets
        .iter()
        .map(|p| p.record(LinkType::ETHERNET, None))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, pcap(LinkType::ETHERNET, &recs, PcapOpts::default())).unwrap();
    path
}

#[test]
fn a_reset_only_the_receiver_saw_is_proven_forged() {
    let c = conv();
    let client = c.client;
    let mut server: Vec<Packet> = c
        .packets
        .iter()
        .map(|p| at_server(p, client, 0, 0))
        .collect();
    // The injected RST "from the client" arrives at the server only.
    let last = server.last().unwrap().clone();
    let mut rst = at_server(
        &c.packet(End::Client, TcpFlags::RST | TcpFlags::ACK, &[]),
        client,
        0,
        0,
    );
    rst.ts = Timestamp(last.ts.0 + MS);
    rst.ttl = 61;
    server.push(rst);
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", &c.packets);
    let b = write(dir.path(), "server.pcap", &server);
    let r = compare(&a, &b).unwrap();
    assert_eq!(r.pairs.len(), 1);
    let p = &r.pairs[0];
    assert!(p.nat);
    assert_eq!(p.paired_by, "isn");
    assert_eq!(p.never_sent.len(), 1, "{:?}", p.never_sent);
    assert_eq!(p.never_sent[0].frame, server.len() as u64);
    assert!(p.never_received.is_empty(), "{:?}", p.never_received);
    assert_eq!(p.rsts.len(), 1);
    assert_eq!((p.rsts[0].capture, p.rsts[0].proven), ("server", "forged"));
}

#[test]
fn an_endpoints_reset_is_found_at_both_ends_despite_rewritten_isns_and_clocks() {
    let mut c = conv();
    c.send(End::Client, TcpFlags::RST | TcpFlags::ACK, &[]);
    let client = c.client;
    let server: Vec<Packet> = c
        .packets
        .iter()
        .map(|p| at_server(p, client, 0x1234_5678, 3_600_000 * MS))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", &c.packets);
    let b = write(dir.path(), "server.pcap", &server);
    let r = compare(&a, &b).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.paired_by, "order", "the ISN was rewritten");
    assert!(p.isn_rewritten);
    let offset = r.clock_offset_ms.unwrap();
    assert!((offset - 3_600_005.0).abs() < 1.0, "{offset}");
    assert!(
        p.never_sent.is_empty() && p.never_received.is_empty(),
        "{p:?}"
    );
    assert_eq!(p.rsts[0].proven, "endpoint");
}

#[test]
fn drops_and_changes_on_the_way_are_listed() {
    let c = conv();
    let client = c.client;
    let mut server: Vec<Packet> = c
        .packets
        .iter()
        .map(|p| at_server(p, client, 0, 0))
        .collect();
    // The server's last data segment (1448 bytes of 4s) never reaches the client, and a
    // middlebox rewrites the first bytes of the server's 68-byte message.
    let dropped = server
        .iter()
        .position(|p| p.payload.first() == Some(&4))
        .unwrap();
    let changed = server
        .iter()
        .position(|p| p.payload == vec![2; 68])
        .unwrap();
    let client_view: Vec<Packet> = c
        .packets
        .iter()
        .filter(|p| p.payload.first() != Some(&4))
        .map(|p| {
            let mut q = p.clone();
            if q.payload == vec![2; 68] {
                q.payload[0] = 0xee;
            }
            q
        })
        .collect();
    server.truncate(server.len());
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", &client_view);
    let b = write(dir.path(), "server.pcap", &server);
    let r = compare(&a, &b).unwrap();
    let p = &r.pairs[0];
    assert_eq!(p.never_received.len(), 1, "{:?}", p.never_received);
    assert_eq!(p.never_received[0].frame, dropped as u64 + 1);
    assert_eq!(p.never_received[0].capture, "server");
    assert_eq!(p.modified.len(), 1, "{:?}", p.modified);
    assert_eq!(p.modified[0].capture, "client");
    let _ = changed;
    assert!(p.never_sent.is_empty());
}

#[test]
fn offload_merged_segments_still_match() {
    // The server's capture (the sender) shows one 2896-byte segment where the client's shows
    // two of 1448.
    let c = conv();
    let client = c.client;
    let mut server: Vec<Packet> = Vec::new();
    let mut skip_next_data = false;
    for p in &c.packets {
        let mut q = at_server(p, client, 0, 0);
        if q.payload.first() == Some(&3) {
            q.payload.extend(vec![4; 1448]);
            skip_next_data = true;
        } else if skip_next_data && q.payload.first() == Some(&4) {
            continue;
        }
        server.push(q);
    }
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", &c.packets);
    let b = write(dir.path(), "server.pcap", &server);
    let p = &compare(&a, &b).unwrap().pairs[0];
    assert!(p.never_sent.is_empty(), "{:?}", p.never_sent);
    assert!(p.never_received.is_empty(), "{:?}", p.never_received);
}

#[test]
fn connections_only_one_end_saw_are_listed() {
    let c = conv();
    let mut other = Conv::new(
        "192.168.1.10:51001".parse().unwrap(),
        "203.0.113.9:80".parse().unwrap(),
    );
    other.handshake();
    let mut a_pkts = c.packets.clone();
    a_pkts.extend(other.packets);
    let server: Vec<Packet> = c
        .packets
        .iter()
        .map(|p| at_server(p, c.client, 0, 0))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", &a_pkts);
    let b = write(dir.path(), "server.pcap", &server);
    let r = compare(&a, &b).unwrap();
    assert_eq!(r.pairs.len(), 1);
    assert_eq!(
        r.only_in_client_capture,
        vec!["192.168.1.10:51001 -> 203.0.113.9:80"]
    );
    assert!(r.only_in_server_capture.is_empty());
}
