//! Reset traces: each test plays a connection seen from the server (the capturing host, TTL
//! 64; the client 14 hops away, TTL 50) and checks the verdict and evidence one RST gets.

use super::*;
use crate::analyze::{Options, analyze_bytes};
use crate::capture::LinkType;
use crate::model::{CaptureReport, RstReport};
use crate::synth::{Conv, Packet, PcapOpts, pcap};
use crate::wire::TcpFlags as F;
use EvidenceKind as K;

const MS: i64 = 1_000_000;

/// A connection as a Glasnost server sees it: handshake RTT 40 ms, data the client sends,
/// IP IDs rising from the client.
fn conv() -> Conv {
    let mut c = Conv::new(
        "198.51.100.7:40001".parse().unwrap(),
        "203.0.113.9:6881".parse().unwrap(),
    );
    c.client_ttl = 50;
    c.server_ttl = 64;
    c.step_ns = 40 * MS;
    c.handshake();
    c.step_ns = 5 * MS;
    c
}

fn report(packets: &[Packet], opts: &Options) -> CaptureReport {
    let mut recs: Vec<_> = packets
        .iter()
        .map(|p| p.record(LinkType::RAW, None))
        .collect();
    recs.sort_by_key(|r| r.ts);
    analyze_bytes(
        "trace",
        pcap(LinkType::RAW, &recs, PcapOpts::default()),
        opts,
    )
}

/// The RST in frame `frame` (1-based, in time order).
fn rst(r: &CaptureReport, frame: u64) -> RstReport {
    r.flows
        .iter()
        .flat_map(|f| f.rsts.iter())
        .find(|x| x.frame == frame)
        .cloned()
        .unwrap_or_else(|| panic!("no RST in frame {frame}"))
}

fn judged(packets: &[Packet]) -> CaptureReport {
    report(packets, &Options::default())
}

/// A RST from the client at its next sequence number, with its usual TTL and next IP ID.
fn client_abort(c: &Conv) -> Packet {
    let mut p = c.packet(Side::Client, F::RST | F::ACK, &[]);
    p.ip_id = c.packets.len() as u16 + 1;
    p
}

fn some_data(c: &mut Conv) {
    c.data(Side::Client, b"hello server")
        .data(Side::Server, &[7; 1000])
        .data(Side::Client, b"more");
}

/// Quiet for longer than a round trip, so a reply could have come from the far end.
fn pause(c: &mut Conv) {
    c.ts = Timestamp(c.ts.0 + 60 * MS);
}

fn has(r: &RstReport, kind: K) -> bool {
    r.evidence.contains(&kind)
}

#[test]
fn a_genuine_abort_from_the_far_end_is_endpoint() {
    let mut c = conv();
    some_data(&mut c);
    let p = client_abort(&c);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert_eq!(r.verdict, Some(Verdict::Endpoint), "{:?}", r.findings);
    assert!(has(&r, K::SeqExact) && has(&r, K::TtlConsistent) && has(&r, K::IpIdInSequence));
}

#[test]
fn the_capturing_hosts_own_reset_is_endpoint() {
    let mut c = conv();
    some_data(&mut c);
    c.send(Side::Server, F::RST | F::ACK, &[]);
    let report = judged(&c.packets);
    assert_eq!(report.flows[0].vantage, Vantage::Server);
    let r = rst(&report, c.packets.len() as u64);
    assert_eq!(
        (r.verdict, r.evidence.as_slice()),
        (Some(Verdict::Endpoint), &[K::SentByCaptureHost][..])
    );
}

#[test]
fn linux_closed_socket_reset_window_zero_no_options_is_not_evidence() {
    // A RST without ACK answering the server's segment: seq = that segment's ack, window 0.
    let mut c = conv();
    some_data(&mut c);
    pause(&mut c);
    let mut p = c.packet(Side::Client, F::RST, &[]);
    p.window = 0;
    p.ip_id = 0;
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert_eq!(r.verdict, Some(Verdict::Endpoint), "{:?}", r.findings);
    assert!(
        !has(&r, K::IpIdBreak),
        "ID 0 is what Linux puts in its resets"
    );
}

#[test]
fn data_after_the_rst_proves_it_forged() {
    let mut c = conv();
    some_data(&mut c);
    let forged = client_abort(&c);
    c.push(forged);
    let frame = c.packets.len() as u64;
    c.data(Side::Client, b"still here");
    let r = rst(&judged(&c.packets), frame);
    assert_eq!(r.verdict, Some(Verdict::Forged));
    assert!(has(&r, K::DataAfterRst));
}

#[test]
fn acknowledging_new_data_after_the_rst_proves_it_forged() {
    let mut c = conv();
    some_data(&mut c);
    let forged = client_abort(&c);
    c.push(forged);
    let frame = c.packets.len() as u64;
    c.send(Side::Server, F::ACK | F::PSH, &[1; 100]);
    c.send(Side::Client, F::ACK, &[]);
    let r = rst(&judged(&c.packets), frame);
    assert_eq!(r.verdict, Some(Verdict::Forged));
    assert!(has(&r, K::AckAfterRst));
}

#[test]
fn a_burst_with_rising_sequence_numbers_is_forged_but_retransmissions_are_not() {
    let mut c = conv();
    some_data(&mut c);
    let first = c.packets.len() as u64 + 1;
    for i in 0..3u32 {
        let mut p = client_abort(&c);
        p.seq = c.client_seq.wrapping_add(i * 1460);
        c.push(p);
    }
    let r = rst(&judged(&c.packets), first + 1);
    assert_eq!(r.verdict, Some(Verdict::Forged));
    assert!(has(&r, K::RstBurstRisingSeq));

    let mut c = conv();
    some_data(&mut c);
    let first = c.packets.len() as u64 + 1;
    for _ in 0..3 {
        let p = client_abort(&c);
        c.push(p);
    }
    let r = rst(&judged(&c.packets), first + 2);
    assert_eq!(r.verdict, Some(Verdict::Endpoint), "{:?}", r.findings);
    assert!(has(&r, K::RepeatedRst) && !has(&r, K::RstBurstRisingSeq));
}

#[test]
fn acknowledging_bytes_the_capturing_host_never_sent_is_forged() {
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ack = c.server_seq.wrapping_add(5000);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert_eq!(r.verdict, Some(Verdict::Forged));
    assert!(
        r.findings
            .iter()
            .any(|e| e.code == K::AckOfUnsentData && e.strength == Strength::Strong)
    );
}

#[test]
fn from_the_middle_an_ack_of_unsent_bytes_may_be_capture_loss() {
    // Both ends crossed hops: the capture point could have missed the server's bytes.
    let mut c = conv();
    c.server_ttl = 57;
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ack = c.server_seq.wrapping_add(5000);
    c.push(p);
    let report = judged(&c.packets);
    assert_eq!(report.flows[0].vantage, Vantage::Middle);
    let r = rst(&report, c.packets.len() as u64);
    assert!(
        r.findings
            .iter()
            .any(|e| e.code == K::AckOfUnsentData && e.strength == Strength::Medium)
    );
    assert_eq!(r.verdict, Some(Verdict::Inconclusive));
}

#[test]
fn one_medium_sign_is_inconclusive_two_are_forged() {
    // TTL three hops off: suspicious alone.
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ttl = 47;
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::TtlDeparture));
    assert_eq!(r.verdict, Some(Verdict::Inconclusive));
    // With an acknowledgment moving backwards too.
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ttl = 47;
    p.ack = c.server_seq.wrapping_sub(500);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::AckMovedBackwards));
    assert_eq!(r.verdict, Some(Verdict::Forged));
}

#[test]
fn a_ttl_from_another_stack_is_forged() {
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ttl = 163;
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert_eq!(r.verdict, Some(Verdict::Forged));
    assert!(has(&r, K::TtlOtherStack));
}

#[test]
fn a_forged_data_packet_does_not_become_the_ttl_baseline() {
    let mut c = conv();
    some_data(&mut c);
    let mut injected = c.packet(Side::Client, F::ACK | F::PSH, b"fake");
    injected.ttl = 113;
    c.push(injected);
    let mut p = client_abort(&c);
    p.ttl = 113;
    p.seq = p.seq.wrapping_add(4);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::TtlOtherStack), "{:?}", r.findings);
}

#[test]
fn a_reset_without_ack_must_copy_an_acknowledgment() {
    let mut c = conv();
    some_data(&mut c);
    let mut p = c.packet(Side::Client, F::RST, &[]);
    p.seq = c.client_seq.wrapping_add(700);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::SeqNotReply), "{:?}", r.findings);
}

#[test]
fn a_challenge_ack_shows_the_reset_was_not_exact() {
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.seq = c.client_seq.wrapping_add(100);
    c.push(p);
    let frame = c.packets.len() as u64;
    c.send(Side::Server, F::ACK, &[]);
    let r = rst(&judged(&c.packets), frame);
    assert!(has(&r, K::ChallengeAck), "{:?}", r.findings);
}

#[test]
fn the_receiver_carrying_on_is_evidence() {
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ttl = 46;
    c.push(p);
    let frame = c.packets.len() as u64;
    c.send(Side::Server, F::ACK | F::PSH, &[3; 200]);
    let r = rst(&judged(&c.packets), frame);
    assert!(has(&r, K::ConnectionContinues));
    assert_eq!(
        r.verdict,
        Some(Verdict::Forged),
        "with the TTL departure: {:?}",
        r.findings
    );
}

#[test]
fn an_answer_faster_than_half_the_round_trip_is_forged() {
    // The server sends new data; 1 ms later a RST acknowledging exactly it arrives, though
    // the client is 40 ms away.
    let mut c = conv();
    some_data(&mut c);
    c.step_ns = MS;
    c.send(Side::Server, F::ACK | F::PSH, &[9; 300]);
    let mut p = c.packet(Side::Client, F::RST | F::ACK, &[]);
    p.ip_id = c.packets.len() as u16 + 1;
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::FasterThanRtt), "{:?}", r.findings);
    assert_eq!(r.verdict, Some(Verdict::Forged));
}

#[test]
fn an_abort_crossing_a_pure_ack_is_not_too_fast() {
    // Regression: a genuine abort arriving just after the server's pure ACK matched the ACK's
    // sequence number and looked like a 1 ms answer.
    let mut c = conv();
    some_data(&mut c);
    c.step_ns = MS;
    c.send(Side::Server, F::ACK, &[]);
    let p = client_abort(&c);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(!has(&r, K::FasterThanRtt));
    assert_eq!(r.verdict, Some(Verdict::Endpoint));
}

#[test]
fn an_ip_id_break_alone_is_weak() {
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ip_id = 40_000;
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::IpIdBreak));
    assert_eq!(r.verdict, Some(Verdict::Endpoint), "{:?}", r.findings);
}

#[test]
fn a_refused_connection_is_endpoint() {
    let mut c = Conv::new(
        "198.51.100.7:40001".parse().unwrap(),
        "203.0.113.9:6882".parse().unwrap(),
    );
    c.client_ttl = 50;
    c.send(Side::Client, F::SYN, &[]);
    c.send(Side::Server, F::RST | F::ACK, &[]);
    let r = rst(&judged(&c.packets), 2);
    assert!(has(&r, K::Refusal));
    assert_eq!(r.verdict, Some(Verdict::Endpoint));
}

#[test]
fn a_syn_ack_after_a_reset_of_the_syn_is_forged() {
    // zeek's rst-inject-rae: a RST+ACK "from the server" right after the SYN, then the real
    // SYN-ACK.
    let mut c = Conv::new(
        "198.51.100.7:40001".parse().unwrap(),
        "203.0.113.9:80".parse().unwrap(),
    );
    c.server_ttl = 49;
    c.step_ns = 2 * MS;
    c.send(Side::Client, F::SYN, &[]);
    c.step_ns = 40 * MS;
    let mut forged = c.packet(Side::Server, F::RST | F::ACK, &[]);
    forged.seq = 0;
    forged.ttl = 46;
    c.push(forged);
    c.send(Side::Server, F::SYN | F::ACK, &[]);
    c.send(Side::Client, F::ACK, &[]);
    let r = rst(&judged(&c.packets), 2);
    assert!(has(&r, K::HandshakeAfterRst), "{:?}", r.findings);
    assert_eq!(r.verdict, Some(Verdict::Forged));
}

#[test]
fn a_new_connection_on_the_same_four_tuple_is_not_data_after_the_old_reset() {
    let mut c = conv();
    some_data(&mut c);
    let p = client_abort(&c);
    c.push(p);
    let frame = c.packets.len() as u64;
    let mut again = conv();
    again.client_seq = 7_000_000;
    again.ts = Timestamp(c.ts.0 + 100 * MS);
    again.packets.clear();
    again.handshake();
    some_data(&mut again);
    let mut all = c.packets.clone();
    all.extend(again.packets);
    let report = judged(&all);
    assert_eq!(report.flows.len(), 2);
    let r = rst(&report, frame);
    assert!(!has(&r, K::DataAfterRst));
    assert_eq!(r.verdict, Some(Verdict::Endpoint));
}

/// A BitTorrent flow and its control twin between the same hosts.
fn bt_and_control(reset_ttl: u8) -> (Vec<Packet>, u64) {
    use crate::btparse::Message;
    use crate::synth::bt;
    let mut b = conv();
    let hs = bt::handshake([0; 8], [1; 20], b"-GN0100-abcdefghijkl");
    b.data(Side::Client, &hs).data(Side::Server, &hs);
    let bitfield = bt::message(&Message::Bitfield { len: 161 }, 0).unwrap();
    b.data(Side::Client, &bitfield)
        .data(Side::Server, &bitfield);
    pause(&mut b);
    let mut p = client_abort(&b);
    p.ttl = reset_ttl;
    b.push(p);
    let frame_in_bt = b.packets.len();
    let mut ctl = Conv::new(
        "198.51.100.7:40002".parse().unwrap(),
        "203.0.113.9:4711".parse().unwrap(),
    );
    ctl.client_ttl = 50;
    ctl.ts = Timestamp(b.ts.0 + 1000 * MS);
    ctl.handshake()
        .data(Side::Client, &[0x9e; 68])
        .data(Side::Server, &[0x37; 68])
        .close();
    // Random bytes for the control flow's first 68, as Glasnost sends.
    let mut x = 0x1234_5678u32;
    for p in ctl.packets.iter_mut().filter(|p| p.payload.len() == 68) {
        for byte in p.payload.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *byte = x as u8;
        }
    }
    let mut all = b.packets;
    all.extend(ctl.packets);
    (all, frame_in_bt as u64)
}

#[test]
fn bittorrent_timing_with_surviving_control_flows_is_context() {
    // TTL as usual: the BitTorrent timing and the surviving control flow make it suspicious,
    // not proven.
    let (packets, frame) = bt_and_control(50);
    let report = judged(&packets);
    assert_eq!(report.flows[1].kind, Some(Kind::Control));
    let r = rst(&report, frame);
    assert!(
        has(&r, K::BtAfterBitfield) && has(&r, K::ControlFlowsSurvived),
        "{:?}",
        r.findings
    );
    assert_eq!(r.verdict, Some(Verdict::Inconclusive));
    // With a TTL departure as well: forged.
    let (packets, frame) = bt_and_control(54);
    let r = rst(&judged(&packets), frame);
    assert_eq!(r.verdict, Some(Verdict::Forged), "{:?}", r.findings);
    let b = judged(&packets).flows[0].blocking.unwrap();
    assert!(b.reset && b.signal && b.before_data);
    assert_eq!((b.rsts_received, b.rsts_sent), (1, 0));
    let ms = b.after_bt_exchange_ms.unwrap();
    assert!((60.0..100.0).contains(&ms), "{ms}");
}

#[test]
fn vantage_can_be_stated() {
    let mut c = conv();
    some_data(&mut c);
    let p = client_abort(&c);
    c.push(p);
    let opts = Options {
        vantage: VantageSetting::Host("198.51.100.7".parse().unwrap()),
        ..Options::default()
    };
    let report = report(&c.packets, &opts);
    assert_eq!(report.flows[0].vantage, Vantage::Client);
    let r = rst(&report, c.packets.len() as u64);
    assert_eq!(r.evidence, vec![K::SentByCaptureHost]);
}

#[test]
fn vantage_from_ttls_and_from_handshake_timing() {
    let mut c = conv();
    some_data(&mut c);
    assert_eq!(judged(&c.packets).flows[0].vantage, Vantage::Server);
    // Client side: the client's TTL is its initial one, the server's crossed hops.
    c.client_ttl = 128;
    c.server_ttl = 51;
    let mut d = conv();
    d.client_ttl = 128;
    d.server_ttl = 51;
    d.packets.clear();
    d.handshake();
    some_data(&mut d);
    assert_eq!(judged(&d.packets).flows[0].vantage, Vantage::Client);
}

#[test]
fn the_rule_leans_to_inconclusive() {
    let e = |code: &str, strength| Evidence {
        kind: match code {
            "a" => K::AckMovedBackwards,
            "b" => K::SeqNotReply,
            "c" => K::BtAfterBitfield,
            "d" => K::ControlFlowsSurvived,
            "w" => K::IpIdBreak,
            "x" => K::SeqExact,
            "i" => K::NoBaseline,
            _ => K::SentByCaptureHost,
        },
        strength,
        text: String::new(),
    };
    use Strength::*;
    assert_eq!(combine(&[e("a", Strong)]), Verdict::Forged);
    assert_eq!(combine(&[e("a", Medium), e("b", Medium)]), Verdict::Forged);
    assert_eq!(
        combine(&[e("a", Medium), e("a", Medium)]),
        Verdict::Inconclusive
    );
    assert_eq!(
        combine(&[e("a", Medium), e("c", Context), e("d", Context)]),
        Verdict::Forged
    );
    assert_eq!(
        combine(&[e("a", Medium), e("x", ForEndpoint)]),
        Verdict::Inconclusive
    );
    assert_eq!(
        combine(&[e("w", Weak), e("c", Context)]),
        Verdict::Inconclusive
    );
    assert_eq!(
        combine(&[e("w", Weak), e("x", ForEndpoint)]),
        Verdict::Endpoint
    );
    assert_eq!(combine(&[e("i", Info)]), Verdict::Inconclusive);
    assert_eq!(combine(&[]), Verdict::Inconclusive);
    assert_eq!(
        combine(&[e("sent_by_capture_host", ForEndpoint), e("a", Strong)]),
        Verdict::Endpoint
    );
}

/// The same connection captured on the client's machine: its own packets leave with TTL 64,
/// the server's arrive with 63 (one router between them).
fn client_conv() -> Conv {
    let mut c = Conv::new(
        "198.51.100.7:40001".parse().unwrap(),
        "203.0.113.9:6881".parse().unwrap(),
    );
    c.client_ttl = 64;
    c.server_ttl = 63;
    c.step_ns = 40 * MS;
    c.handshake();
    c.step_ns = 5 * MS;
    c
}

/// A RST+ACK "from the server" dressed as a Linux reset: IP ID 0, DF, window 0, at the
/// server's next sequence number, with the given TTL.
fn linux_look_rst(c: &Conv, from: Side, ttl: u8) -> Packet {
    let mut p = c.packet(from, F::RST | F::ACK, &[]);
    p.ttl = ttl;
    p.ip_id = 0;
    p.df = true;
    p.window = 0;
    p
}

#[test]
fn at_the_client_a_reset_with_more_ttl_left_than_the_path_allows_is_forged() {
    // One hop from the client, an injector copying a Linux reset: TTL 64 where the server's
    // packets arrive with 63. Everything else looks like the server's own reset.
    let mut c = client_conv();
    some_data(&mut c);
    pause(&mut c);
    let p = linux_look_rst(&c, Side::Server, 64);
    c.push(p);
    let report = judged(&c.packets);
    assert_eq!(report.flows[0].vantage, Vantage::Client);
    let r = rst(&report, c.packets.len() as u64);
    assert!(
        r.findings
            .iter()
            .any(|e| e.code == K::TtlAbovePath && e.strength == Strength::Strong),
        "{:?}",
        r.findings
    );
    assert!(!has(&r, K::TtlConsistent));
    assert_eq!(r.verdict, Some(Verdict::Forged));
}

#[test]
fn at_the_client_the_servers_own_reset_is_never_forged() {
    // The same reset with the TTL the server's packets arrive with: the server's own.
    let mut c = client_conv();
    some_data(&mut c);
    pause(&mut c);
    let p = linux_look_rst(&c, Side::Server, 63);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(
        has(&r, K::TtlConsistent) && has(&r, K::SeqExact),
        "{:?}",
        r.findings
    );
    assert_eq!(r.verdict, Some(Verdict::Endpoint), "{:?}", r.findings);
    // Fewer hops left than its packets (a longer route) is no proof: at worst inconclusive.
    let mut c = client_conv();
    some_data(&mut c);
    pause(&mut c);
    let p = linux_look_rst(&c, Side::Server, 60);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::TtlDeparture), "{:?}", r.findings);
    assert_eq!(r.verdict, Some(Verdict::Inconclusive));
    // The client's own reset, whatever it looks like, is the capturing host's.
    let mut c = client_conv();
    some_data(&mut c);
    pause(&mut c);
    let p = linux_look_rst(&c, Side::Client, 64);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert_eq!(r.verdict, Some(Verdict::Endpoint));
}

#[test]
fn at_the_server_a_reset_claiming_the_client_from_one_hop_is_forged() {
    // The server's vantage, the client one router away (TTL 63), the injector in that router.
    let mut c2 = Conv::new(
        "198.51.100.7:40001".parse().unwrap(),
        "203.0.113.9:6881".parse().unwrap(),
    );
    c2.client_ttl = 63;
    c2.server_ttl = 64;
    c2.step_ns = 40 * MS;
    c2.handshake();
    c2.step_ns = 5 * MS;
    some_data(&mut c2);
    pause(&mut c2);
    let p = linux_look_rst(&c2, Side::Client, 64);
    c2.push(p);
    let report = judged(&c2.packets);
    assert_eq!(report.flows[0].vantage, Vantage::Server);
    let r = rst(&report, c2.packets.len() as u64);
    assert!(has(&r, K::TtlAbovePath), "{:?}", r.findings);
    assert_eq!(r.verdict, Some(Verdict::Forged));
}

#[test]
fn a_few_more_hops_left_not_at_an_initial_value_is_only_suspicious() {
    // The client 14 hops from the server: a RST with 3 hops more left than its packets could
    // be a shorter route; inconclusive, never forged on its own.
    let mut c = conv();
    some_data(&mut c);
    let mut p = client_abort(&c);
    p.ttl = 53;
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(
        r.findings
            .iter()
            .any(|e| e.code == K::TtlAbovePath && e.strength == Strength::Medium),
        "{:?}",
        r.findings
    );
    assert_eq!(r.verdict, Some(Verdict::Inconclusive));
}

#[test]
fn the_ttl_rule_on_its_own() {
    let e = |ttl, usual, max| ttl_evidence(ttl, usual, max, "server");
    // Too few packets.
    assert_eq!(e(64, None, 0).kind, K::NoBaseline);
    assert_eq!(e(64, Some((63, 1, 1)), 63).kind, K::NoBaseline);
    assert_eq!(e(62, Some((60, 2, 2)), 60).kind, K::NoBaseline);
    // An initial value against two packets that crossed a router: suspicious only.
    let two = e(64, Some((63, 2, 2)), 63);
    assert_eq!(
        (two.kind, two.strength),
        (K::TtlAbovePath, Strength::Medium)
    );
    // Another initial TTL: two packets are enough.
    assert_eq!(e(200, Some((63, 2, 2)), 63).kind, K::TtlOtherStack);
    // More TTL left than any of the sender's packets.
    let above = e(64, Some((63, 5, 5)), 63);
    assert_eq!(
        (above.kind, above.strength),
        (K::TtlAbovePath, Strength::Strong)
    );
    let above = e(62, Some((60, 5, 5)), 60);
    assert_eq!(
        (above.kind, above.strength),
        (K::TtlAbovePath, Strength::Medium)
    );
    // One of its packets (a duplicate seen before a router's hop, say) had as much left.
    assert_eq!(e(64, Some((63, 5, 6)), 64).kind, K::TtlConsistent);
    // Less left.
    assert_eq!(e(61, Some((63, 5, 5)), 63).kind, K::TtlDeparture);
    assert_eq!(e(62, Some((63, 5, 5)), 63).kind, K::TtlConsistent);
}

#[test]
fn the_claimed_sender_still_sending_after_its_reset_is_suspicious() {
    // At the client: a RST "from the server", then the server's window update 20 ms later.
    let mut c = client_conv();
    some_data(&mut c);
    pause(&mut c);
    let p = linux_look_rst(&c, Side::Server, 63);
    c.push(p);
    c.ts = Timestamp(c.ts.0 + 20 * MS);
    let mut alive = c.packet(Side::Server, F::ACK, &[]);
    alive.window = 4096;
    c.push(alive);
    let frame = c.packets.len() as u64 - 1;
    let r = rst(&judged(&c.packets), frame);
    let e = r
        .findings
        .iter()
        .find(|e| e.code == K::SenderAliveAfterRst)
        .unwrap_or_else(|| panic!("{:?}", r.findings));
    assert_eq!(e.strength, Strength::Medium);
    assert!(
        e.text.contains(&format!("frame {}", frame + 1)),
        "{}",
        e.text
    );
    // Medium alone: suspicious, not proof.
    assert_eq!(r.verdict, Some(Verdict::Inconclusive));
}

#[test]
fn a_duplicate_of_the_senders_last_packet_is_not_life_after_reset() {
    // The capture saw the server's last packet twice, the copy after the RST.
    let mut c = client_conv();
    some_data(&mut c);
    let last = c.packets.last().cloned().unwrap();
    assert_eq!(last.src, c.server);
    pause(&mut c);
    let p = linux_look_rst(&c, Side::Server, 63);
    c.push(p);
    let frame = c.packets.len() as u64;
    c.ts = Timestamp(c.ts.0 + 20 * MS);
    let mut dup = last;
    dup.ts = c.ts;
    c.push(dup);
    let r = rst(&judged(&c.packets), frame);
    assert!(!has(&r, K::SenderAliveAfterRst), "{:?}", r.findings);
    assert_eq!(r.verdict, Some(Verdict::Endpoint), "{:?}", r.findings);
}

#[test]
fn a_reset_out_of_nowhere_after_an_orderly_close_is_suspicious() {
    // Both FINs acknowledged, the client's final ACK its last packet; 100 ms later a RST+ACK
    // "from the client" at its next sequence number, nothing from the server to answer.
    let mut c = conv();
    some_data(&mut c);
    c.close();
    c.ts = Timestamp(c.ts.0 + 100 * MS);
    let p = client_abort(&c);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(has(&r, K::RstAfterClose), "{:?}", r.findings);
    assert_ne!(r.verdict, Some(Verdict::Endpoint));
    assert_ne!(r.verdict, Some(Verdict::Forged));
    // The same RST answering a segment the server sent after the close is not "out of
    // nowhere".
    let mut c = conv();
    some_data(&mut c);
    c.close();
    c.send(Side::Server, F::ACK | F::PSH, b"late");
    let p = client_abort(&c);
    c.push(p);
    let r = rst(&judged(&c.packets), c.packets.len() as u64);
    assert!(!has(&r, K::RstAfterClose), "{:?}", r.findings);
}
