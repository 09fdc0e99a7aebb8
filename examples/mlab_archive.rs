//! Writes a mini-archive in M-Lab's layout (one `.tgz` per server and day, `.dump.gz` and
//! `.log` members under M-Lab's names, a damaged capture and a lone log in the first):
//!
//!     cargo run --release --example mlab_archive -- OUT [DAYS [PER_ISP]]
//!     bttrace analyze OUT/*.tgz --csv tables/
//!
//! DAYS (default 2) days of two servers; PER_ISP (default 2) tests per ISP, server and day.
//! The ISP table `bttrace report --isp-map` reads is written as OUT/isps.txt.

use std::path::PathBuf;
use std::process::ExitCode;

use bttrace::synth::glasnost::{Plan, WEEK_ISPS};
use bttrace::synth::mlab::write_archives;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: mlab_archive OUT [DAYS [PER_ISP]]");
        return ExitCode::from(2);
    };
    let mut number = |what: &str, default: u32| match args.next().map(|s| s.parse::<u32>()) {
        None => Some(default),
        Some(Ok(n)) if (1..=1000).contains(&n) => Some(n),
        Some(_) => {
            eprintln!("{what} must be a whole number from 1 to 1000");
            None
        }
    };
    let (Some(days), Some(per_isp)) = (number("DAYS", 2), number("PER_ISP", 2)) else {
        return ExitCode::from(2);
    };
    let plan = Plan {
        transfer_ms: 1_000,
        spacing_ms: 1_500,
        ..Plan::default()
    };
    let mut table = String::from("# client prefix, then the ISP\n");
    for isp in WEEK_ISPS {
        let [a, b, c] = isp.prefix;
        let net = isp.first_host & !(u8::MAX >> (isp.prefix_len - 24));
        table.push_str(&format!(
            "{a}.{b}.{c}.{net}/{}  {}\n",
            isp.prefix_len, isp.name
        ));
    }
    let written = std::fs::create_dir_all(&out)
        .and_then(|_| std::fs::write(out.join("isps.txt"), &table))
        .and_then(|_| write_archives(&out, &plan, days, per_isp));
    match written {
        Ok(w) => {
            eprintln!(
                "{} archives in {} ({} tests, {} members damaged on purpose)",
                w.archives.len(),
                out.display(),
                w.tests,
                w.damaged
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write into {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}
