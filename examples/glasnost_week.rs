//! Writes a synthetic week of Glasnost tests for three ISPs (one neutral, one throttling
//! BitTorrent, one blocking port 6881) into a directory, with the ISP table beside them:
//!
//!     cargo run --release --example glasnost_week -- OUT [PER_DAY [TRANSFER_MS]]
//!     bttrace report OUT --isp-map OUT/isps.txt
//!
//! Each capture is in Glasnost's form (raw IP, 200 payload bytes kept per packet), 24
//! transfers of TRANSFER_MS (default 1000) each. PER_DAY (default 1) captures per ISP and day.

use std::path::PathBuf;
use std::process::ExitCode;

use bttrace::synth::glasnost::{Plan, write_week};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: glasnost_week OUT [PER_DAY [TRANSFER_MS]]");
        return ExitCode::from(2);
    };
    let per_day = match args.next().map(|s| s.parse::<u32>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("PER_DAY must be a whole number above 0");
            return ExitCode::from(2);
        }
    };
    let transfer_ms = match args.next().map(|s| s.parse::<i64>()) {
        None => 1_000,
        Some(Ok(n)) if (100..=60_000).contains(&n) => n,
        Some(_) => {
            eprintln!("TRANSFER_MS must be 100 to 60000");
            return ExitCode::from(2);
        }
    };
    let plan = Plan {
        transfer_ms,
        spacing_ms: transfer_ms + 500,
        ..Plan::default()
    };
    let written =
        std::fs::create_dir_all(&out).and_then(|_| write_week(&out, &plan, per_day, Some(200)));
    match written {
        Ok(paths) => {
            eprintln!("{} captures and isps.txt in {}", paths.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write into {}: {e}", out.display());
            ExitCode::from(1)
        }
    }
}
