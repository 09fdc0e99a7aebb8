//! What reset forensics needs, recorded as packets pass: each sender's header habits, the
//! state of the connection when a RST arrived, and what both ends did afterwards.
//!
//! Habits come only from a sender's non-RST packets, so a RST never becomes its own baseline.
//! Everything here is small and fixed-size per direction; per RST a context snapshot and
//! counters, bounded by the flow's RST record limit.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::reasm::PacketRef;
use super::seq::SeqNum;
use crate::capture::Timestamp;
use crate::wire::{Segment, TcpFlags};

/// The header facts of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketFacts {
    pub frame: u64,
    pub ts: Timestamp,
    pub seq: u32,
    /// The acknowledgment number, when the ACK bit is set.
    pub ack: Option<u32>,
    pub flags: TcpFlags,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub window: u16,
    pub payload_len: u32,
    /// Stream bytes this packet carried for the first time.
    pub new_bytes: u64,
    /// Its acknowledgment number was higher than any its sender had sent before.
    pub ack_advanced: bool,
}

impl PacketFacts {
    #[inline]
    pub fn of(seg: &Segment<'_>, at: PacketRef) -> PacketFacts {
        PacketFacts {
            frame: at.frame,
            ts: at.ts,
            seq: seg.seq,
            ack: seg.flags.ack().then_some(seg.ack),
            flags: seg.flags,
            ttl: seg.ip.ttl,
            ip_id: seg.ip.id,
            window: seg.window,
            payload_len: seg.payload_len,
            new_bytes: 0,
            ack_advanced: false,
        }
    }
}

/// Distinct TTL values counted per sender.
const TTL_VALUES: usize = 4;
/// An IPv4 ID step counted as "the next ID" of a sender that numbers its packets in order.
const MAX_ID_STEP: u16 = 1024;

/// A sender's recent habits, from its non-RST packets.
#[derive(Debug, Clone, Default)]
pub struct Habits {
    /// Distinct TTLs and how many packets carried each (the rarest is replaced when full).
    ttls: [(u8, u32); TTL_VALUES],
    n_ttl: u32,
    last_ip_id: Option<u16>,
    /// Consecutive packets whose IP ID rose by a small step.
    ip_id_run: u16,
    /// Highest acknowledgment number sent.
    pub max_ack: Option<SeqNum>,
    /// The last few acknowledgment numbers sent (a reply-shaped RST takes its sequence number
    /// from one of them).
    recent_acks: [Option<u32>; 4],
    n_acks: usize,
    /// The last packet sent.
    pub last: Option<PacketFacts>,
}

impl Habits {
    #[inline]
    pub fn observe(&mut self, mut p: PacketFacts) {
        p.ack_advanced = p
            .ack
            .is_some_and(|a| self.max_ack.is_none_or(|m| SeqNum(a).is_after(m)));
        self.n_ttl += 1;
        if let Some(slot) = self.ttls.iter_mut().find(|(t, n)| *t == p.ttl && *n > 0) {
            slot.1 += 1;
        } else if let Some(slot) = self.ttls.iter_mut().min_by_key(|(_, n)| *n) {
            *slot = (p.ttl, 1);
        }
        if let Some(id) = p.ip_id {
            match self.last_ip_id {
                Some(last) if (1..=MAX_ID_STEP).contains(&id.wrapping_sub(last)) => {
                    self.ip_id_run = self.ip_id_run.saturating_add(1);
                }
                // A repeated ID is a retransmission or a duplicate capture: no step either way.
                Some(last) if last == id => {}
                _ => self.ip_id_run = 0,
            }
            self.last_ip_id = Some(id);
        }
        if let Some(a) = p.ack {
            if let Some(slot) = self.recent_acks.get_mut(self.n_acks % 4) {
                *slot = Some(a);
            }
            self.n_acks += 1;
            let a = SeqNum(a);
            if self.max_ack.is_none_or(|m| a.is_after(m)) {
                self.max_ack = Some(a);
            }
        }
        self.last = Some(p);
    }

    /// The sender's usual TTL: the most common one, how many packets carried it, and how
    /// many packets it sent in all. Forged packets in its name (an injected data packet) stay
    /// a minority and do not move it.
    pub fn ttl_mode(&self) -> Option<(u8, u32, u32)> {
        let (ttl, n) = *self
            .ttls
            .iter()
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(t, n)| (*n, *t))?;
        Some((ttl, n, self.n_ttl))
    }

    pub fn recent_acks(&self) -> impl Iterator<Item = u32> + '_ {
        self.recent_acks.iter().flatten().copied()
    }

    /// The last IP ID and how many packets in a row rose by a small step before it.
    pub fn ip_id_run(&self) -> Option<(u16, u16)> {
        Some((self.last_ip_id?, self.ip_id_run))
    }
}

/// The connection as it stood when a RST was captured. Offsets are stream offsets (0 = the
/// first byte after the SYN) in the named side's stream.
#[derive(Debug, Clone, Default)]
pub struct RstContext {
    /// The sender's usual TTL, packets that carried it, packets it had sent.
    pub sender_ttl: Option<(u8, u32, u32)>,
    /// The sender's last IP ID and its run of small steps.
    pub sender_ip_id: Option<(u16, u16)>,
    /// Highest offset the sender had sent, and whether it had sent a FIN.
    pub sender_end: u64,
    pub sender_fin: bool,
    /// The highest acknowledgment the sender had sent, as an offset in the receiver's stream,
    /// and as a sequence number.
    pub sender_max_ack: Option<i64>,
    pub sender_max_ack_seq: Option<SeqNum>,
    /// The highest acknowledgment the receiver had sent, as an offset in the sender's stream.
    pub receiver_max_ack: Option<i64>,
    /// Highest offset the receiver had sent, and whether it had sent a FIN.
    pub receiver_end: u64,
    pub receiver_fin: bool,
    /// The receiver's last advertised window, scaled where both sides agreed a scale.
    pub receiver_window: Option<u64>,
    /// The receiver's last packet before the RST: what a genuine RST would be answering.
    pub trigger: Option<PacketFacts>,
    /// The sender's last packet before the RST.
    pub sender_last: Option<PacketFacts>,
    /// The receiver's last few acknowledgment numbers.
    pub receiver_acks: Vec<u32>,
    /// The RST's acknowledgment as an offset in the receiver's stream.
    pub ack_offset: Option<i64>,
    /// Unique payload bytes each side had sent.
    pub sender_bytes: u64,
    pub receiver_bytes: u64,
}

/// What both ends did after a RST (within [`AFTER_HORIZON_NS`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AfterRst {
    /// Non-RST packets from the RST's claimed sender.
    pub sender_packets: u32,
    /// The first of them that is not a copy of the sender's last packet before the RST (a
    /// capture that saw a packet twice): what its stack sent after its "reset".
    pub sender_first: Option<PacketFacts>,
    /// The first of them carrying bytes beyond anything the sender had sent before the RST
    /// and beyond the RST's own sequence number: data its stack sent after resetting.
    pub sender_beyond: Option<PacketRef>,
    /// A SYN (or SYN-ACK) from the claimed sender after its RST.
    pub sender_syn: Option<PacketRef>,
    /// The first packet from the claimed sender acknowledging more than it had acknowledged
    /// before its RST: its stack was still receiving.
    pub sender_ack_progress: Option<PacketRef>,
    /// Non-RST packets from the receiver.
    pub receiver_packets: u32,
    /// The receiver's first packet after the RST.
    pub receiver_first: Option<PacketFacts>,
    /// The first of the receiver's packets carrying bytes beyond what it had sent before.
    pub receiver_beyond: Option<PacketRef>,
}

/// How long after a RST packets are watched.
pub const AFTER_HORIZON_NS: i64 = 10_000_000_000;
