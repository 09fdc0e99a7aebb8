//! Many captures summed up as the study did: per ISP and per weekday (or date), the average
//! speeds of TCP and BitTorrent transfers per port and direction, the day's conclusions, and
//! one summary row per ISP (seed sections 6 and 8.1).
//!
//! An [`Aggregator`] takes capture reports one at a time and keeps only sums and counts, so
//! memory grows with the number of ISPs and days, not with the number of captures.
//!
//! Combining verdicts of several captures into one cell: a cell is `n/a` when every capture
//! says `n/a` (the port never connected); otherwise `yes` only when more than half of the
//! captures where the cell applies say `yes`, `no` when more than half say `no`, and
//! `inconclusive` otherwise. A minority of `yes`, or noise, never makes a `yes`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::glasnost::names::{self, WEEKDAYS};
use crate::glasnost::verdict::{Cell, Dir, Outcome, PortClass, Proto};
use crate::model::CaptureReport;

// ---------------------------------------------------------------- the ISP table

/// Maps client addresses (by prefix) or host names (by pattern) to ISP names.
///
/// One rule per line, `PREFIX-OR-PATTERN  ISP NAME`; `#` starts a comment. A prefix is an
/// address with an optional `/len` (IPv4 or IPv6); a pattern is a host name where `*` matches
/// any run of characters (`*.netvigator.com`), compared without regard to case. The first
/// rule that matches, in file order, names the ISP.
#[derive(Debug, Clone, Default)]
pub struct IspMap {
    rules: Vec<(Matcher, String)>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Prefix(IpAddr, u8),
    Host(String),
}

/// Why an ISP table cannot be read; each names its line (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IspMapError {
    #[error("line {line}: expected a prefix or host pattern, then an ISP name: {text:?}")]
    NoName { line: usize, text: String },
    #[error("line {line}: {prefix:?}: prefix length must be 0 to {max}")]
    PrefixLength {
        line: usize,
        prefix: String,
        max: u8,
    },
}

impl IspMapError {
    /// The line of the table the error is on (from 1).
    pub fn line(&self) -> usize {
        match self {
            IspMapError::NoName { line, .. } | IspMapError::PrefixLength { line, .. } => *line,
        }
    }
}

impl IspMap {
    /// Parses the table; an error names the line.
    pub fn parse(text: &str) -> Result<IspMap, IspMapError> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (key, name) = match line.split_once(char::is_whitespace) {
                Some((k, n)) if !n.trim().is_empty() => (k, n.trim()),
                _ => {
                    return Err(IspMapError::NoName {
                        line: i + 1,
                        text: line.to_string(),
                    });
                }
            };
            let matcher = match parse_prefix(key) {
                Some(Ok((ip, len))) => Matcher::Prefix(ip, len),
                Some(Err(max)) => {
                    return Err(IspMapError::PrefixLength {
                        line: i + 1,
                        prefix: key.to_string(),
                        max,
                    });
                }
                None => Matcher::Host(key.to_ascii_lowercase()),
            };
            rules.push((matcher, name.to_string()));
        }
        Ok(IspMap { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The ISP of a client, by its address and host name.
    pub fn isp_of(&self, ip: Option<IpAddr>, host: Option<&str>) -> Option<&str> {
        let host = host.map(str::to_ascii_lowercase);
        self.rules
            .iter()
            .find(|(m, _)| match m {
                Matcher::Prefix(net, len) => ip.is_some_and(|ip| in_prefix(ip, *net, *len)),
                Matcher::Host(p) => host.as_deref().is_some_and(|h| glob(p, h)),
            })
            .map(|(_, name)| name.as_str())
    }
}

/// `None` when `key` does not look like an address (so it is a host pattern); an error
/// gives the longest prefix length the address family allows.
fn parse_prefix(key: &str) -> Option<Result<(IpAddr, u8), u8>> {
    let (addr, len) = match key.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (key, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Some(Err(max)),
        },
    };
    Some(Ok((ip, len)))
}

fn in_prefix(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let ((a, wa), (b, wb)) = (bits(ip), bits(net));
    if wa != wb {
        return false;
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    a & mask == b & mask
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    // Without a `*` there is one part, and the pattern must equal the text.
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

// ---------------------------------------------------------------- combining cells

/// How many captures said what in one summary cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellCounts {
    pub yes: u32,
    pub no: u32,
    pub inconclusive: u32,
    pub not_applicable: u32,
}

impl CellCounts {
    pub fn add(&mut self, c: Cell) {
        match c {
            Cell::Yes => self.yes += 1,
            Cell::No => self.no += 1,
            Cell::Inconclusive => self.inconclusive += 1,
            Cell::NotApplicable => self.not_applicable += 1,
        }
    }

    fn merge(&mut self, o: &CellCounts) {
        self.yes += o.yes;
        self.no += o.no;
        self.inconclusive += o.inconclusive;
        self.not_applicable += o.not_applicable;
    }

    /// The captures where the cell applies.
    pub fn applicable(&self) -> u32 {
        self.yes + self.no + self.inconclusive
    }

    /// The combined verdict (see the module documentation); `None` when no capture said
    /// anything.
    pub fn combined(&self) -> Option<Cell> {
        let n = self.applicable();
        if n == 0 {
            return (self.not_applicable > 0).then_some(Cell::NotApplicable);
        }
        Some(if 2 * self.yes > n {
            Cell::Yes
        } else if 2 * self.no > n {
            Cell::No
        } else {
            Cell::Inconclusive
        })
    }
}

impl fmt::Display for CellCounts {
    /// `yes`, or `yes (5/7)` when the captures where the cell applies did not all agree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(c) = self.combined() else {
            return f.write_str("-");
        };
        let n = self.applicable();
        let agree = match c {
            Cell::Yes => self.yes,
            Cell::No => self.no,
            Cell::Inconclusive => self.inconclusive,
            Cell::NotApplicable => return f.write_str(c.code()),
        };
        if agree == n {
            f.write_str(c.code())
        } else {
            write!(f, "{} ({agree}/{n})", c.code())
        }
    }
}

// ---------------------------------------------------------------- the aggregate

/// The time zone days are counted in: UTC (M-Lab file names and Glasnost logs give UTC
/// times), or an IANA zone (`Asia/Hong_Kong`: the study grouped its tests by the weekday in
/// Hong Kong), with its daylight-saving rules, from the time zone database bundled in bttrace.
#[derive(Debug, Clone, Default)]
pub struct Zone(Option<(String, jiff::tz::TimeZone)>);

impl Zone {
    /// The IANA zone `name` (`UTC` is UTC).
    pub fn named(name: &str) -> Result<Zone, String> {
        if name.eq_ignore_ascii_case("utc") {
            return Ok(Zone::default());
        }
        jiff::tz::TimeZone::get(name)
            .map(|tz| Zone(Some((name.to_string(), tz))))
            .map_err(|_| {
                format!(
                    "{name:?} is not a time zone bttrace knows: give an IANA name such as \
                     Asia/Hong_Kong, Europe/Berlin or UTC"
                )
            })
    }

    /// The zone's name as given (`UTC` for UTC).
    pub fn name(&self) -> &str {
        self.0.as_ref().map_or("UTC", |(n, _)| n)
    }

    /// Local time in seconds since the local epoch for `t` (seconds since the epoch, UTC):
    /// `t` plus the zone's offset from UTC at that instant.
    pub fn local(&self, t: i64) -> i64 {
        let Some((_, tz)) = &self.0 else { return t };
        let offset = jiff::Timestamp::from_second(t)
            .map(|ts| tz.to_offset(ts).seconds())
            .unwrap_or(0);
        t + i64::from(offset)
    }
}

/// Group captures by day of the week (as the study did) or by calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    Weekday,
    Date,
}

/// A mean kept as a sum and a count, with the smallest and largest value added (the spread
/// the report's bars draw as whiskers); `min` and `max` mean nothing while `n` is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mean {
    pub sum: f64,
    pub n: u32,
    pub min: f64,
    pub max: f64,
}

impl Mean {
    fn add(&mut self, x: f64) {
        self.merge(&Mean {
            sum: x,
            n: 1,
            min: x,
            max: x,
        });
    }

    /// Both sets of values together.
    pub fn merge(&mut self, o: &Mean) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            (self.min, self.max) = (o.min, o.max);
        } else {
            self.min = self.min.min(o.min);
            self.max = self.max.max(o.max);
        }
        self.sum += o.sum;
        self.n += o.n;
    }

    /// The smallest and largest value, when there is one.
    pub fn range(&self) -> Option<(f64, f64)> {
        (self.n > 0).then_some((self.min, self.max))
    }

    pub fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / f64::from(self.n))
    }
}

/// What is known of one transfer slot (port, direction, kind, repetition) on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slot {
    /// Goodput of the completed transfers, bits per second.
    pub goodput: Mean,
    /// Transfers that did not complete (reset, no connection, no data).
    pub failed: u32,
}

/// Key of a slot: port class, the user's direction, kind, repetition (from 1).
pub type SlotKey = (PortClass, Dir, Proto, u32);

/// One day (a weekday, or a date) of one ISP.
#[derive(Debug, Clone, Default)]
pub struct Day {
    pub captures: u32,
    pub slots: BTreeMap<SlotKey, Slot>,
    pub cells: [CellCounts; 6],
}

impl Day {
    /// All repetitions of one port, direction and kind together: the completed transfers'
    /// goodput and the failed transfers.
    pub fn total(&self, class: PortClass, dir: Dir, proto: Proto) -> Slot {
        let mut t = Slot::default();
        for ((c, d, p, _), s) in &self.slots {
            if (*c, *d, *p) == (class, dir, proto) {
                t.goodput.merge(&s.goodput);
                t.failed += s.failed;
            }
        }
        t
    }

    /// The average over repetitions of one port, direction and kind: the mean of the
    /// completed transfers' goodput.
    pub fn average(&self, class: PortClass, dir: Dir, proto: Proto) -> Option<f64> {
        self.total(class, dir, proto).goodput.value()
    }
}

/// One ISP (or one client address, without an ISP table).
#[derive(Debug, Clone, Default)]
pub struct Isp {
    pub captures: u32,
    /// Captures without Glasnost tests (ordinary captures, or failed files).
    pub without_tests: u32,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    /// Keyed by the day's sort key: weekday index (0 = Monday) or days since the epoch.
    pub days: BTreeMap<i64, Day>,
    /// Ports seen per class (the neutral port varies in the 2010+ tests).
    pub ports: BTreeMap<PortClass, Vec<u16>>,
    /// Repetitions seen (the most of any slot).
    pub repetitions: u32,
}

impl Isp {
    /// The ISP's cells over all its days.
    pub fn cells(&self) -> [CellCounts; 6] {
        let mut all = [CellCounts::default(); 6];
        for d in self.days.values() {
            for (a, c) in all.iter_mut().zip(&d.cells) {
                a.merge(c);
            }
        }
        all
    }
}

/// Captures summed up by ISP and day.
#[derive(Debug, Clone, Default)]
pub struct Aggregator {
    map: IspMap,
    pub by: GroupBy,
    /// The zone days are counted in.
    pub zone: Zone,
    pub isps: BTreeMap<String, Isp>,
    pub captures: u32,
    pub failed: u32,
    /// Captures left out as copies of one already taken (the same test twice).
    pub copies: u32,
}

/// Most distinct ports listed per class and ISP.
const PORTS_LISTED: usize = 8;

impl Aggregator {
    pub fn new(map: IspMap, by: GroupBy) -> Aggregator {
        Aggregator {
            map,
            by,
            ..Aggregator::default()
        }
    }

    /// The name a capture is grouped under: its ISP from the table, else its client address.
    pub fn isp_name(&self, r: &CaptureReport) -> String {
        self.isp_of_row(&CaptureRow::of(r))
    }

    fn isp_of_row(&self, r: &CaptureRow) -> String {
        let addr = r.client_ip.clone();
        let ip = addr.as_deref().and_then(|a| a.parse().ok());
        if let Some(name) = self.map.isp_of(ip, r.client_host.as_deref()) {
            return name.to_string();
        }
        match (self.map.is_empty(), addr) {
            (true, Some(a)) => a,
            (false, Some(a)) => format!("unmapped {a}"),
            (_, None) => "unknown client".to_string(),
        }
    }

    /// The day label of a sort key.
    pub fn day_label(&self, key: i64) -> String {
        match self.by {
            GroupBy::Weekday => WEEKDAYS
                .get(key as usize)
                .map_or("unknown", |d| *d)
                .to_string(),
            GroupBy::Date => {
                if key == i64::MAX {
                    "unknown".to_string()
                } else {
                    names::date(key * 86_400)
                }
            }
        }
    }

    /// Adds one capture.
    pub fn add(&mut self, r: &CaptureReport) {
        self.add_row(&CaptureRow::of(r));
    }

    /// Takes one capture as its tables give it (see [`CaptureRow`]).
    pub fn add_row(&mut self, r: &CaptureRow) {
        self.captures += 1;
        if r.failed {
            self.failed += 1;
        }
        let name = self.isp_of_row(r);
        let time = r.time.map(|t| self.zone.local(t));
        let key = match (time, self.by) {
            (Some(t), GroupBy::Weekday) => i64::from(names::weekday(t)),
            (Some(t), GroupBy::Date) => t.div_euclid(86_400),
            (None, _) => i64::MAX,
        };
        let isp = self.isps.entry(name).or_default();
        isp.captures += 1;
        if let Some(t) = time {
            let date = names::date(t);
            if isp.first_date.as_ref().is_none_or(|d| date < *d) {
                isp.first_date = Some(date.clone());
            }
            if isp.last_date.as_ref().is_none_or(|d| date > *d) {
                isp.last_date = Some(date);
            }
        }
        let Some(cells) = &r.cells else {
            isp.without_tests += 1;
            return;
        };
        let day = isp.days.entry(key).or_default();
        day.captures += 1;
        for (counts, cell) in day.cells.iter_mut().zip(cells) {
            counts.add(*cell);
        }
        for t in &r.tests {
            let Some(dir) = t.direction else { continue };
            let slot = day
                .slots
                .entry((t.port_class, dir, t.kind, t.repetition))
                .or_default();
            match (t.outcome, t.goodput_bps) {
                (Outcome::Completed, Some(g)) if g.is_finite() => slot.goodput.add(g),
                _ => slot.failed += 1,
            }
            isp.repetitions = isp.repetitions.max(t.repetition);
            let ports = isp.ports.entry(t.port_class).or_default();
            if !ports.contains(&t.port) && ports.len() < PORTS_LISTED {
                ports.push(t.port);
                ports.sort_unstable();
            }
        }
    }
}

/// What the aggregate takes of a capture: what its captures and tests tables hold, so a
/// report from those tables ([`crate::report::tables`]) and one from the captures are the
/// same.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRow {
    pub failed: bool,
    /// `client_ip` and `client_host` of the captures table.
    pub client_ip: Option<String>,
    pub client_host: Option<String>,
    /// `test_time`: seconds since the epoch.
    pub time: Option<i64>,
    /// The summary row, when the capture is a Glasnost test.
    pub cells: Option<[Cell; 6]>,
    pub tests: Vec<TestRow>,
}

/// One transfer, as the tests table has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestRow {
    pub kind: Proto,
    pub direction: Option<Dir>,
    pub port: u16,
    pub port_class: PortClass,
    pub repetition: u32,
    pub outcome: Outcome,
    pub goodput_bps: Option<f64>,
}

impl CaptureRow {
    pub fn of(r: &CaptureReport) -> CaptureRow {
        CaptureRow {
            failed: r.error.is_some(),
            client_ip: r.client_address(),
            client_host: r.client_host().map(String::from),
            time: r.test_time(),
            cells: r.summary.as_ref().map(|s| s.cells()),
            tests: r
                .tests
                .iter()
                .map(|t| TestRow {
                    kind: t.kind,
                    direction: t.direction,
                    port: t.port,
                    port_class: t.port_class,
                    repetition: t.repetition,
                    outcome: t.outcome,
                    goodput_bps: t.goodput_bps,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mean_keeps_its_count_and_range_through_merges() {
        let mut a = Mean::default();
        assert_eq!((a.value(), a.range()), (None, None));
        for x in [3.0, 1.0, 2.0] {
            a.add(x);
        }
        let mut b = Mean::default();
        b.add(10.0);
        let mut t = Mean::default();
        t.merge(&Mean::default());
        assert_eq!(t.range(), None, "an empty mean adds nothing");
        t.merge(&a);
        t.merge(&b);
        assert_eq!((t.n, t.sum, t.range()), (4, 16.0, Some((1.0, 10.0))));
        assert_eq!(t.value(), Some(4.0));
    }

    #[test]
    fn isp_table_rules_match_in_file_order() {
        let m = IspMap::parse(
            "# prefix or host pattern, then the ISP\n\
             198.51.100.0/26   Open Band\n\
             198.51.100.64/26  Slow Band   # comment\n\
             *.netvigator.com  PCCW\n\
             2001:db8::/32     Six Net\n\
             198.51.100.0/24   Catch All\n",
        )
        .unwrap();
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(m.isp_of(ip("198.51.100.9"), None), Some("Open Band"));
        assert_eq!(m.isp_of(ip("198.51.100.70"), None), Some("Slow Band"));
        assert_eq!(m.isp_of(ip("198.51.100.200"), None), Some("Catch All"));
        assert_eq!(
            m.isp_of(ip("203.0.113.5"), Some("N123.Netvigator.com")),
            Some("PCCW")
        );
        assert_eq!(m.isp_of(ip("2001:db8::1"), None), Some("Six Net"));
        assert_eq!(m.isp_of(ip("203.0.113.5"), Some("host.example")), None);
        assert_eq!(m.isp_of(None, None), None);
    }

    #[test]
    fn isp_table_errors_name_the_line() {
        let e = IspMap::parse("198.51.100.0/24 A\n10.0.0.0/33 B\n").unwrap_err();
        assert_eq!(e.line(), 2);
        assert_eq!(
            e.to_string(),
            "line 2: \"10.0.0.0/33\": prefix length must be 0 to 32"
        );
        let e = IspMap::parse("# v6\n2001:db8::/129 C\n").unwrap_err();
        assert_eq!(
            e,
            IspMapError::PrefixLength {
                line: 2,
                prefix: "2001:db8::/129".into(),
                max: 128
            }
        );
        let e = IspMap::parse("\n\n198.51.100.0/24   # no name\n").unwrap_err();
        assert_eq!(e.line(), 3);
        assert_eq!(
            e.to_string(),
            "line 3: expected a prefix or host pattern, then an ISP name: \"198.51.100.0/24\""
        );
    }

    #[test]
    fn globs() {
        assert!(glob("*.example", "a.b.example"));
        assert!(!glob("*.example", "example"));
        assert!(glob("dsl-*.isp.*", "dsl-1-2.isp.net"));
        assert!(glob("exact.host", "exact.host"));
        assert!(!glob("a*a", "a"));
        assert!(glob("*", ""));
    }

    #[test]
    fn cells_combine_by_majority_and_never_yes_on_noise() {
        let counts = |cells: &[Cell]| {
            let mut c = CellCounts::default();
            cells.iter().for_each(|&x| c.add(x));
            c
        };
        use Cell::*;
        assert_eq!(counts(&[Yes, Yes, No]).combined(), Some(Yes));
        assert_eq!(counts(&[Yes, Yes, No]).to_string(), "yes (2/3)");
        assert_eq!(counts(&[Yes, No]).combined(), Some(Inconclusive));
        assert_eq!(
            counts(&[Yes, Inconclusive, Inconclusive]).combined(),
            Some(Inconclusive)
        );
        assert_eq!(counts(&[No, No, NotApplicable]).to_string(), "no");
        assert_eq!(
            counts(&[NotApplicable, NotApplicable]).combined(),
            Some(NotApplicable)
        );
        assert_eq!(counts(&[]).combined(), None);
        assert_eq!(counts(&[]).to_string(), "-");
    }

    /// A capture row at `t` (UTC seconds) with one all-`no` test.
    fn row_at(t: i64) -> CaptureRow {
        CaptureRow {
            failed: false,
            client_ip: Some("198.51.100.7".into()),
            client_host: None,
            time: Some(t),
            cells: Some([Cell::No; 6]),
            tests: Vec::new(),
        }
    }

    /// 2009-11-02 (a Monday) at `h`:`m` UTC.
    fn nov_2(h: i64, m: i64) -> i64 {
        names::days_from_civil(2009, 11, 2) * 86_400 + h * 3600 + m * 60
    }

    fn days(zone: &str, by: GroupBy, t: i64) -> (Vec<String>, Option<String>) {
        let mut a = Aggregator::new(IspMap::default(), by);
        a.zone = Zone::named(zone).unwrap();
        a.add_row(&row_at(t));
        let isp = a.isps.values().next().unwrap();
        let labels = isp.days.keys().map(|k| a.day_label(*k)).collect();
        (labels, isp.first_date.clone())
    }

    #[test]
    fn days_are_counted_in_the_zone_given() {
        // 23:30 UTC on a Monday is 07:30 on Tuesday in Hong Kong (UTC+8, no DST since 1979).
        let t = nov_2(23, 30);
        assert_eq!(days("UTC", GroupBy::Weekday, t).0, ["Monday"]);
        assert_eq!(days("Asia/Hong_Kong", GroupBy::Weekday, t).0, ["Tuesday"]);
        let (dates, first) = days("Asia/Hong_Kong", GroupBy::Date, t);
        assert_eq!(dates, ["2009-11-03"]);
        assert_eq!(first.as_deref(), Some("2009-11-03"));
        // 02:00 UTC is still Sunday evening in New York.
        assert_eq!(
            days("America/New_York", GroupBy::Weekday, nov_2(2, 0)).0,
            ["Sunday"]
        );
    }

    #[test]
    fn a_zone_keeps_its_daylight_saving_rules() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        // 2009-11-02 is winter time (UTC+1); 2009-07-01 summer time (UTC+2).
        assert_eq!(berlin.local(nov_2(0, 0)) - nov_2(0, 0), 3600);
        let july = names::days_from_civil(2009, 7, 1) * 86_400;
        assert_eq!(berlin.local(july) - july, 7200);
        // 22:30 UTC on 1 July is 00:30 on 2 July in Berlin (summer time).
        let t = july + 22 * 3600 + 30 * 60;
        assert_eq!(names::date(berlin.local(t)), "2009-07-02");
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name() {
        let e = Zone::named("Mars/Olympus_Mons").unwrap_err();
        assert!(e.contains("Mars/Olympus_Mons") && e.contains("IANA"), "{e}");
        assert_eq!(Zone::named("utc").unwrap().name(), "UTC");
        assert_eq!(Zone::named("UTC").unwrap().local(12345), 12345);
    }
}
