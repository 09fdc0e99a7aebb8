//! Packets and captures built in code: for tests, benchmarks, fuzzing seeds and generators.
//!
//! A [`Packet`] is a template with defaults (`..Packet::default()` overrides what a test
//! cares about, as smoltcp's tests do); [`Conv`] plays a whole connection and keeps sequence
//! numbers right; [`pcap`] and [`pcapng`] write the bytes of a capture file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub mod bulk;
pub mod glasnost;
pub mod mlab;

use crate::capture::{Frame, LinkType, Timestamp};
use crate::flows::Side;
use crate::wire::TcpFlags;

/// One TCP/IP packet. The address family of `src` decides IPv4 or IPv6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: u16,
    pub df: bool,
    /// Raw TCP options (padded to 4 bytes when written).
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Default for Packet {
    fn default() -> Packet {
        Packet {
            ts: Timestamp(1_700_000_000_000_000_000),
            src: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)), 40000),
            dst: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)), 6881),
            seq: 1000,
            ack: 0,
            flags: TcpFlags::ACK,
            window: 65535,
            ttl: 64,
            ip_id: 1,
            df: true,
            options: Vec::new(),
            payload: Vec::new(),
        }
    }
}

fn checksum_add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn checksum_finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Packet {
    /// The TCP header and payload, with a correct checksum.
    pub fn tcp_bytes(&self) -> Vec<u8> {
        let mut opts = self.options.clone();
        while opts.len() % 4 != 0 {
            opts.push(0);
        }
        let hlen = 20 + opts.len();
        let mut t = Vec::with_capacity(hlen + self.payload.len());
        t.extend_from_slice(&self.src.port().to_be_bytes());
        t.extend_from_slice(&self.dst.port().to_be_bytes());
        t.extend_from_slice(&self.seq.to_be_bytes());
        t.extend_from_slice(&self.ack.to_be_bytes());
        t.push(((hlen / 4) as u8) << 4 | ((self.flags >> 8) as u8 & 0x0f));
        t.push(self.flags as u8);
        t.extend_from_slice(&self.window.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(&opts);
        t.extend_from_slice(&self.payload);
        let mut sum = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let s = checksum_add(0, &s.octets());
                checksum_add(s, &d.octets())
            }
            (s, d) => {
                let s = checksum_add(0, &to_v6(s).octets());
                checksum_add(s, &to_v6(d).octets())
            }
        };
        sum += 6 + t.len() as u32;
        let c = checksum_finish(checksum_add(sum, &t));
        t[16..18].copy_from_slice(&c.to_be_bytes());
        t
    }

    /// The whole IP packet.
    pub fn ip_bytes(&self) -> Vec<u8> {
        let tcp = self.tcp_bytes();
        match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = (20 + tcp.len()) as u16;
                let mut h = vec![0x45, 0];
                h.extend_from_slice(&total.to_be_bytes());
                h.extend_from_slice(&self.ip_id.to_be_bytes());
                h.extend_from_slice(&(if self.df { 0x4000u16 } else { 0 }).to_be_bytes());
                h.extend_from_slice(&[self.ttl, 6, 0, 0]);
                h.extend_from_slice(&s.octets());
                h.extend_from_slice(&d.octets());
                let c = checksum_finish(checksum_add(0, &h));
                h[10..12].copy_from_slice(&c.to_be_bytes());
                h.extend_from_slice(&tcp);
                h
            }
            (s, d) => {
                let mut h = vec![0x60, 0, 0, 0];
                h.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
                h.extend_from_slice(&[6, self.ttl]);
                h.extend_from_slice(&to_v6(s).octets());
                h.extend_from_slice(&to_v6(d).octets());
                h.extend_from_slice(&tcp);
                h
            }
        }
    }

    /// The packet framed for `link`, as a capture record (cut to `snaplen` bytes if given).
    pub fn record(&self, link: LinkType, snaplen: Option<usize>) -> Record {
        let data = frame(link, &self.ip_bytes());
        let wire_len = data.len() as u32;
        let cut = snaplen.map_or(data.len(), |s| s.min(data.len()));
        Record {
            ts: self.ts,
            data: data[..cut].to_vec(),
            wire_len,
        }
    }
}

fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Wraps an IP packet in a link-layer header.
pub fn frame(link: LinkType, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let mut f = Vec::with_capacity(ip.len() + 20);
    match link {
        LinkType::ETHERNET => {
            f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
            f.extend_from_slice(&ethertype);
        }
        LinkType::LINUX_SLL => {
            f.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            f.extend_from_slice(&ethertype);
        }
        LinkType::LINUX_SLL2 => {
            f.extend_from_slice(&ethertype);
            f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        }
        LinkType::NULL => {
            let af: u32 = if v6 { 30 } else { 2 };
            f.extend_from_slice(&af.to_le_bytes());
        }
        _ => {}
    }
    f.extend_from_slice(ip);
    f
}

/// One record of a capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ts: Timestamp,
    pub data: Vec<u8>,
    pub wire_len: u32,
}

impl Record {
    /// The record as the reader yields it: frame number `index` (1-based), read as `link`,
    /// at offset 0.
    pub fn frame(&self, index: u64, link: LinkType) -> Frame<'_> {
        Frame {
            index,
            ts: self.ts,
            link,
            data: &self.data,
            wire_len: self.wire_len,
            offset: 0,
        }
    }
}

/// Options of a classic pcap file.
#[derive(Debug, Clone, Copy)]
pub struct PcapOpts {
    pub nanos: bool,
    pub big_endian: bool,
    pub snaplen: u32,
}

impl Default for PcapOpts {
    fn default() -> PcapOpts {
        PcapOpts {
            nanos: false,
            big_endian: false,
            snaplen: 262_144,
        }
    }
}

/// The bytes of a classic pcap file.
pub fn pcap(link: LinkType, records: &[Record], o: PcapOpts) -> Vec<u8> {
    let w32 = |v: u32| {
        if o.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if o.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if o.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&w32(o.snaplen));
    out.extend_from_slice(&w32(link.0));
    for r in records {
        let secs = r.ts.0.div_euclid(1_000_000_000);
        let nanos = r.ts.0.rem_euclid(1_000_000_000);
        let frac = if o.nanos { nanos } else { nanos / 1000 };
        out.extend_from_slice(&w32(secs as u32));
        out.extend_from_slice(&w32(frac as u32));
        out.extend_from_slice(&w32(r.data.len() as u32));
        out.extend_from_slice(&w32(r.wire_len));
        out.extend_from_slice(&r.data);
    }
    out
}

/// An interface of a pcapng file: link type and `if_tsresol` byte (6 = microseconds).
#[derive(Debug, Clone, Copy)]
pub struct NgIface {
    pub link: LinkType,
    pub tsresol: u8,
}

/// Appends a little-endian pcapng block of type `btype` around `body`, padded to 4 bytes.
pub fn ng_block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
    let len = (12 + body.len()).div_ceil(4) * 4;
    out.extend_from_slice(&btype.to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + (len - 12 - body.len()), 0);
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

/// The bytes of a little-endian pcapng section: header, interfaces, then packets as
/// `(interface index, record)` in enhanced packet blocks.
pub fn pcapng(ifaces: &[NgIface], packets: &[(u32, Record)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(&mut out, 0x0A0D_0D0A, &shb);
    for i in ifaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&(i.link.0 as u16).to_le_bytes());
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&0u32.to_le_bytes());
        // if_tsresol option, then end of options.
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[i.tsresol, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
        ng_block(&mut out, 1, &idb);
    }
    for (if_id, r) in packets {
        let res = ifaces.get(*if_id as usize).map_or(6, |i| i.tsresol);
        let units: u64 = if res & 0x80 != 0 {
            ((r.ts.0 as u128) << (res & 0x7f)).div_euclid(1_000_000_000) as u64
        } else {
            let k = u32::from(res);
            if k <= 9 {
                (r.ts.0 as u64) / 10u64.pow(9 - k)
            } else {
                (r.ts.0 as u64) * 10u64.pow(k - 9)
            }
        };
        let mut epb = Vec::new();
        epb.extend_from_slice(&if_id.to_le_bytes());
        epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(units as u32).to_le_bytes());
        epb.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&r.wire_len.to_le_bytes());
        epb.extend_from_slice(&r.data);
        while epb.len() % 4 != 0 {
            epb.push(0);
        }
        ng_block(&mut out, 6, &epb);
    }
    out
}

/// A whole connection played packet by packet, with sequence numbers kept right.
#[derive(Debug, Clone)]
pub struct Conv {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next sequence number each side will send.
    pub client_seq: u32,
    pub server_seq: u32,
    pub ts: Timestamp,
    /// Time between consecutive packets.
    pub step_ns: i64,
    pub client_ttl: u8,
    pub server_ttl: u8,
    pub packets: Vec<Packet>,
}

impl Conv {
    pub fn new(client: SocketAddr, server: SocketAddr) -> Conv {
        Conv {
            client,
            server,
            client_seq: 1_000,
            server_seq: 50_000,
            ts: Packet::default().ts,
            step_ns: 1_000_000,
            client_ttl: 64,
            server_ttl: 64,
            packets: Vec::new(),
        }
    }

    /// A packet from `side` with the current sequence and acknowledgment numbers.
    pub fn packet(&self, side: Side, flags: u16, payload: &[u8]) -> Packet {
        let (src, dst, seq, ack, ttl) = match side {
            Side::Client => (
                self.client,
                self.server,
                self.client_seq,
                self.server_seq,
                self.client_ttl,
            ),
            Side::Server => (
                self.server,
                self.client,
                self.server_seq,
                self.client_seq,
                self.server_ttl,
            ),
        };
        Packet {
            ts: self.ts,
            src,
            dst,
            seq,
            ack: if flags & TcpFlags::ACK != 0 { ack } else { 0 },
            flags,
            ttl,
            ip_id: self.packets.len() as u16 + 1,
            payload: payload.to_vec(),
            ..Packet::default()
        }
    }

    /// Appends a packet as is and advances the clock.
    pub fn push(&mut self, p: Packet) -> &mut Conv {
        self.packets.push(p);
        self.ts = Timestamp(self.ts.0 + self.step_ns);
        self
    }

    /// Sends from `side` and advances that side's sequence number.
    pub fn send(&mut self, side: Side, flags: u16, payload: &[u8]) -> &mut Conv {
        let p = self.packet(side, flags, payload);
        let used = payload.len() as u32 + u32::from(flags & (TcpFlags::SYN | TcpFlags::FIN) != 0);
        match side {
            Side::Client => self.client_seq = self.client_seq.wrapping_add(used),
            Side::Server => self.server_seq = self.server_seq.wrapping_add(used),
        }
        self.push(p)
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> &mut Conv {
        self.send(Side::Client, TcpFlags::SYN, &[])
            .send(Side::Server, TcpFlags::SYN | TcpFlags::ACK, &[])
            .send(Side::Client, TcpFlags::ACK, &[])
    }

    /// Data from `side` (PSH+ACK), then the peer's ACK.
    pub fn data(&mut self, side: Side, payload: &[u8]) -> &mut Conv {
        self.send(side, TcpFlags::PSH | TcpFlags::ACK, payload)
            .send(side.peer(), TcpFlags::ACK, &[])
    }

    /// FIN from each side, each acknowledged.
    pub fn close(&mut self) -> &mut Conv {
        self.send(Side::Client, TcpFlags::FIN | TcpFlags::ACK, &[])
            .send(Side::Server, TcpFlags::FIN | TcpFlags::ACK, &[])
            .send(Side::Client, TcpFlags::ACK, &[])
    }

    /// The connection as an Ethernet pcap file.
    pub fn to_pcap(&self) -> Vec<u8> {
        let recs: Vec<Record> = self
            .packets
            .iter()
            .map(|p| p.record(LinkType::ETHERNET, None))
            .collect();
        pcap(LinkType::ETHERNET, &recs, PcapOpts::default())
    }
}

/// BitTorrent peer-wire bytes built in code (BEP 3, 6, 10).
pub mod bt {
    use crate::btparse::{ExtHandshake, Message};

    /// A handshake: pstrlen, protocol string, reserved bytes, info-hash, peer id.
    pub fn handshake(reserved: [u8; 8], info_hash: [u8; 20], peer_id: &[u8; 20]) -> Vec<u8> {
        let mut v = b"\x13BitTorrent protocol".to_vec();
        v.extend_from_slice(&reserved);
        v.extend_from_slice(&info_hash);
        v.extend_from_slice(peer_id);
        v
    }

    fn framed(id: u8, body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 1) as u32).to_be_bytes().to_vec();
        v.push(id);
        v.extend_from_slice(body);
        v
    }

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// The bencoded dictionary of an extended handshake.
    pub fn ext_dict(e: &ExtHandshake) -> Vec<u8> {
        let mut d = b"d".to_vec();
        if !e.messages.is_empty() {
            d.extend_from_slice(b"1:md");
            for (k, v) in &e.messages {
                d.extend_from_slice(format!("{}:{}i{}e", k.len(), k, v).as_bytes());
            }
            d.push(b'e');
        }
        if let Some(m) = e.metadata_size {
            d.extend_from_slice(format!("13:metadata_sizei{m}e").as_bytes());
        }
        if let Some(p) = e.port {
            d.extend_from_slice(format!("1:pi{p}e").as_bytes());
        }
        if let Some(q) = e.reqq {
            d.extend_from_slice(format!("4:reqqi{q}e").as_bytes());
        }
        if let Some(v) = &e.client {
            d.extend_from_slice(format!("1:v{}:{}", v.len(), v).as_bytes());
        }
        d.push(b'e');
        d
    }

    /// A message's bytes; bitfield, piece, extended and unknown bodies are filled with
    /// `fill`. `None` for entries that are not messages (handshakes, framing events).
    pub fn message(m: &Message, fill: u8) -> Option<Vec<u8>> {
        let body = |n: u32| vec![fill; n as usize];
        Some(match m {
            Message::KeepAlive => vec![0, 0, 0, 0],
            Message::Choke => framed(0, &[]),
            Message::Unchoke => framed(1, &[]),
            Message::Interested => framed(2, &[]),
            Message::NotInterested => framed(3, &[]),
            Message::Have { index } => framed(4, &words(&[*index])),
            Message::Bitfield { len } => framed(5, &body(*len)),
            Message::Request {
                index,
                begin,
                length,
            } => framed(6, &words(&[*index, *begin, *length])),
            Message::Piece {
                index,
                begin,
                length,
            } => {
                let mut b = words(&[*index, *begin]);
                b.extend(body(*length));
                framed(7, &b)
            }
            Message::Cancel {
                index,
                begin,
                length,
            } => framed(8, &words(&[*index, *begin, *length])),
            Message::Port { port } => framed(9, &port.to_be_bytes()),
            Message::Suggest { index } => framed(13, &words(&[*index])),
            Message::HaveAll => framed(14, &[]),
            Message::HaveNone => framed(15, &[]),
            Message::Reject {
                index,
                begin,
                length,
            } => framed(16, &words(&[*index, *begin, *length])),
            Message::AllowedFast { index } => framed(17, &words(&[*index])),
            Message::ExtendedHandshake(Some(e)) => {
                let mut b = vec![0];
                b.extend(ext_dict(e));
                framed(20, &b)
            }
            Message::ExtendedHandshake(None) => framed(20, &[0]),
            Message::Extended { sub_id, len } => {
                let mut b = vec![*sub_id];
                b.extend(body(len.saturating_sub(2)));
                framed(20, &b)
            }
            Message::Unknown { id, len } => framed(*id, &body(len.saturating_sub(1))),
            Message::Handshake(_)
            | Message::Cut { .. }
            | Message::FramingLost(_)
            | Message::Resync { .. } => {
                return None;
            }
        })
    }
}
