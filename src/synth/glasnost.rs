//! A whole Glasnost test (2010+ replayer form) built in code: command channel, then every
//! transfer of the schedule, each with what a middlebox did to it. Tests, the batch benchmark
//! and `examples/glasnost_week.rs` use it.

use std::net::IpAddr;

use crate::btparse::Message;
use crate::capture::{LinkType, Timestamp};
use crate::flows::Side;
use crate::glasnost::verdict::{Dir, PortClass, Proto};
use crate::synth::{Conv, Packet, PcapOpts, bt, pcap};
use crate::wire::TcpFlags as F;

const MS: i64 = 1_000_000;

/// What a middlebox does to one transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Normal,
    /// Sent at a fifth of the pace.
    Throttled,
    /// A forged RST, claiming to come from the client, right after the bitfield exchange.
    Reset,
    /// The client's SYNs go unanswered (the port is blocked).
    NoConnection,
}

/// The shape of a test: who, when, how long, how fast.
#[derive(Debug, Clone)]
pub struct Plan {
    pub client: IpAddr,
    pub server: IpAddr,
    /// The command channel's SYN.
    pub start: Timestamp,
    /// The neutral port (the kernel chose it in the real replayer).
    pub neutral_port: u16,
    pub repetitions: u32,
    /// How long the seeder sends, and the time from one transfer's start to the next.
    pub transfer_ms: i64,
    pub spacing_ms: i64,
    /// Time between 1000-byte data segments when nothing slows them (5 ms: 1.6 Mbit/s).
    pub pace_us: i64,
    /// Whether the command channel is in the capture.
    pub with_commands: bool,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            client: "198.51.100.9".parse().expect("an address"),
            server: "203.0.113.1".parse().expect("an address"),
            start: Packet::default().ts,
            neutral_port: 50_000,
            repetitions: 3,
            transfer_ms: 2_500,
            spacing_ms: 3_000,
            pace_us: 5_000,
            with_commands: true,
        }
    }
}

/// Bytes that look random (xorshift), as Glasnost's control flows carry.
pub fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 16) as u8
        })
        .collect()
}

/// One transfer: the set-up exchange (68, 166, 5 bytes, as the emulation), then data for
/// `plan.transfer_ms` in 1000-byte segments, then FIN; or what `fate` left of it.
#[allow(clippy::too_many_arguments)]
pub fn transfer(
    plan: &Plan,
    start: Timestamp,
    port: u16,
    cport: u16,
    proto: Proto,
    dir: Dir,
    fate: Fate,
    seed: u64,
) -> Vec<Packet> {
    let mut c = Conv::new(
        std::net::SocketAddr::new(plan.client, cport),
        std::net::SocketAddr::new(plan.server, port),
    );
    c.client_ttl = 50;
    c.ts = start;
    if fate == Fate::NoConnection {
        c.step_ns = 1_000 * MS;
        for _ in 0..3 {
            let syn = c.packet(Side::Client, F::SYN, &[]);
            c.push(syn);
        }
        return c.packets;
    }
    c.step_ns = 20 * MS;
    c.handshake();
    c.step_ns = MS;
    let (seeder, leecher) = match dir {
        Dir::Upload => (Side::Client, Side::Server),
        Dir::Download => (Side::Server, Side::Client),
    };
    let bytes = |real: Vec<u8>, n: u64| {
        if proto == Proto::Bt {
            real
        } else {
            random(real.len(), seed * 31 + n)
        }
    };
    let hs = bt::handshake([0; 8], [7; 20], b"-GN0100-abcdefghijkl");
    c.data(leecher, &bytes(hs.clone(), 1))
        .data(seeder, &bytes(hs, 2));
    let bf = |fill| bt::message(&Message::Bitfield { len: 161 }, fill).unwrap_or_default();
    c.data(leecher, &bytes(bf(0x00), 3))
        .data(seeder, &bytes(bf(0xff), 4));
    if fate == Fate::Reset {
        c.step_ns = 3 * MS;
        let mut rst = c.packet(Side::Client, F::RST | F::ACK, &[]);
        rst.ttl = 200;
        c.push(rst);
        return c.packets;
    }
    let msg = |m: &Message| bt::message(m, 0).unwrap_or_default();
    c.data(leecher, &bytes(msg(&Message::Interested), 5))
        .data(seeder, &bytes(msg(&Message::Unchoke), 6));
    let request = msg(&Message::Request {
        index: 0,
        begin: 0,
        length: 1 << 20,
    });
    c.send(leecher, F::ACK | F::PSH, &bytes(request, 7));
    c.step_ns = plan.pace_us * 1_000 * if fate == Fate::Throttled { 5 } else { 1 };
    let mut header = msg(&Message::Piece {
        index: 0,
        begin: 0,
        length: 0,
    });
    if let Some(len) = header.get_mut(..4) {
        len.copy_from_slice(&(9u32 + (1 << 20)).to_be_bytes());
    }
    let mut first = true;
    let end = start.0 + plan.transfer_ms * MS;
    while c.ts.0 < end {
        let mut seg = if first { header.clone() } else { Vec::new() };
        first = false;
        seg.resize(1000, 0x5a);
        let seg = if proto == Proto::Bt {
            seg
        } else {
            random(1000, seed ^ c.ts.0 as u64)
        };
        c.send(seeder, F::ACK, &seg);
        if c.packets.len() % 4 == 0 {
            // The leecher's ACK at the same moment: the data keeps its pace.
            let ack = c.packet(leecher, F::ACK, &[]);
            c.packets.push(ack);
        }
    }
    c.step_ns = MS;
    c.close();
    c.packets
}

/// A 2010+ test: command channel, then uploads and downloads, each the BitTorrent port first,
/// on each port the BitTorrent flow then its control twin, `plan.repetitions` times. `fates`
/// says what happened to each transfer (kind, user's direction, port, repetition from 0).
pub fn test(plan: &Plan, fates: impl Fn(Proto, Dir, PortClass, u32) -> Fate) -> Vec<Packet> {
    let mut cmd = Conv::new(
        std::net::SocketAddr::new(plan.client, 45000),
        std::net::SocketAddr::new(plan.server, 19970),
    );
    cmd.client_ttl = 50;
    cmd.ts = plan.start;
    cmd.handshake();
    let mut packets = Vec::new();
    let mut t = Timestamp(cmd.ts.0 + 100 * MS);
    let mut seed = 1;
    let mut cport = 46000;
    let secs = (plan.transfer_ms as f64 / 1000.0).round().max(1.0);
    for dir in [Dir::Upload, Dir::Download] {
        for (class, port) in [
            (PortClass::App, 6881),
            (PortClass::Other, plan.neutral_port),
        ] {
            for rep in 0..plan.repetitions {
                for proto in [Proto::Bt, Proto::Tcp] {
                    let side = if dir == Dir::Upload {
                        "client"
                    } else {
                        "server"
                    };
                    let control = if proto == Proto::Tcp {
                        " as a control flow"
                    } else {
                        ""
                    };
                    let line = format!(
                        "replay bt as {side} on port {port} for {secs} seconds{control}.\n"
                    );
                    cmd.ts = Timestamp(t.0 - 50 * MS);
                    if plan.with_commands {
                        cmd.data(Side::Client, line.as_bytes());
                        cmd.data(Side::Server, format!("port {port} ok\n").as_bytes());
                    }
                    packets.extend(transfer(
                        plan,
                        t,
                        port,
                        cport,
                        proto,
                        dir,
                        fates(proto, dir, class, rep),
                        seed,
                    ));
                    seed += 1;
                    cport += 1;
                    t = Timestamp(t.0 + plan.spacing_ms * MS);
                }
            }
        }
    }
    packets.extend(cmd.packets);
    packets
}

/// Packets as a raw-IP pcap in time order; `payload_cut` keeps at most that many payload
/// bytes of each packet, as Glasnost's servers did (200).
pub fn capture(packets: &[Packet], payload_cut: Option<usize>) -> Vec<u8> {
    let mut recs: Vec<_> = packets
        .iter()
        .map(|p| {
            let headers = p.ip_bytes().len() - p.payload.len();
            p.record(LinkType::RAW, payload_cut.map(|n| headers + n))
        })
        .collect();
    recs.sort_by_key(|r| r.ts);
    pcap(LinkType::RAW, &recs, PcapOpts::default())
}

/// An ISP of the synthetic week: its clients' prefix and what its middlebox does.
#[derive(Debug, Clone, Copy)]
pub struct IspProfile {
    pub name: &'static str,
    /// Clients are `<prefix>.<first_host + n>`, inside `prefix_len`.
    pub prefix: [u8; 3],
    pub first_host: u8,
    pub prefix_len: u8,
    /// What happens to each transfer (kind, direction, port class, repetition from 0).
    pub fates: fn(Proto, Dir, PortClass, u32) -> Fate,
    /// The summary row the study would give, in `SUMMARY_CELLS` order.
    pub expected: [&'static str; 6],
}

/// Three ISPs as the study found them: one that leaves BitTorrent alone (HGC), one that
/// throttles it in both directions on every port (PCCW), one that blocks port 6881 whatever
/// the payload (HK Broadband).
pub const WEEK_ISPS: [IspProfile; 3] = [
    IspProfile {
        name: "Open Net",
        prefix: [198, 51, 100],
        first_host: 10,
        prefix_len: 26,
        fates: |_, _, _, _| Fate::Normal,
        expected: ["no", "no", "no", "no", "no", "no"],
    },
    IspProfile {
        name: "Slow Net",
        prefix: [198, 51, 100],
        first_host: 70,
        prefix_len: 26,
        fates: |proto, _, _, _| {
            if proto == Proto::Bt {
                Fate::Throttled
            } else {
                Fate::Normal
            }
        },
        expected: ["no", "no", "yes", "yes", "yes", "yes"],
    },
    IspProfile {
        name: "Block Net",
        prefix: [198, 51, 100],
        first_host: 130,
        prefix_len: 26,
        fates: |_, _, class, _| {
            if class == PortClass::App {
                Fate::NoConnection
            } else {
                Fate::Normal
            }
        },
        expected: ["yes", "no", "n/a", "no", "n/a", "no"],
    },
];

/// Monday 2 November 2009, 12:00 UTC: the synthetic week's first test.
pub const WEEK_START: i64 = 1_257_163_200;

/// The pace of data segments on day `day` (0 = Monday): a little slower each day, so the
/// weekly tables differ from day to day.
pub fn week_pace_us(base: &Plan, day: u32) -> i64 {
    base.pace_us + 250 * i64::from(day)
}

/// Writes a week of Glasnost tests into `dir`: for each ISP of [`WEEK_ISPS`] and each day,
/// `per_day` captures named as Glasnost's servers named them, cut to `payload_cut` payload
/// bytes per packet, and `isps.txt`, the ISP table `bttrace report --isp-map` reads. Returns
/// the capture paths.
pub fn write_week(
    dir: &std::path::Path,
    base: &Plan,
    per_day: u32,
    payload_cut: Option<usize>,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut paths = Vec::new();
    let mut table = String::from("# client prefix, then the ISP\n");
    for isp in WEEK_ISPS {
        let [a, b, c] = isp.prefix;
        let net = isp.first_host & !(u8::MAX >> (isp.prefix_len - 24));
        table.push_str(&format!(
            "{a}.{b}.{c}.{net}/{}  {}\n",
            isp.prefix_len, isp.name
        ));
        for day in 0..7u32 {
            for i in 0..per_day {
                let host = isp.first_host.wrapping_add((i % 40) as u8);
                let client = IpAddr::from([a, b, c, host]);
                let time = WEEK_START + i64::from(day) * 86_400 + i64::from(i) * 600;
                let plan = Plan {
                    client,
                    start: Timestamp(time * 1_000_000_000),
                    pace_us: week_pace_us(base, day),
                    ..base.clone()
                };
                let bytes = capture(&test(&plan, isp.fates), payload_cut);
                let name = format!(
                    "glasnost_{client}_client{host}.{}.example_{time}.dump",
                    isp.name.to_ascii_lowercase().replace(' ', "-")
                );
                let path = dir.join(name);
                std::fs::write(&path, bytes)?;
                paths.push(path);
            }
        }
    }
    std::fs::write(dir.join("isps.txt"), table)?;
    Ok(paths)
}
