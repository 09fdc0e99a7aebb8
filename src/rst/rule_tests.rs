//! Each rule on its own, on views built from one template with per-test overrides.
//!
//! The template: a capture at the server (the capturing host), a RST+ACK from the client
//! (14 hops away, TTL 50) at exactly the client's next sequence number, with its next IP ID,
//! after 1000 bytes each way from the client and 2000 from the server. A genuine abort:
//! `seq_exact`, `ttl_consistent`, `ip_id_in_sequence`, nothing against it.

use super::*;
use crate::flows::PacketRef;
use crate::flows::observe::{AfterRst, PacketFacts, RstContext};
use crate::wire::TcpFlags as F;
use EvidenceKind as K;

const MS: i64 = 1_000_000;
/// The RST's capture time.
const T: i64 = 10_000 * MS;
/// The client's ISN + 1: stream offset 0 of its stream.
const CLIENT_BASE: u32 = 1_000_001;
const SERVER_BASE: u32 = 5_000_001;

fn at(ms: i64) -> Timestamp {
    Timestamp(T + ms * MS)
}

fn packet(frame: u64, ms: i64) -> PacketRef {
    PacketRef { frame, ts: at(ms) }
}

/// A packet's facts: a pure ACK by default.
fn facts(frame: u64, ms: i64) -> PacketFacts {
    PacketFacts {
        frame,
        ts: at(ms),
        seq: SERVER_BASE + 2000,
        ack: Some(CLIENT_BASE + 1000),
        flags: F(F::ACK),
        ttl: 64,
        ip_id: Some(7),
        window: 502,
        payload_len: 0,
        new_bytes: 0,
        ack_advanced: false,
    }
}

/// What the flow table knew when the template's RST came.
fn context() -> RstContext {
    RstContext {
        sender_ttl: Some((50, 10, 10)),
        sender_ip_id: Some((110, 9)),
        sender_end: 1000,
        sender_fin: false,
        sender_max_ack: Some(2000),
        sender_max_ack_seq: None,
        receiver_max_ack: Some(1000),
        receiver_end: 2000,
        receiver_fin: false,
        receiver_window: Some(65535),
        trigger: Some(facts(19, -30)),
        sender_last: Some(PacketFacts {
            seq: CLIENT_BASE + 900,
            ttl: 50,
            ..facts(18, -35)
        }),
        receiver_acks: vec![CLIENT_BASE + 900, CLIENT_BASE + 1000],
        ack_offset: Some(2000),
        sender_bytes: 1000,
        receiver_bytes: 2000,
    }
}

/// The template's RST: frame 20, from the client.
fn rst() -> RstRecord {
    RstRecord {
        frame: 20,
        ts: at(0),
        from: Side::Client,
        seq: CLIENT_BASE + 1000,
        ack: Some(SERVER_BASE + 2000),
        flags: F(F::RST | F::ACK),
        ttl: 50,
        ip_id: Some(111),
        window: 0,
        options: false,
        payload_len: 0,
        offset: Some(1000),
        context: Box::new(context()),
        after: AfterRst::default(),
    }
}

/// The template view of `r`: alone in its flow, seen at the server.
fn view(r: &RstRecord) -> RstView<'_> {
    RstView {
        rst: r,
        rsts: std::slice::from_ref(r),
        vantage: Vantage::Server,
        control_survived: false,
        sender_fin: None,
        receiver_fin: None,
        sender_ttl_max: 50,
        server_sent_only_rsts: false,
        rtt_ns: Some(40 * MS),
        capture_point_rtt_ns: Some(40 * MS),
        bt: None,
    }
}

/// A RST without ACK: the shape of a reply.
fn bare(r: RstRecord) -> RstRecord {
    RstRecord {
        flags: F(F::RST),
        ack: None,
        ..r
    }
}

/// The evidence `rule` gives on `v`, which must be of `kind` at `strength`.
#[track_caller]
fn fires(rule: Rule, v: &RstView<'_>, kind: EvidenceKind, strength: Strength) -> Evidence {
    let e = rule(v).unwrap_or_else(|| panic!("{kind} did not fire"));
    assert_eq!((e.kind, e.strength), (kind, strength), "{}", e.text);
    assert!(kind.strengths().contains(&e.strength));
    e
}

#[track_caller]
fn silent(rule: Rule, v: &RstView<'_>) {
    if let Some(e) = rule(v) {
        panic!("fired: {} [{}]: {}", e.kind, e.strength, e.text);
    }
}

/// The verdict the whole list of rules gives.
fn verdict(v: &RstView<'_>) -> (Verdict, Vec<EvidenceKind>) {
    let ev = evidence(v);
    (combine(&ev), ev.iter().map(|e| e.kind).collect())
}

#[test]
fn the_template_is_a_genuine_abort() {
    let r = rst();
    assert_eq!(
        verdict(&view(&r)),
        (
            Verdict::Endpoint,
            vec![K::SeqExact, K::TtlConsistent, K::IpIdInSequence]
        )
    );
}

#[test]
fn sent_by_capture_host_only_for_the_capturing_hosts_own_rst() {
    let r = rst();
    let v = RstView {
        vantage: Vantage::Client,
        ..view(&r)
    };
    fires(
        sent_by_capture_host,
        &v,
        K::SentByCaptureHost,
        Strength::ForEndpoint,
    );
    // Nothing else is looked at, however forged it looks otherwise.
    let loud = RstRecord {
        ttl: 200,
        after: AfterRst {
            sender_beyond: Some(packet(21, 5)),
            ..AfterRst::default()
        },
        ..rst()
    };
    let v = RstView {
        vantage: Vantage::Client,
        ..view(&loud)
    };
    assert_eq!(verdict(&v), (Verdict::Endpoint, vec![K::SentByCaptureHost]));
    silent(sent_by_capture_host, &view(&r));
}

#[test]
fn rule_data_after_rst() {
    let r = RstRecord {
        after: AfterRst {
            sender_beyond: Some(packet(25, 12)),
            ..AfterRst::default()
        },
        ..rst()
    };
    let e = fires(data_after_rst, &view(&r), K::DataAfterRst, Strength::Strong);
    assert!(e.text.contains("frame 25, 0.012 s later"), "{}", e.text);
    silent(data_after_rst, &view(&rst()));
}

#[test]
fn rule_ack_after_rst() {
    let r = RstRecord {
        after: AfterRst {
            sender_ack_progress: Some(packet(25, 12)),
            ..AfterRst::default()
        },
        ..rst()
    };
    fires(ack_after_rst, &view(&r), K::AckAfterRst, Strength::Strong);
    silent(ack_after_rst, &view(&rst()));
}

#[test]
fn rule_handshake_after_rst() {
    let r = RstRecord {
        after: AfterRst {
            sender_syn: Some(packet(25, 900)),
            ..AfterRst::default()
        },
        ..rst()
    };
    fires(
        handshake_after_rst,
        &view(&r),
        K::HandshakeAfterRst,
        Strength::Medium,
    );
    silent(handshake_after_rst, &view(&rst()));
}

#[test]
fn sender_alive_after_rst_only_well_after_and_without_stronger_signs() {
    let alive = |ms, after: AfterRst| RstRecord {
        after: AfterRst {
            sender_first: Some(facts(25, ms)),
            ..after
        },
        ..rst()
    };
    let r = alive(20, AfterRst::default());
    fires(
        sender_alive_after_rst,
        &view(&r),
        K::SenderAliveAfterRst,
        Strength::Medium,
    );
    // Reordered behind the RST (sent before it), well under a millisecond.
    let r = alive(0, AfterRst::default());
    silent(sender_alive_after_rst, &view(&r));
    // Data after it says more, and says it instead.
    let r = alive(
        20,
        AfterRst {
            sender_beyond: Some(packet(25, 20)),
            ..AfterRst::default()
        },
    );
    silent(sender_alive_after_rst, &view(&r));
}

#[test]
fn rst_after_close_only_when_the_receiver_sent_nothing_to_answer() {
    let closed = |trigger_frame| RstRecord {
        context: Box::new(RstContext {
            receiver_max_ack: Some(1001),
            sender_max_ack: Some(2001),
            trigger: Some(facts(trigger_frame, -30)),
            sender_last: Some(facts(17, -35)),
            ..context()
        }),
        ..rst()
    };
    let fins = |r| RstView {
        sender_fin: Some((1000, 12)),
        receiver_fin: Some((2000, 14)),
        ..view(r)
    };
    let r = closed(16);
    fires(
        rst_after_close,
        &fins(&r),
        K::RstAfterClose,
        Strength::Medium,
    );
    // The receiver's packet came after the sender's last: the RST answers it.
    let r = closed(19);
    silent(rst_after_close, &fins(&r));
    // Only one end had closed.
    let r = closed(16);
    silent(
        rst_after_close,
        &RstView {
            receiver_fin: None,
            ..fins(&r)
        },
    );
}

#[test]
fn rst_burst_rising_seq_but_not_retransmissions() {
    let one = |frame: u64, ms: i64, offset: i64| RstRecord {
        frame,
        ts: at(ms),
        seq: CLIENT_BASE.wrapping_add(offset as u32),
        offset: Some(offset),
        ..rst()
    };
    let burst = [one(20, 0, 1000), one(21, 1, 3920), one(22, 2, 6840)];
    let v = RstView {
        rsts: &burst,
        ..view(&burst[0])
    };
    let e = fires(
        rst_burst_rising_seq,
        &v,
        K::RstBurstRisingSeq,
        Strength::Strong,
    );
    assert!(e.text.starts_with("3 RSTs from the client"), "{}", e.text);
    // The same RST three times.
    let again = [one(20, 0, 1000), one(21, 200, 1000), one(22, 600, 1000)];
    let v = RstView {
        rsts: &again,
        ..view(&again[0])
    };
    silent(rst_burst_rising_seq, &v);
    // Rising, but more than 2 s apart.
    let apart = [one(20, 0, 1000), one(21, 2500, 3920)];
    let v = RstView {
        rsts: &apart,
        ..view(&apart[0])
    };
    silent(rst_burst_rising_seq, &v);
}

#[test]
fn ack_of_unsent_data_is_strong_only_at_the_receiver() {
    let r = RstRecord {
        context: Box::new(RstContext {
            ack_offset: Some(2500),
            ..context()
        }),
        ..rst()
    };
    fires(
        ack_of_unsent_data,
        &view(&r),
        K::AckOfUnsentData,
        Strength::Strong,
    );
    let middle = RstView {
        vantage: Vantage::Middle,
        ..view(&r)
    };
    let e = fires(
        ack_of_unsent_data,
        &middle,
        K::AckOfUnsentData,
        Strength::Medium,
    );
    assert!(
        e.text.ends_with("unless the capture lost them"),
        "{}",
        e.text
    );
    // Acknowledging the receiver's FIN is acknowledging one more than its bytes.
    let r = RstRecord {
        context: Box::new(RstContext {
            ack_offset: Some(2001),
            receiver_fin: true,
            ..context()
        }),
        ..rst()
    };
    silent(ack_of_unsent_data, &view(&r));
    silent(ack_of_unsent_data, &view(&rst()));
}

#[test]
fn rule_ack_moved_backwards() {
    let r = RstRecord {
        context: Box::new(RstContext {
            ack_offset: Some(1500),
            ..context()
        }),
        ..rst()
    };
    fires(
        ack_moved_backwards,
        &view(&r),
        K::AckMovedBackwards,
        Strength::Medium,
    );
    silent(ack_moved_backwards, &view(&rst()));
}

#[test]
fn refusal_is_the_servers_only_answer_to_a_syn() {
    let r = RstRecord {
        from: Side::Server,
        context: Box::new(RstContext {
            receiver_end: 0,
            ack_offset: Some(0),
            trigger: Some(PacketFacts {
                flags: F(F::SYN),
                ack: None,
                ..facts(1, -1)
            }),
            ..context()
        }),
        ..rst()
    };
    let v = RstView {
        vantage: Vantage::Client,
        server_sent_only_rsts: true,
        ..view(&r)
    };
    fires(refusal, &v, K::Refusal, Strength::ForEndpoint);
    // The server had sent a SYN-ACK before: no refusal.
    silent(
        refusal,
        &RstView {
            server_sent_only_rsts: false,
            ..v
        },
    );
}

#[test]
fn rule_seq_behind_sent() {
    let r = RstRecord {
        offset: Some(500),
        ..rst()
    };
    fires(
        seq_behind_sent,
        &view(&r),
        K::SeqBehindSent,
        Strength::Medium,
    );
    silent(seq_behind_sent, &view(&rst()));
    // Without ACK a RST may carry an older number (a reply): not this rule's.
    let r = bare(RstRecord {
        offset: Some(500),
        ..rst()
    });
    silent(seq_behind_sent, &view(&r));
}

#[test]
fn seq_exact_next_or_a_reply() {
    let e = fires(seq_exact, &view(&rst()), K::SeqExact, Strength::ForEndpoint);
    assert!(
        e.text.contains("exactly the client's next one"),
        "{}",
        e.text
    );
    let reply = bare(RstRecord {
        seq: CLIENT_BASE + 900,
        offset: Some(900),
        ..rst()
    });
    let e = fires(seq_exact, &view(&reply), K::SeqExact, Strength::ForEndpoint);
    assert!(e.text.contains("a reply"), "{}", e.text);
    let r = RstRecord {
        offset: Some(1200),
        seq: CLIENT_BASE + 1200,
        ..rst()
    };
    silent(seq_exact, &view(&r));
}

#[test]
fn rule_seq_not_reply() {
    let r = bare(RstRecord {
        seq: CLIENT_BASE + 1200,
        offset: Some(1200),
        ..rst()
    });
    fires(seq_not_reply, &view(&r), K::SeqNotReply, Strength::Medium);
    // It copies one of the receiver's acknowledgments.
    let r = bare(RstRecord {
        seq: CLIENT_BASE + 900,
        offset: Some(900),
        ..rst()
    });
    silent(seq_not_reply, &view(&r));
    // A RST+ACK is not a reply.
    let r = RstRecord {
        seq: CLIENT_BASE + 1200,
        offset: Some(1200),
        ..rst()
    };
    silent(seq_not_reply, &view(&r));
}

#[test]
fn rule_seq_out_of_window() {
    let off = |o: i64| RstRecord {
        seq: CLIENT_BASE.wrapping_add(o as u32),
        offset: Some(o),
        ..rst()
    };
    let r = off(1000 + 70_000);
    fires(
        seq_out_of_window,
        &view(&r),
        K::SeqOutOfWindow,
        Strength::Medium,
    );
    let r = off(1000 + 60_000);
    silent(seq_out_of_window, &view(&r));
}

#[test]
fn rule_connection_continues() {
    let r = RstRecord {
        after: AfterRst {
            receiver_beyond: Some(packet(26, 15)),
            ..AfterRst::default()
        },
        ..rst()
    };
    fires(
        connection_continues,
        &view(&r),
        K::ConnectionContinues,
        Strength::Medium,
    );
    silent(connection_continues, &view(&rst()));
}

#[test]
fn challenge_ack_only_at_the_receiver_and_for_an_inexact_rst() {
    let inexact = |after| RstRecord {
        seq: CLIENT_BASE + 1100,
        offset: Some(1100),
        after,
        ..rst()
    };
    let answered = AfterRst {
        receiver_first: Some(facts(21, 1)),
        ..AfterRst::default()
    };
    let r = inexact(answered);
    fires(challenge_ack, &view(&r), K::ChallengeAck, Strength::Medium);
    // From the middle, the receiver's ACK may have been on its way already.
    silent(
        challenge_ack,
        &RstView {
            vantage: Vantage::Middle,
            ..view(&r)
        },
    );
    // An exact RST draws no challenge.
    let r = RstRecord {
        after: answered,
        ..rst()
    };
    silent(challenge_ack, &view(&r));
    // The receiver's first answer carried data.
    let r = inexact(AfterRst {
        receiver_first: Some(PacketFacts {
            payload_len: 100,
            ..facts(21, 1)
        }),
        ..AfterRst::default()
    });
    silent(challenge_ack, &view(&r));
}

#[test]
fn ttl_rule_at_the_servers_vantage() {
    let ttl = |t| RstRecord { ttl: t, ..rst() };
    fires(
        ttl_rule,
        &view(&rst()),
        K::TtlConsistent,
        Strength::ForEndpoint,
    );
    // An injector at the server's side of the path: TTL 64 where the client's arrive with 50.
    fires(ttl_rule, &view(&ttl(64)), K::TtlAbovePath, Strength::Strong);
    // A little more left, not at an initial value: a shorter route could explain it.
    fires(ttl_rule, &view(&ttl(52)), K::TtlAbovePath, Strength::Medium);
    fires(ttl_rule, &view(&ttl(47)), K::TtlDeparture, Strength::Medium);
    fires(
        ttl_rule,
        &view(&ttl(49)),
        K::TtlConsistent,
        Strength::ForEndpoint,
    );
    fires(
        ttl_rule,
        &view(&ttl(180)),
        K::TtlOtherStack,
        Strength::Strong,
    );
    fires(ttl_rule, &view(&ttl(51)), K::TtlAbovePath, Strength::Medium);
    // A packet of the client seen with TTL 51 before: 51 is within the path.
    let r = ttl(51);
    let v = RstView {
        sender_ttl_max: 51,
        ..view(&r)
    };
    fires(ttl_rule, &v, K::TtlConsistent, Strength::ForEndpoint);
    let few = RstRecord {
        ttl: 64,
        context: Box::new(RstContext {
            sender_ttl: Some((50, 1, 1)),
            ..context()
        }),
        ..rst()
    };
    fires(ttl_rule, &view(&few), K::NoBaseline, Strength::Info);
}

#[test]
fn rule_ip_id_rule() {
    let id = |i| RstRecord {
        ip_id: Some(i),
        ..rst()
    };
    fires(
        ip_id_rule,
        &view(&rst()),
        K::IpIdInSequence,
        Strength::ForEndpoint,
    );
    fires(ip_id_rule, &view(&id(40_000)), K::IpIdBreak, Strength::Weak);
    // Linux's reply resets carry ID 0.
    silent(ip_id_rule, &view(&id(0)));
    // A sender without a run of rising IDs.
    let r = RstRecord {
        ip_id: Some(40_000),
        context: Box::new(RstContext {
            sender_ip_id: Some((110, 1)),
            ..context()
        }),
        ..rst()
    };
    silent(ip_id_rule, &view(&r));
}

#[test]
fn faster_than_rtt_only_for_an_answer_to_something_new() {
    // The server sent 100 new bytes at -1 ms; a RST+ACK acknowledging exactly them 1 ms
    // later, where a round trip takes 40.
    let trigger = |new_bytes| PacketFacts {
        seq: SERVER_BASE + 1900,
        payload_len: 100,
        new_bytes,
        ..facts(19, -1)
    };
    let quick = |new_bytes| RstRecord {
        context: Box::new(RstContext {
            trigger: Some(trigger(new_bytes)),
            ..context()
        }),
        ..rst()
    };
    let r = quick(100);
    fires(
        faster_than_rtt,
        &view(&r),
        K::FasterThanRtt,
        Strength::Strong,
    );
    // A retransmission carries nothing new: the RST may be crossing it.
    let r = quick(0);
    silent(faster_than_rtt, &view(&r));
    // After half the round trip.
    let r = RstRecord {
        ts: at(25),
        ..quick(100)
    };
    silent(faster_than_rtt, &view(&r));
    // Not at the receiver.
    let r = quick(100);
    silent(
        faster_than_rtt,
        &RstView {
            vantage: Vantage::Middle,
            ..view(&r)
        },
    );
}

#[test]
fn rst_both_directions_from_the_middle() {
    let other = |ms| RstRecord {
        frame: 21,
        ts: at(ms),
        from: Side::Server,
        ..rst()
    };
    let pair = [rst(), other(4)];
    let v = RstView {
        vantage: Vantage::Middle,
        rsts: &pair,
        ..view(&pair[0])
    };
    fires(
        rst_both_directions,
        &v,
        K::RstBothDirections,
        Strength::Medium,
    );
    silent(
        rst_both_directions,
        &RstView {
            vantage: Vantage::Server,
            ..v
        },
    );
    let apart = [rst(), other(40)];
    silent(rst_both_directions, &RstView { rsts: &apart, ..v });
}

#[test]
fn bt_timing_and_control_flows() {
    let r = rst();
    let bt = |bitfield, ms: i64| RstView {
        bt: Some(BtExchange {
            bitfield,
            gap_ns: ms * MS,
        }),
        ..view(&r)
    };
    fires(
        bt_timing,
        &bt(true, 200),
        K::BtAfterBitfield,
        Strength::Context,
    );
    fires(
        bt_timing,
        &bt(false, 200),
        K::BtAfterHandshake,
        Strength::Context,
    );
    silent(bt_timing, &bt(true, 1500));
    let with_control = RstView {
        control_survived: true,
        ..bt(true, 200)
    };
    fires(
        control_flows_survived,
        &with_control,
        K::ControlFlowsSurvived,
        Strength::Context,
    );
    // The control flow alone says nothing about this RST.
    silent(
        control_flows_survived,
        &RstView {
            control_survived: true,
            ..view(&r)
        },
    );
    silent(
        control_flows_survived,
        &RstView {
            control_survived: true,
            ..bt(true, 1500)
        },
    );
}

#[test]
fn rule_repeated_rst() {
    let first = RstRecord {
        frame: 18,
        ts: at(-300),
        ..rst()
    };
    let pair = [first, rst()];
    let v = RstView {
        rsts: &pair,
        ..view(&pair[1])
    };
    let e = fires(repeated_rst, &v, K::RepeatedRst, Strength::Info);
    assert!(e.text.contains("frame 18"), "{}", e.text);
    // The first of them repeats nothing.
    silent(repeated_rst, &RstView { rst: &pair[0], ..v });
}

// ---- DOMAIN.md section 4: the known false positives never make a RST `forged` ----------------

#[test]
fn a_linux_reset_for_a_closed_socket_is_not_forged() {
    // No ACK, seq = the acknowledgment of the segment it answers, window 0, no TCP options,
    // IP ID 0.
    let r = bare(RstRecord {
        seq: CLIENT_BASE + 1000,
        window: 0,
        options: false,
        ip_id: Some(0),
        ..rst()
    });
    let (v, ev) = verdict(&view(&r));
    assert_eq!(v, Verdict::Endpoint, "{ev:?}");
    assert!(!ev.contains(&K::IpIdBreak) && !ev.contains(&K::SeqNotReply));
}

#[test]
fn retransmitted_resets_are_not_a_burst() {
    let again = |frame: u64, ms: i64| RstRecord {
        frame,
        ts: at(ms),
        ..rst()
    };
    let rsts = [again(20, 0), again(21, 200), again(22, 600)];
    for r in &rsts {
        let (v, ev) = verdict(&RstView {
            rsts: &rsts,
            ..view(r)
        });
        assert_ne!(v, Verdict::Forged, "frame {}: {ev:?}", r.frame);
        assert!(!ev.contains(&K::RstBurstRisingSeq));
    }
}

#[test]
fn bytes_the_capture_lost_are_not_proof() {
    // From the middle, a RST acknowledging bytes the capture never saw: capture loss can
    // explain it.
    let r = RstRecord {
        context: Box::new(RstContext {
            ack_offset: Some(2600),
            ..context()
        }),
        ..rst()
    };
    let (v, ev) = verdict(&RstView {
        vantage: Vantage::Middle,
        ..view(&r)
    });
    assert_eq!(v, Verdict::Inconclusive, "{ev:?}");
}

#[test]
fn a_load_balancer_or_proxy_a_few_hops_nearer_or_farther_is_not_forged() {
    // A proxy or balancer that answers for the server from another box: its TTL a few hops
    // off the server's usual (fewer left, or a little more not at an initial value), its
    // IP IDs its own.
    for ttl in [46, 53] {
        let r = RstRecord {
            ttl,
            ip_id: Some(30_000),
            ..rst()
        };
        let (v, ev) = verdict(&view(&r));
        assert_ne!(v, Verdict::Forged, "TTL {ttl}: {ev:?}");
    }
}

#[test]
fn an_endpoints_own_reset_repeating_a_forged_ones_sequence_number_is_not_forged() {
    // An injector's RST (TTL 64, frame 18) and then the client's own (TTL 50, same sequence
    // number) answering what arrived after it.
    let forged = RstRecord {
        frame: 18,
        ts: at(-200),
        ttl: 64,
        ip_id: Some(0),
        ..rst()
    };
    let rsts = [forged, rst()];
    let (v, ev) = verdict(&RstView {
        rsts: &rsts,
        ..view(&rsts[1])
    });
    assert_eq!(v, Verdict::Endpoint, "{ev:?}");
    assert!(ev.contains(&K::RepeatedRst));
    // And the injector's is still told by its TTL.
    let (v, _) = verdict(&RstView {
        rsts: &rsts,
        ..view(&rsts[0])
    });
    assert_eq!(v, Verdict::Forged);
}

// ---- the kinds themselves --------------------------------------------------------------------

#[test]
fn every_kind_serializes_as_its_code_and_has_a_strength() {
    let mut codes: Vec<&str> = Vec::new();
    for k in EvidenceKind::ALL {
        assert_eq!(
            serde_json::to_value(k).unwrap(),
            serde_json::Value::from(k.code())
        );
        assert!(!k.strengths().is_empty(), "{k}");
        assert!(!codes.contains(&k.code()), "{k} twice");
        codes.push(k.code());
    }
    for s in [
        Strength::ForEndpoint,
        Strength::Info,
        Strength::Context,
        Strength::Weak,
        Strength::Medium,
        Strength::Strong,
    ] {
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::Value::from(s.code())
        );
    }
    for v in [Verdict::Forged, Verdict::Endpoint, Verdict::Inconclusive] {
        assert_eq!(
            serde_json::to_value(v).unwrap(),
            serde_json::Value::from(v.code())
        );
    }
}

/// The README's evidence table (`| code | strength | meaning |`) lists exactly the kinds, each
/// with the strengths it can have.
#[test]
fn the_readme_lists_every_kind_with_its_strengths() {
    let readme = include_str!("../../README.md");
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| code | strength | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(!table.is_empty(), "no evidence table in README.md");
    let word = |w: &str| match w {
        "strong" => Some(Strength::Strong),
        "medium" => Some(Strength::Medium),
        "weak" => Some(Strength::Weak),
        "context" => Some(Strength::Context),
        "endpoint" => Some(Strength::ForEndpoint),
        "information" => Some(Strength::Info),
        _ => None,
    };
    let mut listed: Vec<(&str, Vec<Strength>)> = Vec::new();
    for row in &table {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (Some(codes), Some(strength)) = (cells.get(1), cells.get(2)) else {
            panic!("README row {row:?}");
        };
        // "strong at ..., else medium": the strengths in the order named.
        let mut strengths: Vec<Strength> = Vec::new();
        for s in strength
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter_map(word)
        {
            if !strengths.contains(&s) {
                strengths.push(s);
            }
        }
        for code in codes.split(", ") {
            let code = code.trim_matches('`');
            listed.push((code, strengths.clone()));
        }
    }
    for k in EvidenceKind::ALL {
        let row = listed.iter().find(|(c, _)| *c == k.code());
        assert_eq!(
            row.map(|r| r.1.as_slice()),
            Some(k.strengths()),
            "README.md's evidence table for `{k}`"
        );
    }
    for (code, _) in &listed {
        assert!(
            EvidenceKind::ALL.iter().any(|k| k.code() == *code),
            "README.md lists `{code}`, which is no evidence kind"
        );
    }
    assert_eq!(listed.len(), EvidenceKind::ALL.len(), "a code listed twice");
}
