//! The TCP header (RFC 9293) and the options forensics and reassembly use.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt;
use std::net::IpAddr;

use super::{Anomaly, IpMeta, Segment, Skip};
use crate::bytes::{array, be16, be32, u8_at};

/// TCP control bits, including the three reserved bits and AE (formerly NS) as captured.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;
    /// The three bits RFC 9293 reserves, which a correct stack leaves zero.
    pub const RESERVED: u16 = 0xe00;

    #[inline]
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TcpFlags {
    /// Wireshark's order and letters: `[SYN, ACK]` becomes `SA`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u16, char); 8] = [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, 'A'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'C'),
        ];
        for (bit, c) in NAMES {
            if self.has(bit) {
                write!(f, "{c}")?;
            }
        }
        if self.0 & (Self::AE | Self::RESERVED) != 0 {
            write!(f, "+{:03x}", self.0 & (Self::AE | Self::RESERVED))?;
        }
        Ok(())
    }
}

/// TCP options bttrace uses; the rest are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Header longer than 20 bytes (options present, whatever they are).
    pub present: bool,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub sack: bool,
    /// TSval, TSecr.
    pub timestamp: Option<(u32, u32)>,
}

/// Decodes the TCP header at the start of `captured` (the IP payload as captured);
/// `declared` is the IP payload length the IP header gives.
#[inline]
pub(super) fn segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    ip: IpMeta,
    captured: &'a [u8],
    declared: usize,
    mut anomalies: u8,
) -> Result<Segment<'a>, Skip> {
    let h = array::<20>(captured, 0).ok_or(if declared < 20 {
        Skip::TcpBadHeader
    } else {
        Skip::TcpTruncated
    })?;
    let hlen = usize::from(h[12] >> 4) * 4;
    if hlen < 20 || hlen > declared {
        return Err(Skip::TcpBadHeader);
    }
    let mut options = TcpOptions {
        present: hlen > 20,
        ..TcpOptions::default()
    };
    let payload = match captured.get(hlen..) {
        Some(p) => {
            if !parse_options(captured.get(20..hlen).unwrap_or(&[]), &mut options) {
                anomalies |= Anomaly::TcpOptionsMalformed.bit();
            }
            p
        }
        None => {
            anomalies |= Anomaly::TcpOptionsTruncated.bit();
            &[]
        }
    };
    Ok(Segment {
        src,
        dst,
        sport: u16::from_be_bytes([h[0], h[1]]),
        dport: u16::from_be_bytes([h[2], h[3]]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        flags: TcpFlags((u16::from(h[12] & 0x0f) << 8) | u16::from(h[13])),
        window: u16::from_be_bytes([h[14], h[15]]),
        options,
        ip,
        payload,
        payload_len: (declared - hlen) as u32,
        anomalies,
    })
}

/// Parses the options area; false if an option's length is impossible (the rest is ignored).
fn parse_options(mut b: &[u8], o: &mut TcpOptions) -> bool {
    // What most data segments carry (Linux, BSD, Windows with timestamps on): NOP, NOP,
    // Timestamps (RFC 7323 appendix A's layout). Same result as the loop below, in one step.
    if let [1, 1, 8, 10, a, b, c, d, e, f, g, h] = *b {
        o.timestamp = Some((
            u32::from_be_bytes([a, b, c, d]),
            u32::from_be_bytes([e, f, g, h]),
        ));
        return true;
    }
    loop {
        let Some(kind) = u8_at(b, 0) else { return true };
        match kind {
            0 => return true,
            1 => {
                b = b.get(1..).unwrap_or(&[]);
                continue;
            }
            _ => {}
        }
        let Some(len) = u8_at(b, 1).map(usize::from) else {
            return false;
        };
        let Some(val) = b.get(2..len.max(2)) else {
            return false;
        };
        if len < 2 {
            return false;
        }
        match (kind, len) {
            (2, 4) => o.mss = be16(val, 0),
            (3, 3) => o.window_scale = u8_at(val, 0),
            (4, 2) => o.sack_permitted = true,
            (5, _) => o.sack = true,
            (8, 10) => o.timestamp = be32(val, 0).zip(be32(val, 4)),
            _ => {}
        }
        b = b.get(len..).unwrap_or(&[]);
    }
}
