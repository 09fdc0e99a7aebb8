//! The peer-wire decoder on captures cut short, as Glasnost's servers and `editcap -s` cut
//! them: every BitTorrent fixture cut to 254 and to 128 bytes a packet, and the bulk
//! benchmark's flows (`bttrace::synth::bulk`) cut to 254, each direction's decoder output
//! (kind, handshake, message counts, piece bytes, framing, resyncs, unparsed and hole bytes)
//! pinned in a snapshot. A change to the decoder shows here, flow by flow, what it changed
//! on cut captures; such a change must not lose a message or a handshake that was found.

use std::fmt::Write as _;
use std::path::Path;

use bttrace::btparse::FramingState;
use bttrace::capture::{CaptureReader, LinkType};
use bttrace::synth::{self, NgIface, Record};
use bttrace::{CaptureReport, Options, analyze_bytes};

/// The BitTorrent fixtures: those tshark's dissector was checked against
/// (`fixtures/oracle-bt.tsv`), the generated Glasnost tests and the middlebox captures.
const FIXTURES: &[&str] = &[
    "arkime/bt-tcp.pcap",
    "clients/aria2_seed_plain.pcap",
    "clients/tr_seed_mse_plain.pcap",
    "clients/tr_seed_plain.pcap",
    "clients/tr_seed_plain_loss.pcap",
    "clients/tr_seed_plain_s96.pcap",
    "ndpi/bittorrent.pcap",
    "ndpi/bittorrent_tcp_miss.pcapng",
    "ndpi/bittorrent_transmission.pcapng",
    "netns/any_sll.pcap",
    "netns/bt_and_control.pcapng",
    "netns/bt_download_full.pcap",
    "netns/bt_upload_s96.pcap",
    "netns/glasnost_rawip_200.pcap",
    "netns/reset_by_server.pcap",
    "glasnost/bt-throttled/glasnost_198.51.100.1_client.bt-throttled.example_1795508253.dump",
    "glasnost/none/bt_198.51.100.1_client.none.example_1795508133.dump",
    "glasnost/port6881-rst/glasnost_198.51.100.1_client.port6881-rst.example_1795508459.dump",
    "glasnost/upload-throttled/glasnost_198.51.100.1_client.upload-throttled.example_1795508347.dump",
    "middlebox/gfw-server.pcap",
    "middlebox/sandvine-client.pcap",
];

/// The capture at `path` with every record cut to `snaplen` bytes, as pcapng (one interface
/// per link type, nanosecond timestamps).
fn cut(path: &Path, snaplen: usize) -> Vec<u8> {
    let mut reader = CaptureReader::open(path).unwrap();
    let mut links: Vec<LinkType> = Vec::new();
    let mut packets = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        let iface = match links.iter().position(|&l| l == f.link) {
            Some(i) => i,
            None => {
                links.push(f.link);
                links.len() - 1
            }
        };
        let rec = Record {
            ts: f.ts,
            data: f.data[..f.data.len().min(snaplen)].to_vec(),
            wire_len: f.wire_len,
        };
        packets.push((iface as u32, rec));
    }
    let ifaces: Vec<NgIface> = links
        .iter()
        .map(|&link| NgIface { link, tsresol: 9 })
        .collect();
    synth::pcapng(&ifaces, &packets)
}

/// One line per flow direction that decoded anything.
fn decoder_lines(name: &str, r: &CaptureReport, out: &mut String) {
    assert!(r.error.is_none(), "{name}: {:?}", r.error);
    for f in &r.flows {
        let Some(bt) = &f.bittorrent else { continue };
        for (side, d) in [("client", &bt.client), ("server", &bt.server)] {
            if d.framing == FramingState::NoPayload {
                continue;
            }
            let messages: Vec<String> =
                d.messages.iter().map(|(k, n)| format!("{k}={n}")).collect();
            let lost = d.lost_at.map_or(String::new(), |at| {
                format!(" lost_at={at} ({})", d.lost_reason.map_or("", |r| r.code()))
            });
            writeln!(
                out,
                "{name} flow {} {} {side}: handshake={} [{}] piece_bytes={} framing={}{lost} \
                 resyncs={} unparsed={} holes={}",
                f.id,
                f.kind.map_or("-", |k| k.code()),
                d.handshake.is_some(),
                messages.join(" "),
                d.piece_bytes,
                d.framing.code(),
                d.resyncs,
                d.unparsed_bytes,
                d.hole_bytes,
            )
            .unwrap();
        }
    }
}

#[test]
fn decoder_output_on_cut_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = String::new();
    for rel in FIXTURES {
        for snaplen in [254, 128] {
            let bytes = cut(&root.join(rel), snaplen);
            let name = format!("{rel}@{snaplen}");
            let r = analyze_bytes(&name, bytes, &Options::default());
            decoder_lines(&name, &r, &mut out);
        }
    }
    insta::assert_snapshot!("decoder_cut_fixtures", out);
}

#[test]
fn decoder_output_on_the_cut_bulk_benchmark() {
    let mut ws = [synth::bulk::PcapWriter::new(Vec::new(), LinkType::ETHERNET, 254).unwrap()];
    synth::bulk::write(&mut ws, 6 * 4_000_000).unwrap();
    let [w] = ws;
    let r = analyze_bytes("bulk@254", w.into_inner(), &Options::default());
    let mut out = String::new();
    decoder_lines("bulk@254", &r, &mut out);
    insta::assert_snapshot!("decoder_cut_bulk", out);
}
