//! From a captured frame to a TCP segment: link layer, IP, TCP, as a zero-copy view.
//!
//! Layer: [`Frame`] in, [`Segment`] (borrowing the frame's bytes) or a [`Skip`] reason out.
//! Link types: Ethernet (802.1Q/802.1ad/QinQ tags, 802.3 LLC/SNAP, PPPoE sessions, MPLS),
//! Linux cooked SLL and SLL2, raw IP (LINKTYPE_RAW 101 and DLT 12/14, LINKTYPE_IPV4/IPV6),
//! BSD null and OpenBSD loop, PPP, PPI, and Linux NFLOG. IPv4 and IPv6 (extension headers
//! walked). Tunnels (GRE, GTP-U, VXLAN, 6in4) are not opened: their packets count as not TCP.
//!
//! Lengths come from the IP header, never from the frame: Ethernet padding is never payload,
//! and bytes cut by the snaplen are counted in [`Segment::payload_len`] though absent from
//! [`Segment::payload`]. A header that claims more than the packet's recorded wire length is
//! not believed (an [`Anomaly`]); bytes are never invented.
//!
//! Why our own decoder rather than etherparse at run time: we need the exact skip reason for
//! every frame (counted, never silent), lax handling of TCP headers whose options the snaplen
//! cut, the IP facts forensics needs (TTL, IP ID, DF, flow label), and no allocation or
//! copying per packet. The test suite builds packets with etherparse and checks our decoding
//! against its view of the same bytes.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod tcp;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::bytes::{array, be16, be32, u8_at};
use crate::capture::{Frame, LinkType};
pub use tcp::{TcpFlags, TcpOptions};

/// Why a frame carries no TCP segment bttrace can use. Counted per capture, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// The capture's link type is not one bttrace decodes.
    UnsupportedLink,
    /// The frame is shorter than its link-layer header.
    LinkTruncated,
    /// Not IPv4 or IPv6 (ARP, LLDP, spanning tree, ...).
    NotIp,
    /// The IP header is cut short by the snaplen.
    IpTruncated,
    /// An IP header that cannot be right: wrong version, header length below 20 bytes, total
    /// length shorter than the header, an extension chain that overruns.
    IpBadHeader,
    /// An IP fragment; bttrace does not reassemble IP fragments.
    IpFragment,
    /// IP but not TCP (UDP, ICMP, ...), or TCP hidden inside ESP.
    NotTcp,
    /// Fewer than the 20 fixed bytes of the TCP header were captured.
    TcpTruncated,
    /// TCP data offset below 5 words, or a header longer than the IP payload.
    TcpBadHeader,
}

impl Skip {
    pub const ALL: [Skip; 9] = [
        Skip::UnsupportedLink,
        Skip::LinkTruncated,
        Skip::NotIp,
        Skip::IpTruncated,
        Skip::IpBadHeader,
        Skip::IpFragment,
        Skip::NotTcp,
        Skip::TcpTruncated,
        Skip::TcpBadHeader,
    ];

    /// Stable short code used in JSON and CSV.
    pub fn code(self) -> &'static str {
        match self {
            Skip::UnsupportedLink => "unsupported_link",
            Skip::LinkTruncated => "link_truncated",
            Skip::NotIp => "not_ip",
            Skip::IpTruncated => "ip_truncated",
            Skip::IpBadHeader => "ip_bad_header",
            Skip::IpFragment => "ip_fragment",
            Skip::NotTcp => "not_tcp",
            Skip::TcpTruncated => "tcp_truncated",
            Skip::TcpBadHeader => "tcp_bad_header",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Skip::UnsupportedLink => "link type not decoded",
            Skip::LinkTruncated => "frame shorter than its link header",
            Skip::NotIp => "not IP",
            Skip::IpTruncated => "IP header cut by the snaplen",
            Skip::IpBadHeader => "malformed IP header",
            Skip::IpFragment => "IP fragment (not reassembled)",
            Skip::NotTcp => "not TCP",
            Skip::TcpTruncated => "TCP header cut by the snaplen",
            Skip::TcpBadHeader => "malformed TCP header",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Oddities in a segment that bttrace still uses. Counted per capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Anomaly {
    /// The IP length field claims more bytes than the packet had on the wire; the wire
    /// length was used instead.
    IpLengthExceedsFrame,
    /// The TCP options were cut by the snaplen (the fixed header is complete).
    TcpOptionsTruncated,
    /// A TCP option with an impossible length; the remaining options were ignored.
    TcpOptionsMalformed,
}

impl Anomaly {
    pub const ALL: [Anomaly; 3] = [
        Anomaly::IpLengthExceedsFrame,
        Anomaly::TcpOptionsTruncated,
        Anomaly::TcpOptionsMalformed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Anomaly::IpLengthExceedsFrame => "ip_length_exceeds_frame",
            Anomaly::TcpOptionsTruncated => "tcp_options_truncated",
            Anomaly::TcpOptionsMalformed => "tcp_options_malformed",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// IP header facts kept for forensics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMeta {
    pub version: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification; `None` for IPv6.
    pub id: Option<u16>,
    /// IPv4 don't-fragment bit.
    pub df: bool,
    /// IPv6 flow label (0 for IPv4).
    pub flow_label: u32,
}

/// A TCP segment as captured: header fields plus the captured part of the payload.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub ip: IpMeta,
    /// The captured payload bytes (a prefix of the payload when the snaplen cut it).
    pub payload: &'a [u8],
    /// The payload length the IP header declares.
    pub payload_len: u32,
    anomalies: u8,
}

impl Segment<'_> {
    /// Payload bytes that were on the wire but are not in the capture.
    pub fn missing_payload(&self) -> u32 {
        self.payload_len - self.payload.len() as u32
    }

    pub fn has(&self, a: Anomaly) -> bool {
        self.anomalies & a.bit() != 0
    }

    pub fn anomalies(&self) -> impl Iterator<Item = Anomaly> + '_ {
        Anomaly::ALL.into_iter().filter(|a| self.has(*a))
    }
}

/// Network-layer protocol announced by the link layer.
#[derive(Clone, Copy)]
enum Net {
    V4,
    V6,
    /// Raw IP: the version nibble decides.
    Sniff,
}

/// Decodes a frame down to its TCP segment.
#[inline]
pub fn decode<'a>(frame: &Frame<'a>) -> Result<Segment<'a>, Skip> {
    let (net, off) = link(frame.link, frame.data)?;
    let ip = frame.data.get(off..).ok_or(Skip::LinkTruncated)?;
    // A frame's wire length is at least what was captured, whoever built the frame.
    let wire_len = (frame.wire_len as usize).max(frame.data.len());
    let ip_wire_len = wire_len.saturating_sub(off);
    let version = u8_at(ip, 0).ok_or(Skip::IpTruncated)? >> 4;
    match (net, version) {
        (Net::V4 | Net::Sniff, 4) => ipv4(ip, ip_wire_len),
        (Net::V6 | Net::Sniff, 6) => ipv6(ip, ip_wire_len),
        (Net::Sniff, _) => Err(Skip::NotIp),
        (Net::V4 | Net::V6, _) => Err(Skip::IpBadHeader),
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const MAX_TAGS: usize = 8;

/// Returns the network protocol and the offset of its header.
fn link(lt: LinkType, d: &[u8]) -> Result<(Net, usize), Skip> {
    match lt {
        LinkType::PPI => {
            // version, flags, header length (LE), then the link type of what follows (LE).
            let len = usize::from(u16::from_le_bytes(
                array::<2>(d, 2).ok_or(Skip::LinkTruncated)?,
            ));
            let inner = LinkType(u32::from_le_bytes(
                array::<4>(d, 4).ok_or(Skip::LinkTruncated)?,
            ));
            if len < 8 || inner == LinkType::PPI {
                return Err(Skip::LinkTruncated);
            }
            let rest = d.get(len..).ok_or(Skip::LinkTruncated)?;
            let (net, off) = link(inner, rest)?;
            Ok((net, len + off))
        }
        LinkType::PPP | LinkType::PPP_HDLC => {
            // Optional HDLC address and control (ff 03), then the PPP protocol number: one
            // byte when compressed (an odd first byte, RFC 1661 section 6.5), else two.
            let off = if array::<2>(d, 0) == Some([0xff, 0x03]) {
                2
            } else {
                0
            };
            let first = u8_at(d, off).ok_or(Skip::LinkTruncated)?;
            let (proto, len) = if first & 1 == 1 {
                (u16::from(first), 1)
            } else {
                (be16(d, off).ok_or(Skip::LinkTruncated)?, 2)
            };
            match proto {
                0x0021 => Ok((Net::V4, off + len)),
                0x0057 => Ok((Net::V6, off + len)),
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::NFLOG => nflog(d),
        LinkType::ETHERNET => {
            let ty = be16(d, 12).ok_or(Skip::LinkTruncated)?;
            if ty <= 1500 {
                // 802.3 length field: only LLC/SNAP carries an EtherType.
                match array::<3>(d, 14) {
                    Some([0xaa, 0xaa, 0x03]) => {
                        let ty = be16(d, 20).ok_or(Skip::LinkTruncated)?;
                        ethertype(ty, d, 22)
                    }
                    _ => Err(Skip::NotIp),
                }
            } else {
                ethertype(ty, d, 14)
            }
        }
        LinkType::LINUX_SLL => {
            let ty = be16(d, 14).ok_or(Skip::LinkTruncated)?;
            ethertype(ty, d, 16)
        }
        LinkType::LINUX_SLL2 => {
            let ty = be16(d, 0).ok_or(Skip::LinkTruncated)?;
            if d.len() < 20 {
                return Err(Skip::LinkTruncated);
            }
            ethertype(ty, d, 20)
        }
        LinkType::NULL | LinkType::LOOP => {
            let raw = array::<4>(d, 0).ok_or(Skip::LinkTruncated)?;
            // NULL stores the family in the capturing host's byte order; LOOP big-endian.
            let family = if lt == LinkType::LOOP || u32::from_le_bytes(raw) > 0xffff {
                u32::from_be_bytes(raw)
            } else {
                u32::from_le_bytes(raw)
            };
            match family {
                2 => Ok((Net::V4, 4)),
                10 | 24 | 28 | 30 => Ok((Net::V6, 4)),
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => Ok((Net::Sniff, 0)),
        LinkType::IPV4 => Ok((Net::V4, 0)),
        LinkType::IPV6 => Ok((Net::V6, 0)),
        _ => Err(Skip::UnsupportedLink),
    }
}

/// NFLOG: a 4-byte header (address family, version, group), then TLVs whose length and type
/// are in the capturing host's byte order (little-endian in practice); type 9 is the packet.
fn nflog(d: &[u8]) -> Result<(Net, usize), Skip> {
    let family = u8_at(d, 0).ok_or(Skip::LinkTruncated)?;
    let mut off = 4;
    for _ in 0..64 {
        let [l0, l1, t0, t1] = array::<4>(d, off).ok_or(Skip::LinkTruncated)?;
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        let ty = u16::from_le_bytes([t0, t1]) & 0x7fff;
        if len < 4 {
            return Err(Skip::LinkTruncated);
        }
        if ty == 9 {
            return match family {
                2 => Ok((Net::V4, off + 4)),
                10 => Ok((Net::V6, off + 4)),
                _ => Ok((Net::Sniff, off + 4)),
            };
        }
        off += (len + 3) & !3;
    }
    Err(Skip::NotIp)
}

fn ethertype(mut ty: u16, d: &[u8], mut off: usize) -> Result<(Net, usize), Skip> {
    for _ in 0..MAX_TAGS {
        match ty {
            ETH_IPV4 => return Ok((Net::V4, off)),
            ETH_IPV6 => return Ok((Net::V6, off)),
            // 802.1Q, 802.1ad, and the pre-standard QinQ tags.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 | 0x9300 => {
                ty = be16(d, off + 2).ok_or(Skip::LinkTruncated)?;
                off += 4;
            }
            ETH_PPPOE_SESSION => {
                // PPPoE header (6 bytes), then the PPP protocol number.
                let ppp = be16(d, off + 6).ok_or(Skip::LinkTruncated)?;
                return match ppp {
                    0x0021 => Ok((Net::V4, off + 8)),
                    0x0057 => Ok((Net::V6, off + 8)),
                    _ => Err(Skip::NotIp),
                };
            }
            ETH_MPLS | ETH_MPLS_MC => {
                // Pop labels to the bottom of the stack; the payload's version nibble decides.
                for _ in 0..MAX_TAGS {
                    let label = be32(d, off).ok_or(Skip::LinkTruncated)?;
                    off += 4;
                    if label & 0x100 != 0 {
                        return Ok((Net::Sniff, off));
                    }
                }
                return Err(Skip::NotIp);
            }
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::NotIp)
}

const PROTO_TCP: u8 = 6;

/// A header that is not all there: cut by the snaplen if the packet was longer on the wire,
/// else the packet itself is too short for it.
fn short(header: usize, ip_wire_len: usize) -> Skip {
    if ip_wire_len >= header {
        Skip::IpTruncated
    } else {
        Skip::IpBadHeader
    }
}

#[inline]
fn ipv4(ip: &[u8], ip_wire_len: usize) -> Result<Segment<'_>, Skip> {
    let h = array::<20>(ip, 0).ok_or(short(20, ip_wire_len))?;
    let [vihl, _tos, l0, l1, i0, i1, f0, f1, ttl, proto, ..] = h;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 {
        return Err(Skip::IpBadHeader);
    }
    if ip.len() < ihl {
        return Err(short(ihl, ip_wire_len));
    }
    let total = usize::from(u16::from_be_bytes([l0, l1]));
    let mut anomalies = 0;
    // Total length 0 is what TCP segmentation offload leaves: the wire length is the truth.
    let declared = if total == 0 {
        ip_wire_len.max(ihl)
    } else if total < ihl {
        return Err(Skip::IpBadHeader);
    } else if total > ip_wire_len {
        anomalies |= Anomaly::IpLengthExceedsFrame.bit();
        ip_wire_len.max(ihl)
    } else {
        total
    };
    let frag = u16::from_be_bytes([f0, f1]);
    if frag & 0x3fff != 0 {
        return Err(Skip::IpFragment);
    }
    if proto != PROTO_TCP {
        return Err(Skip::NotTcp);
    }
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    let meta = IpMeta {
        version: 4,
        ttl,
        id: Some(u16::from_be_bytes([i0, i1])),
        df: frag & 0x4000 != 0,
        flow_label: 0,
    };
    let captured = ip.get(ihl..declared.min(ip.len())).unwrap_or(&[]);
    tcp::segment(src, dst, meta, captured, declared - ihl, anomalies)
}

fn ipv6(ip: &[u8], ip_wire_len: usize) -> Result<Segment<'_>, Skip> {
    let h = array::<40>(ip, 0).ok_or(short(40, ip_wire_len))?;
    let vtcfl = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let mut anomalies = 0;
    // Payload length 0: a jumbogram or an offloaded super-segment; the wire length decides.
    let declared = if plen == 0 {
        ip_wire_len.max(40)
    } else if 40 + plen > ip_wire_len {
        anomalies |= Anomaly::IpLengthExceedsFrame.bit();
        ip_wire_len.max(40)
    } else {
        40 + plen
    };
    let mut next = h[6];
    let mut off = 40;
    // Walk the extension headers (bounded, against hostile chains).
    for _ in 0..16 {
        match next {
            PROTO_TCP => break,
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let len = usize::from(u8_at(ip, off + 1).ok_or(Skip::IpTruncated)?);
                next = u8_at(ip, off).ok_or(Skip::IpTruncated)?;
                off += (len + 1) * 8;
            }
            44 => {
                let frag = be16(ip, off + 2).ok_or(Skip::IpTruncated)?;
                // An atomic fragment (offset 0, no more fragments) is a whole packet.
                if frag & 0xfff9 != 0 {
                    return Err(Skip::IpFragment);
                }
                next = u8_at(ip, off).ok_or(Skip::IpTruncated)?;
                off += 8;
            }
            51 => {
                let len = usize::from(u8_at(ip, off + 1).ok_or(Skip::IpTruncated)?);
                next = u8_at(ip, off).ok_or(Skip::IpTruncated)?;
                off += (len + 2) * 4;
            }
            _ => return Err(Skip::NotTcp),
        }
        if off > declared {
            return Err(Skip::IpBadHeader);
        }
    }
    if next != PROTO_TCP {
        return Err(Skip::IpBadHeader);
    }
    if off > ip.len() {
        return Err(short(off, ip_wire_len));
    }
    let src = IpAddr::V6(Ipv6Addr::from(array::<16>(ip, 8).ok_or(Skip::IpTruncated)?));
    let dst = IpAddr::V6(Ipv6Addr::from(
        array::<16>(ip, 24).ok_or(Skip::IpTruncated)?,
    ));
    let meta = IpMeta {
        version: 6,
        ttl: h[7],
        id: None,
        df: false,
        flow_label: vtcfl & 0x000f_ffff,
    };
    let captured = ip.get(off..declared.min(ip.len())).unwrap_or(&[]);
    tcp::segment(src, dst, meta, captured, declared - off, anomalies)
}

#[cfg(test)]
mod tests;
