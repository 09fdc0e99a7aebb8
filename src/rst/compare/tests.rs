//! Two views of one connection, built in code: what the client's capture and the server's
//! capture each show when the path drops, changes or injects packets.

use std::path::Path;

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

/// Compares two capture files (the command line opens them so).
fn compare(a: &Path, b: &Path) -> Result<CompareReport, CompareError> {
    let open = |p: &Path| Source::new(p.display().to_string(), CaptureReader::open(p).unwrap());
    super::compare(open(a), open(b))
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
    assert_eq!(p.paired_by, PairedBy::Isn);
    assert_eq!(p.never_sent.len(), 1, "{:?}", p.never_sent);
    assert_eq!(p.never_sent[0].frame, server.len() as u64);
    assert!(p.never_received.is_empty(), "{:?}", p.never_received);
    assert_eq!(p.rsts.len(), 1);
    assert_eq!(
        (p.rsts[0].capture, p.rsts[0].proven),
        (End::Server, Proven::Forged)
    );
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
    assert_eq!(p.paired_by, PairedBy::Order, "the ISN was rewritten");
    assert!(p.isn_rewritten);
    let offset = r.clock_offset_ms.unwrap();
    assert!((offset - 3_600_005.0).abs() < 1.0, "{offset}");
    assert!(
        p.never_sent.is_empty() && p.never_received.is_empty(),
        "{p:?}"
    );
    assert_eq!(p.rsts[0].proven, Proven::Endpoint);
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
    assert_eq!(p.never_received[0].capture, End::Server);
    assert_eq!(p.modified.len(), 1, "{:?}", p.modified);
    assert_eq!(p.modified[0].capture, End::Client);
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

/// The client's and the server's captures of `conv()` ending in a RST+ACK from the server at
/// client time `t_genuine` (its own packet, answering late data), plus `extra` packets only the
/// client's capture holds.
fn with_server_reset(t_genuine: i64, extra: &[Packet]) -> (Vec<Packet>, Vec<Packet>, Packet) {
    let c = conv();
    let mut genuine = c.packet(End::Server, TcpFlags::RST | TcpFlags::ACK, &[]);
    genuine.ts = Timestamp(t_genuine);
    let mut client_view = c.packets.clone();
    client_view.extend(extra.iter().cloned());
    client_view.push(genuine.clone());
    client_view.sort_by_key(|p| p.ts);
    let mut server: Vec<Packet> = c
        .packets
        .iter()
        .map(|p| at_server(p, c.client, 0, 0))
        .collect();
    server.push(at_server(&genuine, c.client, 0, 0));
    (client_view, server, genuine)
}

fn proofs(client_view: &[Packet], server: &[Packet]) -> Vec<(u64, Proven, String)> {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", client_view);
    let b = write(dir.path(), "server.pcap", server);
    let r = compare(&a, &b).unwrap();
    r.pairs[0]
        .rsts
        .iter()
        .map(|x| (x.frame, x.proven, x.reason.clone()))
        .collect()
}

#[test]
fn a_forgery_copying_every_field_is_not_paired_with_the_senders_later_reset() {
    // The injector copies the server's next RST exactly (seq, ack, TTL, IP ID, options); the
    // server's own RST with the same numbers leaves 60 ms after the forgery arrived.
    let last = conv().packets.last().unwrap().ts.0;
    let (_, _, genuine) = with_server_reset(last + 80 * MS, &[]);
    let mut forged = genuine.clone();
    forged.ts = Timestamp(last + 20 * MS);
    let (client_view, server, _) = with_server_reset(last + 80 * MS, &[forged]);
    let forged_frame = client_view
        .iter()
        .position(|p| p.ts.0 == last + 20 * MS)
        .unwrap() as u64
        + 1;
    let got = proofs(&client_view, &server);
    assert_eq!(got.len(), 2, "{got:?}");
    let forged_proof = got.iter().find(|x| x.0 == forged_frame).unwrap();
    assert_eq!(forged_proof.1, Proven::Forged, "{got:?}");
    let genuine_proof = got.iter().find(|x| x.0 == forged_frame + 1).unwrap();
    assert_eq!(genuine_proof.1, Proven::Endpoint, "{got:?}");
}

#[test]
fn two_identical_received_resets_for_one_sent_are_both_unproven() {
    // Duplicated on the path or forged as an exact copy within the delay: no proof either way.
    let last = conv().packets.last().unwrap().ts.0;
    let (_, _, genuine) = with_server_reset(last + 80 * MS, &[]);
    let mut copy = genuine.clone();
    copy.ts = Timestamp(last + 80 * MS + MS / 2);
    let (client_view, server, _) = with_server_reset(last + 80 * MS, &[copy]);
    let got = proofs(&client_view, &server);
    let client_side: Vec<_> = got.iter().filter(|x| x.1 != Proven::NotReceived).collect();
    assert_eq!(client_side.len(), 2, "{got:?}");
    assert!(
        client_side.iter().all(|x| x.1 == Proven::Unproven),
        "{got:?}"
    );
    assert!(
        !got.iter()
            .any(|x| x.1 == Proven::Forged || x.1 == Proven::Endpoint),
        "{got:?}"
    );
}

#[test]
fn a_reset_whose_ip_id_differs_from_its_only_twin_is_unproven() {
    // The path keeps IP IDs (every data segment arrives with its own), but this RST's differs
    // from the one RST the server sent with its numbers: rewritten, or forged; not proven.
    let last = conv().packets.last().unwrap().ts.0;
    let (mut client_view, server, _) = with_server_reset(last + 80 * MS, &[]);
    let n = client_view.len();
    client_view[n - 1].ip_id ^= 0x5a5a;
    let got = proofs(&client_view, &server);
    let rst = got.iter().find(|x| x.0 == n as u64).unwrap();
    assert_eq!(rst.1, Proven::Unproven, "{got:?}");
    assert!(rst.2.contains("ip_id"), "{got:?}");
}

#[test]
fn many_connections_pair_by_key() {
    // 3,000 connections on one server port, ISNs kept: every one pairs by ISN with its own twin
    // (the pairing is by hash and ordered set, not a scan per connection).
    let mut a_pkts = Vec::new();
    let mut b_pkts = Vec::new();
    for i in 0..3000u32 {
        let mut c = Conv::new(
            format!("192.168.{}.{}:{}", i / 250, i % 250 + 1, 40000 + i % 1000)
                .parse()
                .unwrap(),
            "203.0.113.9:6881".parse().unwrap(),
        );
        c.step_ns = MS;
        c.ts = Timestamp(c.ts.0 + i64::from(i) * MS);
        c.client_seq = 1_000 + i * 7_919;
        c.handshake();
        for p in &c.packets {
            // No NAT here: every connection keeps its own 4-tuple at the server.
            let mut q = at_server(p, c.client, 0, 0);
            if p.src == c.client {
                q.src = c.client;
            } else {
                q.dst = c.client;
            }
            b_pkts.push(q);
        }
        a_pkts.extend(c.packets);
    }
    a_pkts.sort_by_key(|p| p.ts);
    b_pkts.sort_by_key(|p| p.ts);
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "client.pcap", &a_pkts);
    let b = write(dir.path(), "server.pcap", &b_pkts);
    let r = compare(&a, &b).unwrap();
    assert_eq!(r.pairs.len(), 3000);
    let bad: Vec<_> = r
        .pairs
        .iter()
        .filter(|p| !(p.never_sent.is_empty() && p.never_received.is_empty()))
        .collect();
    assert!(bad.is_empty(), "{} {:?}", bad.len(), bad.first());
    assert!(r.only_in_client_capture.is_empty() && r.only_in_server_capture.is_empty());
}

/// The errors say whose fault they are: a capture's (named) or the report's writer's.
#[test]
fn errors_are_typed_by_whose_fault_they_are() {
    let c = conv();
    let recs: Vec<_> = c
        .packets
        .iter()
        .map(|p| p.record(LinkType::ETHERNET, None))
        .collect();
    let good = pcap(LinkType::ETHERNET, &recs, PcapOpts::default());
    let e = compare_bytes(
        ("client.pcap", good.clone()),
        ("server.pcap", b"junk".to_vec()),
        MAX_PACKETS,
        |_| Ok(()),
    )
    .unwrap_err();
    assert!(
        matches!(&e, CompareError::Open { name, .. } if name == "server.pcap"),
        "{e:?}"
    );
    assert!(e.is_input());
    assert!(
        e.to_string().starts_with("server.pcap: not a capture file"),
        "{e}"
    );
    let e = compare_bytes(
        ("client.pcap", good.clone()),
        ("server.pcap", good),
        MAX_PACKETS,
        |_| Err(std::io::Error::other("disk full")),
    )
    .unwrap_err();
    assert!(matches!(e, CompareError::Output(_)), "{e:?}");
    assert!(!e.is_input());
}

#[test]
fn every_proof_serializes_as_its_code() {
    for p in [
        Proven::Forged,
        Proven::Endpoint,
        Proven::NotReceived,
        Proven::Unproven,
    ] {
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::Value::from(p.code())
        );
    }
}
