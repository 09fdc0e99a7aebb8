//! A mini-archive in M-Lab's layout: one `.tgz` per server and day, each holding Glasnost
//! tests (`.dump.gz` and the server's `.log`) of clients of the three ISPs of
//! [`super::glasnost::WEEK_ISPS`] (half of the blocking ISP's clients get forged resets on the
//! BitTorrent port instead of unanswered SYNs), under M-Lab's names
//! (`YYYY/MM/DD/mlabN.<site>.measurement-lab.org/<YYYY-MM-DDTHH:MM:SS>_<ip>_<host>.dump.gz`,
//! the date one day late as before 2010-01-08), members sorted by name as M-Lab's are. The
//! first archive also holds the damage a real archive has: a capture cut short (its gzip
//! stream ends mid-way), a log without its capture, and a README member that is neither.
//! `examples/mlab_archive.rs` writes one; tests and `contrib/spark/` use it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::capture::Timestamp;
use crate::glasnost::names::utc_name;
use crate::glasnost::verdict::PortClass;
use crate::synth::glasnost::{Fate, IspProfile, Plan, WEEK_ISPS, WEEK_START, capture, log, test};

/// The servers of the mini-archive.
pub const SERVERS: [&str; 2] = ["mlab1.ams01", "mlab2.lga02"];

/// What [`write_archives`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub archives: Vec<PathBuf>,
    /// Tests (capture and log) written, and members damaged on purpose.
    pub tests: usize,
    pub damaged: usize,
}

fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes)?;
    gz.finish()
}

fn append(b: &mut tar::Builder<impl Write>, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(WEEK_START as u64);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, bytes)
}

/// Writes `days` days of archives for each of [`SERVERS`] into `dir`, `per_isp` tests per
/// ISP, server and day, each test of `base`'s shape (its client and start replaced).
pub fn write_archives(dir: &Path, base: &Plan, days: u32, per_isp: u32) -> io::Result<Written> {
    let mut out = Written::default();
    for day in 0..days {
        for (s, server) in SERVERS.iter().enumerate() {
            let day_start = WEEK_START - 12 * 3600 + i64::from(day) * 86_400;
            // M-Lab's names before 2010-01-08 carry the next day's date.
            let named_day = utc_name(day_start + 86_400);
            let ymd = &named_day[..10];
            let folder = format!("{}/{server}.measurement-lab.org", ymd.replace('-', "/"));
            let mut members: Vec<(String, Vec<u8>)> = Vec::new();
            for (k, isp) in WEEK_ISPS.iter().enumerate() {
                for i in 0..per_isp {
                    let n = (s as u32 * per_isp + i) % 40;
                    members.extend(one_test(base, isp, day_start, k, n, &folder)?);
                    out.tests += 1;
                }
            }
            if day == 0 && s == 0 {
                // A capture cut short, a log without its capture, a member that is neither.
                let (name, bytes) = members
                    .iter()
                    .find(|(n, _)| n.ends_with(".dump.gz"))
                    .cloned()
                    .unwrap_or_default();
                let cut = bytes.get(..bytes.len() / 2).unwrap_or_default().to_vec();
                if let Some(m) = members.iter_mut().find(|(n, _)| *n == name) {
                    m.1 = cut;
                }
                let lone = members
                    .iter()
                    .rposition(|(n, _)| n.ends_with(".dump.gz"))
                    .unwrap_or(0);
                members.remove(lone);
                members.push((format!("{folder}/README.txt"), b"test archive\n".to_vec()));
                out.damaged += 2;
            }
            members.sort_by(|a, b| a.0.cmp(&b.0));
            let site = server.replace('.', "-");
            let path = dir.join(format!(
                "{}T000000Z-{site}-glasnost-0000.tgz",
                ymd.replace('-', "")
            ));
            let file = std::fs::File::create(&path)?;
            let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            let mut b = tar::Builder::new(gz);
            for (name, bytes) in &members {
                append(&mut b, name, bytes)?;
            }
            b.into_inner()?.finish()?.sync_all()?;
            out.archives.push(path);
        }
    }
    Ok(out)
}

/// One test's two members.
fn one_test(
    base: &Plan,
    isp: &IspProfile,
    day_start: i64,
    k: usize,
    n: u32,
    folder: &str,
) -> io::Result<[(String, Vec<u8>); 2]> {
    let [a, b, c] = isp.prefix;
    let host = isp.first_host.wrapping_add(n as u8);
    let client = std::net::IpAddr::from([a, b, c, host]);
    let time = day_start + 12 * 3600 + (k as i64 * 40 + i64::from(n)) * 300;
    let plan = Plan {
        client,
        start: Timestamp(time * 1_000_000_000),
        ..base.clone()
    };
    // Half of the blocking ISP's clients see forged resets on the BitTorrent port instead of
    // unanswered SYNs, so the archive has RSTs to judge.
    let forged = isp.expected[0] == "yes" && n % 2 == 1;
    let base_fates = isp.fates;
    let fates = move |p, d, class, r| {
        if forged && class == PortClass::App {
            Fate::Reset
        } else {
            base_fates(p, d, class, r)
        }
    };
    let packets = test(&plan, fates);
    let dump = gzip(&capture(&packets, Some(200)))?;
    let text = log(&plan, false, 0, fates);
    let stem = format!(
        "{folder}/{}_{client}_client{host}.{}.example",
        utc_name(time + 86_400),
        isp.name.to_ascii_lowercase().replace(' ', "-")
    );
    Ok([
        (format!("{stem}.dump.gz"), dump),
        (format!("{stem}.log"), text.into_bytes()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_utc_dates() {
        assert_eq!(utc_name(WEEK_START), "2009-11-02T12:00:00");
    }
}
