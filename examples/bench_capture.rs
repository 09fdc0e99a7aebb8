//! Writes the speed benchmark's captures (`bench/compare.sh` runs it): six bulk flows,
//! BitTorrent transfers of 16 KiB, 256 KiB and 12.5 MB blocks and their random-payload
//! control twins, interleaved segment by segment (see `bttrace::synth::bulk`):
//!
//!     cargo run --release --example bench_capture -- OUTDIR [PAYLOAD_MB]
//!
//! OUTDIR/large.pcap holds every byte (Ethernet), OUTDIR/large-254.pcap the same packets cut
//! to 254 bytes each, as `editcap -s 254` cuts them. PAYLOAD_MB (default 1350) is the TCP
//! payload of all flows together; the default gives about 1.4 GB and a million packets.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use bttrace::capture::LinkType;
use bttrace::synth::bulk::{PcapWriter, write};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: bench_capture OUTDIR [PAYLOAD_MB]");
        return ExitCode::from(2);
    };
    let mb = match args.next().map(|s| s.parse::<u64>()) {
        None => 1_350,
        Some(Ok(n)) if (1..=100_000).contains(&n) => n,
        Some(_) => {
            eprintln!("PAYLOAD_MB must be 1 to 100000");
            return ExitCode::from(2);
        }
    };
    let run = || -> std::io::Result<_> {
        std::fs::create_dir_all(&out)?;
        let open = |name: &str, snaplen| {
            let f = BufWriter::with_capacity(1 << 20, File::create(out.join(name))?);
            PcapWriter::new(f, LinkType::ETHERNET, snaplen)
        };
        let mut writers = [open("large.pcap", 262_144)?, open("large-254.pcap", 254)?];
        let n = write(&mut writers, mb * 1_000_000)?;
        for w in writers {
            w.into_inner().into_inner().map_err(|e| e.into_error())?;
        }
        Ok(n)
    };
    match run() {
        Ok(n) => {
            eprintln!(
                "{} packets, {} MB of payload: {}/large.pcap and large-254.pcap",
                n.packets,
                n.payload / 1_000_000,
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write into {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}
