//! What a Glasnost capture's file name says: the client's address, its host name, the test's
//! time, and which generation of the test made it.
//!
//! - `bt_<ip>_<host>_<unix seconds>.dump[.gz]`: the 2009 BitTorrent test;
//! - `glasnost_<ip>_<host>_<unix seconds>.dump[.gz]`: the 2010+ replayer;
//! - `YYYY-MM-DDTHH:MM:SS_<ip>_<host>.dump[.gz]`: M-Lab's archive (UTC). Host names may hold
//!   `_`. Before 2010-01-08 the date in an M-Lab name is one day late; the corrected time is
//!   given, and the name's own.

use std::net::IpAddr;

use serde::Serialize;

/// Which test made the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generation {
    /// The 2009 BitTorrent test: ports 6881 and 4711/10009, 10 s transfers, 256 KiB pieces.
    Bt2009,
    /// The 2010+ replayer: 3 repetitions, 20 s, 12.5 MB pieces, a kernel-chosen neutral port.
    Replayer,
    /// Not told by the name (an M-Lab name, or any other capture).
    Unknown,
}

impl Generation {
    pub fn code(self) -> &'static str {
        match self {
            Generation::Bt2009 => "bt2009",
            Generation::Replayer => "replayer",
            Generation::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureName {
    pub generation: Generation,
    pub client_ip: IpAddr,
    pub client_host: String,
    /// Test start, seconds since the epoch (corrected for M-Lab's one-day error).
    pub time: i64,
    /// The time the name states, when it differs (M-Lab names before 2010-01-08).
    pub time_in_name: Option<i64>,
}

/// Whether a time from a file name can be a test's (2000 to 2099, UTC). Glasnost ran from 2008;
/// a name saying `-1` or `9223372036854775807` is damaged or made up, and its time must not
/// stand in for the capture's own.
pub fn plausible_time(t: i64) -> bool {
    (946_684_800..4_102_444_800).contains(&t)
}

/// 2010-01-08T00:00:00Z: M-Lab names before it carry a date one day late.
const MLAB_FIXED: i64 = 1_262_908_800;

/// Parses a capture's file name (the last path component), or its log's (`.log`, the same
/// name: a log read alone is named by it); `None` when it follows none of the Glasnost
/// conventions.
pub fn parse(file_name: &str) -> Option<CaptureName> {
    let stem = match file_name.strip_suffix(".log") {
        Some(stem) => stem,
        None => file_name
            .strip_suffix(".gz")
            .unwrap_or(file_name)
            .strip_suffix(".dump")?,
    };
    if let Some(rest) = stem.strip_prefix("bt_") {
        return classic(rest, Generation::Bt2009);
    }
    if let Some(rest) = stem.strip_prefix("glasnost_") {
        return classic(rest, Generation::Replayer);
    }
    mlab(stem)
}

/// `<ip>_<host>_<unix seconds>` (the host may hold `_`).
fn classic(rest: &str, generation: Generation) -> Option<CaptureName> {
    let (ip, rest) = rest.split_once('_')?;
    let (host, ts) = rest.rsplit_once('_')?;
    Some(CaptureName {
        generation,
        client_ip: ip.parse().ok()?,
        client_host: host.to_string(),
        time: ts.parse().ok()?,
        time_in_name: None,
    })
}

/// `YYYY-MM-DDTHH:MM:SS_<ip>_<host>`.
fn mlab(stem: &str) -> Option<CaptureName> {
    let (when, rest) = stem.split_once('_')?;
    let (ip, host) = rest.split_once('_')?;
    let stated = utc_seconds(when)?;
    let time = if stated < MLAB_FIXED {
        stated - 86_400
    } else {
        stated
    };
    Some(CaptureName {
        generation: Generation::Unknown,
        client_ip: ip.parse().ok()?,
        client_host: host.to_string(),
        time,
        time_in_name: (time != stated).then_some(stated),
    })
}

/// `YYYY-MM-DDTHH:MM:SS` of seconds since the epoch (UTC).
pub fn utc_name(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm), the inverse of `days_from_civil`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    debug_assert_eq!(days_from_civil(y, m, d), days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The names an M-Lab file's partner may have: M-Lab's log and dump of one test can differ by
/// one second in their names (`...T12:00:00_<ip>_<host>.log` with `...T12:00:01_...dump.gz`).
/// For a stem (a file name without its extension, folders before it allowed) that starts with
/// an M-Lab time, the same stem one second before and one after; for any other, none.
pub fn near_stems(stem: &str) -> Vec<String> {
    let at = stem.rfind('/').map_or(0, |i| i + 1);
    let (dir, base) = stem.split_at(at);
    let (Some(when), Some(rest)) = (base.get(..19), base.get(19..)) else {
        return Vec::new();
    };
    if !rest.starts_with('_') {
        return Vec::new();
    }
    let Some(t) = utc_seconds(when) else {
        return Vec::new();
    };
    [t - 1, t + 1]
        .iter()
        .map(|&t| format!("{dir}{}{rest}", utc_name(t)))
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) to seconds since the epoch.
pub fn utc_seconds(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Weekday (0 = Monday) of a time in seconds since the epoch, in UTC.
pub fn weekday(t: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    ((t.div_euclid(86_400) + 3).rem_euclid(7)) as u32
}

/// Weekday names, Monday first (the index [`weekday`] gives).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The proleptic Gregorian date (year, month, day) of a day count since 1970-01-01
/// (the inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` (UTC) of a time in seconds since the epoch.
pub fn date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_trace_name() {
        let n = parse("bt_192.168.1.100_frankyeung-bt.no-ip.org_1257080094.dump").unwrap();
        assert_eq!(n.generation, Generation::Bt2009);
        assert_eq!(n.client_ip.to_string(), "192.168.1.100");
        assert_eq!(n.client_host, "frankyeung-bt.no-ip.org");
        assert_eq!(n.time, 1_257_080_094);
        assert_eq!(weekday(n.time), 6, "1 November 2009 was a Sunday");
        assert_eq!(WEEKDAYS[weekday(n.time) as usize], "Sunday");
        assert_eq!(date(n.time), "2009-11-01");
    }

    #[test]
    fn dates_round_trip() {
        for days in [
            -800_000, -1, 0, 1, 59, 60, 365, 10_957, 14_549, 20_000, 2_000_000,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                days_from_civil(y, i64::from(m), i64::from(d)),
                days,
                "{days}"
            );
        }
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-1), "1969-12-31");
    }

    #[test]
    fn replayer_names_with_underscores_in_the_host() {
        let n =
            parse("glasnost_203.0.113.5_host_with_underscores.example_1300000000.dump.gz").unwrap();
        assert_eq!(n.generation, Generation::Replayer);
        assert_eq!(n.client_host, "host_with_underscores.example");
        assert_eq!(n.time, 1_300_000_000);
    }

    #[test]
    fn mlab_names_before_2010_01_08_are_a_day_late() {
        let n = parse("2009-11-02T12:00:00_198.51.100.9_some_host.dump.gz").unwrap();
        assert_eq!(n.client_host, "some_host");
        assert_eq!(n.time_in_name, Some(1_257_163_200));
        assert_eq!(n.time, 1_257_163_200 - 86_400);
        // Names dated 2010-01-08 or later are right.
        let n = parse("2010-01-08T00:00:00_198.51.100.9_h.dump.gz").unwrap();
        assert_eq!((n.time, n.time_in_name), (1_262_908_800, None));
        let n = parse("2010-01-07T23:59:59_198.51.100.9_h.dump").unwrap();
        assert_eq!(n.time, 1_262_908_799 - 86_400);
        // A log is named as its capture: a log read alone keeps its client and time.
        let n = parse("2009-11-02T12:00:00_198.51.100.9_some_host.log").unwrap();
        assert_eq!(
            (n.client_host.as_str(), n.time),
            ("some_host", 1_257_163_200 - 86_400)
        );
        assert_eq!(parse("2009-11-02T12:00:00_198.51.100.9_h.log.gz"), None);
    }

    #[test]
    fn an_mlab_partner_may_be_named_a_second_apart() {
        assert_eq!(
            near_stems("d/2009-11-02T23:59:59_198.51.100.9_h"),
            [
                "d/2009-11-02T23:59:58_198.51.100.9_h",
                "d/2009-11-03T00:00:00_198.51.100.9_h"
            ]
        );
        assert!(near_stems("glasnost_198.51.100.9_h_1257163200").is_empty());
        assert!(near_stems("2009-11-02T23:59:59").is_empty());
    }

    #[test]
    fn utc_names_round_trip() {
        assert_eq!(utc_name(0), "1970-01-01T00:00:00");
        assert_eq!(utc_name(951_782_400), "2000-02-29T00:00:00");
        for t in [0, 951_782_400, 1_257_163_201, 1_262_908_799, 4_102_444_799] {
            assert_eq!(utc_seconds(&utc_name(t)), Some(t));
        }
    }

    #[test]
    fn other_names_are_none() {
        for name in [
            "capture.pcap",
            "bt_notanip_host_1.dump",
            "bt_1.2.3.4_host_x.dump",
            "2009-13-01T00:00:00_1.2.3.4_h.dump",
        ] {
            assert_eq!(parse(name), None, "{name}");
        }
    }
}
