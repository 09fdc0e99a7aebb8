//! A whole Glasnost test (2010+ replayer form) built in code: command channel, then every
//! transfer of the schedule, each with what a middlebox did to it. Tests, the batch benchmark
//! and `bttrace glasnost-week` (the `synth` feature) use it.

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
    /// Full pace for the first [`Variant::throttle_after`] bytes of data (300 kB), then a
    /// fifth of it.
    ThrottledAfter,
    /// A forged RST claiming the client, 1.5 s into the piece data; the client's data still
    /// in flight then arrives and the server's stack answers it with RSTs of its own.
    ResetLate,
}

/// The words a test's client sends on its command channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    /// The 2010+ replayer on the wire: `replay BitTorrent client 20 port 6881 [controlFlow]`.
    Wire,
    /// The words its log echoes: `replay bt as client on port 6881 for 20 seconds.`.
    Echo,
    /// The 2009 test: `bt|tcp downstream|upstream port P duration D`, a `setup` first.
    V2009,
}

/// Everything an implementation of the test may choose differently (tests sweep them).
#[derive(Debug, Clone)]
pub struct Variant {
    pub words: Words,
    pub command_port: u16,
    pub app_port: u16,
    /// The client asks the server to choose the neutral port (`port 0`), which answers
    /// `port N ok`.
    pub server_chooses_neutral: bool,
    /// Bitfield payload bytes (161 in the 2009 emulation: 166-byte message).
    pub bitfield_len: u32,
    /// Bytes the request asks for, and of each data segment.
    pub request_len: u32,
    pub segment: usize,
    /// Per repetition: the control transfer first instead of the BitTorrent one.
    pub control_first: fn(u32) -> bool,
    /// The seeder sends its handshake and bitfield in one segment.
    pub merged_opening: bool,
    /// Data bytes a [`Fate::ThrottledAfter`] transfer sends at full pace.
    pub throttle_after: usize,
}

impl Default for Variant {
    fn default() -> Variant {
        Variant {
            words: Words::Echo,
            command_port: 19970,
            app_port: 6881,
            server_chooses_neutral: false,
            bitfield_len: 161,
            request_len: 1 << 20,
            segment: 1000,
            control_first: |_| false,
            merged_opening: false,
            throttle_after: 300_000,
        }
    }
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
    pub variant: Variant,
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
            variant: Variant::default(),
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
    let v = &plan.variant;
    let hs = bt::handshake([0; 8], [7; 20], b"-GN0100-abcdefghijkl");
    let bf = |fill| {
        bt::message(
            &Message::Bitfield {
                len: v.bitfield_len,
            },
            fill,
        )
        .unwrap_or_default()
    };
    c.data(leecher, &bytes(hs.clone(), 1));
    if v.merged_opening {
        let mut both = hs;
        both.extend_from_slice(&bf(0xff));
        c.data(seeder, &bytes(both, 2));
        c.data(leecher, &bytes(bf(0x00), 3));
    } else {
        c.data(seeder, &bytes(hs, 2));
        c.data(leecher, &bytes(bf(0x00), 3))
            .data(seeder, &bytes(bf(0xff), 4));
    }
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
        length: v.request_len,
    });
    c.send(leecher, F::ACK | F::PSH, &bytes(request, 7));
    c.step_ns = plan.pace_us * 1_000 * if fate == Fate::Throttled { 5 } else { 1 };
    let mut header = msg(&Message::Piece {
        index: 0,
        begin: 0,
        length: 0,
    });
    if let Some(len) = header.get_mut(..4) {
        len.copy_from_slice(&(9 + v.request_len).to_be_bytes());
    }
    let mut first = true;
    let data_start = c.ts.0;
    let end = start.0 + plan.transfer_ms * MS;
    let mut sent = 0usize;
    while c.ts.0 < end {
        if fate == Fate::ThrottledAfter && sent >= v.throttle_after {
            c.step_ns = plan.pace_us * 5_000;
        }
        if fate == Fate::ResetLate && c.ts.0 - data_start >= 1_500 * MS {
            // The forged RST claims the client; the data the seeder had in flight (an
            // upload's) or the client's next ACK arrives after it, and the server's stack,
            // its connection gone, answers with a reset of its own.
            let mut rst = c.packet(Side::Client, F::RST | F::ACK, &[]);
            rst.ttl = 200;
            c.push(rst);
            c.step_ns = MS;
            let late = c.packet(
                Side::Client,
                F::ACK,
                if seeder == Side::Client {
                    &[0x5a; 100]
                } else {
                    &[]
                },
            );
            c.push(late);
            let answer = c.packet(Side::Server, F::RST, &[]);
            c.push(answer);
            return c.packets;
        }
        let mut seg = if first { header.clone() } else { Vec::new() };
        first = false;
        seg.resize(v.segment, 0x5a);
        let seg = if proto == Proto::Bt {
            seg
        } else {
            random(v.segment, seed ^ c.ts.0 as u64)
        };
        sent += seg.len();
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

/// One transfer of a test's schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scheduled {
    pub proto: Proto,
    pub dir: Dir,
    pub class: PortClass,
    pub port: u16,
    /// Repetition, from 0.
    pub rep: u32,
    /// When its command is sent, and when its connection starts.
    pub command_at: Timestamp,
    pub at: Timestamp,
}

/// The test's schedule: uploads then downloads, each the BitTorrent port first, on each port
/// `plan.repetitions` pairs of a BitTorrent transfer and its control twin (in the order
/// `variant.control_first` gives per repetition).
pub fn schedule(plan: &Plan) -> Vec<Scheduled> {
    let mut out = Vec::new();
    let mut t = Timestamp(plan.start.0 + 200 * MS);
    for dir in [Dir::Upload, Dir::Download] {
        for (class, port) in [
            (PortClass::App, plan.variant.app_port),
            (PortClass::Other, plan.neutral_port),
        ] {
            for rep in 0..plan.repetitions {
                let order = if (plan.variant.control_first)(rep) {
                    [Proto::Tcp, Proto::Bt]
                } else {
                    [Proto::Bt, Proto::Tcp]
                };
                for proto in order {
                    out.push(Scheduled {
                        proto,
                        dir,
                        class,
                        port,
                        rep,
                        command_at: Timestamp(t.0 - 50 * MS),
                        at: t,
                    });
                    t = Timestamp(t.0 + plan.spacing_ms * MS);
                }
            }
        }
    }
    out
}

/// The command line a client sends for one transfer, and the server's answer.
fn command_line(plan: &Plan, s: &Scheduled) -> (String, String) {
    let v = &plan.variant;
    let secs = (plan.transfer_ms as f64 / 1000.0).round().max(1.0);
    let chosen = v.server_chooses_neutral && s.class == PortClass::Other;
    let asked = if chosen { 0 } else { s.port };
    let answer = if chosen {
        format!("port {} ok\n", s.port)
    } else {
        "ok\n".to_string()
    };
    let control = s.proto == Proto::Tcp;
    let line = match v.words {
        Words::Wire => format!(
            "replay BitTorrent {} {secs} port {asked}{}\n",
            if s.dir == Dir::Upload {
                "client"
            } else {
                "server"
            },
            if control { " controlFlow" } else { "" }
        ),
        Words::Echo => format!(
            "replay bt as {} on port {asked} for {secs} seconds{}.\n",
            if s.dir == Dir::Upload {
                "client"
            } else {
                "server"
            },
            if control { " as a control flow" } else { "" }
        ),
        Words::V2009 => format!(
            "{} {} port {} duration {secs}\n",
            if control { "tcp" } else { "bt" },
            if s.dir == Dir::Upload {
                "downstream"
            } else {
                "upstream"
            },
            s.port
        ),
    };
    (line, answer)
}

/// A test: command channel (when `plan.with_commands`), then every transfer of
/// [`schedule`]. `fates` says what happened to each transfer (kind, user's direction, port,
/// repetition from 0).
pub fn test(plan: &Plan, fates: impl Fn(Proto, Dir, PortClass, u32) -> Fate) -> Vec<Packet> {
    let mut cmd = Conv::new(
        std::net::SocketAddr::new(plan.client, 45000),
        std::net::SocketAddr::new(plan.server, plan.variant.command_port),
    );
    cmd.client_ttl = 50;
    cmd.ts = plan.start;
    cmd.handshake();
    let mut packets = Vec::new();
    for (cport, (seed, s)) in (46000..).zip(schedule(plan).iter().enumerate()) {
        let (line, answer) = command_line(plan, s);
        cmd.ts = s.command_at;
        if plan.with_commands {
            cmd.data(Side::Client, line.as_bytes());
            cmd.data(Side::Server, answer.as_bytes());
        }
        packets.extend(transfer(
            plan,
            s.at,
            s.port,
            cport,
            s.proto,
            s.dir,
            fates(s.proto, s.dir, s.class, s.rep),
            seed as u64 + 1,
        ));
    }
    packets.extend(cmd.packets);
    packets
}

/// The server's log of the test, in the 2009 form (`Received: bt downstream port P duration
/// D` / `Running BT downstream transfer port P .`) or the replayer's, on a clock `offset_ms`
/// from the capture's, with the server's counts for each transfer's fate.
pub fn log(
    plan: &Plan,
    v2009: bool,
    offset_ms: i64,
    fates: impl Fn(Proto, Dir, PortClass, u32) -> Fate,
) -> String {
    let ms = |t: Timestamp| t.0 / MS + offset_ms;
    let mut out = format!(
        "{} Client host.example {} connected (port 45000)\n",
        ms(plan.start),
        plan.client
    );
    if v2009 {
        out.push_str(&format!(
            "{} Using ports {} and {} for measurements.\n",
            ms(plan.start),
            plan.variant.app_port,
            plan.neutral_port
        ));
    }
    let secs = plan.transfer_ms as f64 / 1000.0;
    let bytes_ok = (secs * 8e9 / (plan.pace_us as f64 * 1000.0)) as u64 / 8 * 1000 / 1000;
    for s in schedule(plan) {
        let fate = fates(s.proto, s.dir, s.class, s.rep);
        let at = ms(s.command_at);
        let upload = s.dir == Dir::Upload;
        let (line, _) = command_line(
            &Plan {
                variant: Variant {
                    words: if v2009 { Words::V2009 } else { Words::Echo },
                    ..plan.variant.clone()
                },
                ..plan.clone()
            },
            &s,
        );
        out.push_str(&format!("{at} Received: {}", line));
        let bt = s.proto == Proto::Bt;
        let running = if v2009 {
            format!(
                "Running {} {} transfer port {} .",
                if bt { "BT" } else { "TCP" },
                if upload { "downstream" } else { "upstream" },
                s.port
            )
        } else {
            format!(
                "Running {}bt as {} on port {} .",
                if bt { "" } else { "control flow of " },
                if upload { "client" } else { "server" },
                s.port
            )
        };
        let (bytes, took, resets, failed) = match fate {
            Fate::Normal => (bytes_ok, secs, 0, false),
            Fate::Throttled => (bytes_ok / 5, secs, 0, false),
            Fate::ThrottledAfter => (
                300_000 + (bytes_ok.saturating_sub(300_000)) / 5,
                secs,
                0,
                false,
            ),
            Fate::Reset => (0, 0.01, 1, true),
            Fate::ResetLate => (
                bytes_ok * 3 / 5 / (secs.max(1.0) as u64).max(1),
                1.5,
                1,
                true,
            ),
            Fate::NoConnection => {
                out.push_str(&format!(
                    "{} Accept timeout: Peer did not show up.\n",
                    at + 6000
                ));
                out.push_str(&format!("{} {running}\n", at + 6000));
                out.push_str(&format!("{} FAILED: Peer did not show up\n", at + 6000));
                continue;
            }
        };
        let end = at + 50 + (took * 1000.0) as i64;
        out.push_str(&format!("{} {running}\n", at + 50));
        if failed {
            out.push_str(&format!("{end} FAILED: Connection reset by peer\n"));
        }
        out.push_str(&format!(
            "{end} Resets received: {resets} ; Resets sent: 0\n"
        ));
        let rate = bytes as f64 * 8.0 / took;
        let (sent, got) = if upload { (0, bytes) } else { (bytes, 0) };
        if v2009 {
            out.push_str(&format!(
                "{end} Transfered {bytes} bytes in {took:.3} seconds: {rate:.0} bps\n"
            ));
            out.push_str(&format!(
                "{end} Client: Transfered {bytes} bytes in {took:.3} seconds: {rate:.0}\n"
            ));
        } else {
            out.push_str(&format!(
                "{end} Transmitted {sent} bytes and received {got} bytes in {took:.3} seconds: {rate:.0} {rate:.0} bps (state=3)\n"
            ));
            out.push_str(&format!(
                "{end} Client: Transferred {got} bytes and received {sent} bytes in {took:.3} seconds: {rate:.0} {rate:.0} bps (state=3)\n"
            ));
        }
    }
    out.push_str("Done.\n");
    out
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

/// How a capture is written: link type, file format, and the payload bytes kept per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Form {
    pub link: LinkType,
    pub pcapng: bool,
    pub payload_cut: Option<usize>,
}

/// Packets written in `form`, in time order.
pub fn capture_as(packets: &[Packet], form: Form) -> Vec<u8> {
    let mut recs: Vec<_> = packets
        .iter()
        .map(|p| {
            let headers = p.ip_bytes().len() - p.payload.len()
                + if form.link == LinkType::ETHERNET {
                    14
                } else {
                    0
                };
            p.record(form.link, form.payload_cut.map(|n| headers + n))
        })
        .collect();
    recs.sort_by_key(|r| r.ts);
    if form.pcapng {
        let iface = crate::synth::NgIface {
            link: form.link,
            tsresol: 9,
        };
        let tagged: Vec<(u32, crate::synth::Record)> = recs.into_iter().map(|r| (0, r)).collect();
        crate::synth::pcapng(&[iface], &tagged)
    } else {
        pcap(form.link, &recs, PcapOpts::default())
    }
}
