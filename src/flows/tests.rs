//! Flow-table traces built packet by packet.

use std::net::SocketAddr;

use super::*;
use crate::capture::LinkType;
use crate::synth::{Conv, Packet};
use crate::wire::{self, TcpFlags as F};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn conv() -> Conv {
    Conv::new(addr("198.51.100.7:40001"), addr("203.0.113.9:6881"))
}

/// Feeds `packets` to `t` one by one, calling `after` with the table and the frame number
/// after each.
fn feed(t: &mut FlowTable<()>, packets: &[Packet], mut after: impl FnMut(&FlowTable<()>, u64)) {
    for (i, p) in packets.iter().enumerate() {
        let rec = p.record(LinkType::RAW, None);
        let frame = rec.frame(i as u64 + 1, LinkType::RAW);
        let seg = wire::decode(&frame).unwrap();
        t.process(
            &seg,
            PacketRef {
                frame: frame.index,
                ts: frame.ts,
            },
        );
        after(t, frame.index);
    }
}

fn run_with(packets: &[Packet], limits: TableLimits) -> (Vec<Flow<()>>, Overflow) {
    let mut t: FlowTable<()> = FlowTable::new(limits, ());
    feed(&mut t, packets, |_, _| {});
    let o = t.overflow;
    (t.finish().into_iter().map(|f| *f).collect(), o)
}

fn run(packets: &[Packet]) -> Vec<Flow<()>> {
    run_with(packets, TableLimits::default()).0
}

#[test]
fn handshake_gives_roles_rtt_and_a_fin_close() {
    let mut c = conv();
    c.handshake()
        .data(Side::Client, b"hello")
        .data(Side::Server, b"world!")
        .close();
    let flows = run(&c.packets);
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.roles, Roles::Syn);
    assert_eq!(f.client, c.client);
    assert!(f.established());
    assert_eq!(f.close(), Close::Fin);
    // SYN at t, ACK of the SYN-ACK two steps later.
    assert_eq!(f.handshake.rtt_ns(), Some(2 * c.step_ns));
    assert_eq!(f.half(Side::Client).stats().unique, 5);
    assert_eq!(f.half(Side::Server).stats().unique, 6);
    assert_eq!(f.half(Side::Client).state, HalfState::FinSent);
    assert_eq!(f.half(Side::Client).fin.map(|(off, _)| off), Some(5));
}

#[test]
fn syn_ack_first_makes_its_sender_the_server() {
    let mut c = conv();
    c.handshake().data(Side::Client, b"x");
    let flows = run(&c.packets[1..]);
    assert_eq!(flows[0].roles, Roles::SynAck);
    assert_eq!(flows[0].server, c.server);
    assert!(flows[0].established());
}

#[test]
fn mid_stream_roles_are_guessed_from_the_ports() {
    let mut c = conv();
    c.handshake().data(Side::Server, b"piece data");
    // Capture starts with the server's data packet.
    let flows = run(&c.packets[3..]);
    let f = &flows[0];
    assert_eq!(f.roles, Roles::Guessed);
    assert_eq!(f.server, c.server, "6881 is a service port");
    assert_eq!(f.half(Side::Server).stats().unique, 10);
    assert_eq!(f.close(), Close::Open);
}

#[test]
fn a_new_syn_after_close_starts_a_new_instance() {
    let mut c = conv();
    c.handshake().data(Side::Client, b"one").close();
    let mut second = conv();
    second.client_seq = 900_000;
    second.ts = c.ts;
    second.handshake().data(Side::Client, b"two");
    let mut all = c.packets.clone();
    all.extend(second.packets.clone());
    let flows = run(&all);
    assert_eq!(flows.len(), 2);
    assert_eq!((flows[0].id, flows[0].instance), (1, 0));
    assert_eq!((flows[1].id, flows[1].instance), (2, 1));
    assert_eq!(flows[0].close(), Close::Fin);
    assert_eq!(flows[1].close(), Close::Open);
    assert_eq!(flows[1].half(Side::Client).stats().unique, 3);
}

#[test]
fn a_retransmitted_syn_stays_in_its_flow() {
    let mut c = conv();
    let syn = c.packet(Side::Client, F::SYN, &[]);
    c.push(syn.clone());
    c.push(Packet { ts: c.ts, ..syn });
    let flows = run(&c.packets);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].half(Side::Client).syns, 2);
    assert_eq!(flows[0].close(), Close::NeverEstablished);
    assert!(!flows[0].established());
}

#[test]
fn split_handshake_is_one_flow() {
    // SYN, SYN (from the responder), SYN-ACK (from the originator), ACK.
    let mut c = conv();
    c.send(Side::Client, F::SYN, &[]);
    c.send(Side::Server, F::SYN, &[]);
    c.client_seq = c.client_seq.wrapping_sub(1);
    c.send(Side::Client, F::SYN | F::ACK, &[]);
    c.send(Side::Server, F::ACK, &[]);
    let flows = run(&c.packets);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].client, c.client);
}

#[test]
fn refused_connection_is_reset_and_never_established() {
    let mut c = conv();
    c.send(Side::Client, F::SYN, &[]);
    c.send(Side::Server, F::RST | F::ACK, &[]);
    let f = &run(&c.packets)[0];
    assert!(!f.established());
    assert_eq!(f.close(), Close::Rst);
    assert_eq!(f.rsts.len(), 1);
    assert_eq!(f.rsts[0].from, Side::Server);
    assert_eq!(f.rsts[0].ack, Some(c.client_seq));
}

#[test]
fn reset_mid_transfer_is_recorded_with_its_header_facts() {
    let mut c = conv();
    c.handshake().data(Side::Server, &[1; 100]);
    let mut rst = c.packet(Side::Client, F::RST, &[]);
    rst.ttl = 51;
    rst.ip_id = 0x00f2;
    c.push(rst);
    let f = &run(&c.packets)[0];
    assert_eq!(f.close(), Close::Rst);
    let r = &f.rsts[0];
    assert_eq!(
        (r.from, r.ttl, r.ip_id, r.ack),
        (Side::Client, 51, Some(0x00f2), None)
    );
    assert_eq!(r.frame, 6);
    assert_eq!(r.offset, Some(0));
    assert_eq!(f.half(Side::Client).state, HalfState::Reset);
}

#[test]
fn a_rst_after_both_fins_does_not_make_a_reset_close() {
    let mut c = conv();
    c.handshake().close();
    c.send(Side::Server, F::RST, &[]);
    let f = &run(&c.packets)[0];
    assert_eq!(f.close(), Close::Fin);
    assert_eq!(f.rsts.len(), 1);
}

#[test]
fn rst_payload_is_not_stream_data() {
    let mut c = conv();
    c.handshake();
    c.send(Side::Server, F::RST | F::ACK, b"diagnostic text");
    let f = &run(&c.packets)[0];
    assert_eq!(f.half(Side::Server).stats().unique, 0);
    assert_eq!(f.rsts[0].payload_len, 15);
}

#[test]
fn syn_flood_is_bounded_and_data_flows_survive() {
    let mut c = conv();
    c.handshake().data(Side::Server, &[9; 1000]);
    let mut packets = c.packets.clone();
    for i in 0..100u16 {
        packets.push(Packet {
            src: SocketAddr::new(addr("198.51.100.66:1").ip(), 10_000 + i),
            flags: F::SYN,
            ts: c.ts,
            ..Packet::default()
        });
    }
    let limits = TableLimits {
        max_flows: 16,
        ..TableLimits::default()
    };
    let (flows, overflow) = run_with(&packets, limits);
    assert!(flows.len() <= 16);
    assert_eq!(overflow.flows as usize + flows.len(), 101);
    assert_eq!(overflow.never_established, overflow.flows);
    assert!(
        flows
            .iter()
            .any(|f| f.half(Side::Server).stats().unique == 1000)
    );
}

#[test]
fn goodput_uses_the_data_span_and_series_bins_hold_every_byte() {
    let mut c = conv();
    c.step_ns = 50_000_000; // 50 ms per packet
    c.handshake();
    for _ in 0..20 {
        c.send(Side::Server, F::ACK, &[0; 1000]);
    }
    let f = &run(&c.packets)[0];
    assert_eq!(f.data_side(), Some(Side::Server));
    // 20,000 bytes from the first to the last data packet: 19 steps of 50 ms.
    let expect = 20_000.0 * 8.0 / 0.95;
    assert!((f.goodput_bps().unwrap() - expect).abs() < 1.0);
    let bins = f.series.bins(Side::Server);
    assert_eq!(bins.iter().sum::<u32>(), 20_000);
    assert_eq!(
        bins[1], 1000,
        "one packet in the 100-200 ms bin after the 3 handshake steps"
    );
}

#[test]
fn a_burst_shorter_than_the_rtt_is_measured_over_one_rtt() {
    let mut c = conv();
    c.step_ns = 100_000_000; // 100 ms: the handshake RTT is 200 ms
    c.handshake();
    c.step_ns = 10_000; // then a 10 kB burst within 40 µs
    for _ in 0..5 {
        c.send(Side::Server, F::ACK, &[0; 2000]);
    }
    let f = &run(&c.packets)[0];
    let expect = 10_000.0 * 8.0 / 0.2;
    assert!((f.goodput_bps().unwrap() - expect).abs() < 1.0);
}

#[test]
fn receiver_ack_reveals_capture_loss_inside_a_flow() {
    let mut c = conv();
    c.handshake();
    c.send(Side::Server, F::ACK, &[1; 100]);
    // A 100-byte segment the capture missed.
    let lost = c.packet(Side::Server, F::ACK, &[2; 100]);
    c.server_seq += 100;
    c.send(Side::Server, F::ACK, &[3; 100]);
    c.send(Side::Client, F::ACK, &[]);
    let packets: Vec<Packet> = c.packets.iter().filter(|p| **p != lost).cloned().collect();
    let f = &run(&packets)[0];
    let st = f.half(Side::Server).stats();
    assert_eq!(st.unique, 200);
    assert_eq!(st.not_captured, 100);
    assert_eq!(st.unfilled, 0);
}

#[test]
fn a_syn_captured_after_its_syn_ack_joins_the_flow() {
    // zeek's handshake-reorder.pcap: SYN-ACK, then SYN, then the client's ACK.
    let mut c = conv();
    c.handshake().data(Side::Client, b"GET /");
    let mut p = c.packets.clone();
    p.swap(0, 1);
    // Captured in this order: the timestamps follow the capture order.
    let (t0, t1) = (p[1].ts, p[0].ts);
    p[0].ts = t0;
    p[1].ts = t1;
    let flows = run(&p);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].roles, Roles::Syn);
    assert_eq!(flows[0].client, c.client);
    assert_eq!(flows[0].half(Side::Client).stats().unique, 5);
    assert_eq!(
        flows[0].handshake.rtt_ns(),
        None,
        "no RTT from a reordered handshake"
    );
}

#[test]
fn a_late_handshake_corrects_guessed_roles() {
    // The capture starts with a data packet from the high port, then that port's SYN-ACK
    // (reordered): the high port is the server after all.
    let mut c = Conv::new(addr("198.51.100.7:80"), addr("203.0.113.9:50000"));
    c.handshake().data(Side::Server, b"data");
    let p = vec![
        c.packets[3].clone(),
        c.packets[1].clone(),
        c.packets[4].clone(),
    ];
    let flows = run(&p);
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.roles, Roles::SynAck);
    assert_eq!(f.server, addr("203.0.113.9:50000"));
    assert_eq!(f.half(Side::Server).stats().unique, 4);
    assert_eq!(f.series.bins(Side::Server).iter().sum::<u32>(), 4);
}

/// Feeds `packets` to `t` one by one, checking after each that the shared out-of-order count is
/// what the flows hold and stays within its bound.
fn feed_checking_budgets(t: &mut FlowTable<()>, packets: &[Packet]) {
    feed(t, packets, |t, frame| {
        let held: usize = t.flows().iter().map(|f| f.pending_bytes()).sum();
        assert_eq!(t.budgets.pending_bytes, held, "after frame {frame}");
        assert!(held <= t.budgets.pending_max, "after frame {frame}");
        let bins: usize = t.flows().iter().map(|f| f.series.held_bins()).sum();
        assert_eq!(t.budgets.series.used, bins, "after frame {frame}");
    });
}

/// Five flows, each missing its first 1000-byte segment and then sending `after` segments.
fn flows_with_a_gap(after: usize) -> Vec<Packet> {
    let mut packets = Vec::new();
    for k in 0..5u16 {
        let client = SocketAddr::new(addr("198.51.100.7:1").ip(), 41_000 + k);
        let mut c = Conv::new(client, addr("203.0.113.9:6881"));
        c.handshake();
        let lost = c.packet(Side::Server, F::ACK, &[1; 1000]);
        c.server_seq += 1000;
        for _ in 0..after {
            c.send(Side::Server, F::ACK, &[2; 1000]);
        }
        packets.extend(c.packets.iter().filter(|p| **p != lost).cloned());
    }
    packets
}

#[test]
fn flows_together_give_up_gaps_when_the_shared_out_of_order_budget_is_spent() {
    let mut t: FlowTable<()> = FlowTable::new(TableLimits::default(), ());
    t.budgets.pending_max = 10_000;
    feed_checking_budgets(&mut t, &flows_with_a_gap(4));
    // Two flows hold 4,000 bytes each; the third would pass 10,000 and gives its gap up, as
    // do the later ones while the first two still hold theirs.
    assert_eq!(t.budgets.pending_given_up, 3);
    let flows = t.finish();
    for f in &flows {
        let st = f.half(Side::Server).stats();
        assert_eq!(st.unique, 4000, "flow {}", f.id);
        assert_eq!(st.overflow + st.unfilled, 1000, "flow {}", f.id);
    }
    assert_eq!(
        flows
            .iter()
            .filter(|f| f.half(Side::Server).stats().overflow == 1000)
            .count(),
        3
    );
}

#[test]
fn retired_flows_give_back_what_they_held() {
    let limits = TableLimits {
        max_flows: 2,
        ..TableLimits::default()
    };
    let mut t: FlowTable<()> = FlowTable::new(limits, ());
    // Each flow added retires an older one: the counts checked after every frame must drop
    // with them.
    feed_checking_budgets(&mut t, &flows_with_a_gap(3));
    assert!(t.overflow.flows >= 3);
    assert_eq!(t.budgets.pending_given_up, 0);
}

#[test]
fn rtt_runs_from_the_syn_that_was_answered() {
    let t = |ms: i64| crate::capture::Timestamp(ms * 1_000_000);
    // Four SYNs 1 s apart, no timestamps: the last one before the SYN-ACK was answered.
    let mut h = Handshake::default();
    for s in 0..4 {
        h.syn_seen(t(s * 1000), None);
    }
    h.syn_ack_seen(t(3040), None);
    h.syn_seen(t(5000), None); // a late retransmission changes nothing
    h.ack = Some(t(3080));
    assert_eq!(h.rtt_ns(), Some(80_000_000));
    // With timestamps, the SYN whose TSval the SYN-ACK echoes, even an earlier one.
    let mut h = Handshake::default();
    for s in 0..6 {
        h.syn_seen(t(s * 1000), Some(100 + s as u32));
    }
    h.syn_ack_seen(t(5010), Some(104)); // answers the SYN sent at 4 s
    h.ack = Some(t(5020));
    assert_eq!(h.rtt_ns(), Some(1_020_000_000));
}

#[test]
fn a_packet_of_a_retired_connection_is_counted_not_placed() {
    let limits = TableLimits {
        max_flows: 2,
        ..TableLimits::default()
    };
    let mut t: FlowTable<()> = FlowTable::new(limits, ());
    let mut placed = Vec::new();
    let mut frame = 0;
    let mut take = |t: &mut FlowTable<()>, p: &Packet| {
        frame += 1;
        let rec = p.record(LinkType::RAW, None);
        let f = rec.frame(frame, LinkType::RAW);
        let seg = wire::decode(&f).unwrap();
        t.process(&seg, PacketRef { frame, ts: f.ts })
    };
    let mut convs: Vec<Conv> = (0..3u16)
        .map(|i| {
            Conv::new(
                addr(&format!("198.51.100.7:{}", 40_001 + i)),
                addr("203.0.113.9:6881"),
            )
        })
        .collect();
    for c in &mut convs {
        c.handshake().data(Side::Client, b"data");
        for p in c.packets.clone() {
            placed.push(take(&mut t, &p));
        }
    }
    // The third connection retired the first (both carried data; the first idled longest).
    assert!(placed.iter().all(Option::is_some));
    assert_eq!(t.overflow.flows, 1);
    let late = convs[0].packet(Side::Server, F::ACK, b"late");
    assert!(take(&mut t, &late).is_none());
    assert_eq!((t.overflow.packets_after, t.overflow.payload_after), (1, 4));
    let live = convs[2].packet(Side::Server, F::ACK, b"reply");
    let p = take(&mut t, &live).unwrap();
    assert_eq!((p.flow_id, p.side, p.new_bytes), (3, Side::Server, 5));
}
