//! The verdicts on a Glasnost test, side by side: the study's rules, Glasnost's own, and a
//! statistical test on the per-interval goodput; and the study's summary row.
//!
//! Inputs are plain [`Transfer`]s (kind, direction, port, repetition, goodput, outcome, and
//! the per-interval goodput), so the same functions run on a capture's transfers and on the
//! numbers printed in the study (the table tests do that).
//!
//! # The study's rules (section 3.4 and 4.1 of the seed study)
//! - A transfer *failed* when it was reset, never connected, or moved no data. Per kind,
//!   direction and port: BitTorrent failed where TCP worked (same direction and port): blocking
//!   by protocol; upload failed where download worked (same kind and port): by direction; the
//!   BitTorrent port failed where the neutral port worked (same kind and direction): by port.
//! - Rate limiting, per direction and port: "the slowest TCP transfer is at least twice as fast
//!   as the fastest BitTorrent transfer" (the stated rule); the study's tables also conclude row
//!   by row (repetition *i* of TCP against repetition *i* of BitTorrent), and its weekly
//!   conclusions follow the majority of rows. bttrace reports both; `limited` is true when
//!   either says so. The same between TCP on the BitTorrent port and TCP on the neutral port
//!   (a port rule slowing everything on 6881).
//!
//! # Glasnost's own rule
//! Per flow type, the maximum over repetitions and its noise, (max - median) / max. Noise over
//! 0.2 on either side: inconclusive. Otherwise a relative difference of the maxima over 0.2
//! (0.5 with only two repetitions; one repetition is inconclusive) is differentiation. Four
//! comparisons per direction: BitTorrent against control on each port, BitTorrent across
//! ports, control across ports.
//!
//! # The statistical verdict
//! On the per-interval goodput (all repetitions pooled), as Wehe does at its servers: a
//! two-sample Kolmogorov-Smirnov test and the "area", (mean control - mean BitTorrent) / the
//! larger mean. Differentiated when the area is at least 0.1 and p below 0.05; none when both
//! fail; inconclusive otherwise, or with fewer than 10 intervals a side. Each BitTorrent
//! transfer's series is also searched for a level shift (throttling that starts after some
//! bytes): the split, with at least 5 intervals each side, where the mean drops most; a drop to
//! less than half that its control twin does not show is reported.
//!
//! # The summary row
//! - `block_bt_app_port`, `block_bt_other_port`: `n/a` without a BitTorrent transfer on that
//!   port; `yes` when every BitTorrent transfer there failed, or one was reset with the study's
//!   signal (RSTs received, none sent); `inconclusive` when some failed without that signal
//!   while others worked; `no` when all worked.
//! - `throttle_bt_<direction>_<port>`: `n/a` unless a BitTorrent and a control transfer both
//!   completed there. `yes` only when the study's rule says limited (BitTorrent against control,
//!   or for the BitTorrent port also control across ports) *and* a noise-aware verdict
//!   (Glasnost's or the statistical one) confirms it on the same comparison; `inconclusive`
//!   when they disagree; `no` when none says limited. So noise alone never makes a `yes`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    #[serde(rename = "bittorrent")]
    Bt,
    /// The random-payload control ("TCP") transfer.
    #[serde(rename = "control")]
    Tcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    Upload,
    Download,
}

impl Proto {
    pub fn code(self) -> &'static str {
        match self {
            Proto::Bt => "bittorrent",
            Proto::Tcp => "control",
        }
    }
}

impl Dir {
    pub fn code(self) -> &'static str {
        match self {
            Dir::Upload => "upload",
            Dir::Download => "download",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortClass {
    /// The BitTorrent port (6881).
    App,
    /// The neutral port.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Reset,
    NoConnection,
    NoData,
}

impl PortClass {
    pub fn code(self) -> &'static str {
        match self {
            PortClass::App => "app",
            PortClass::Other => "other",
        }
    }
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Reset => "reset",
            Outcome::NoConnection => "no_connection",
            Outcome::NoData => "no_data",
        }
    }

    pub fn failed(self) -> bool {
        self != Outcome::Completed
    }
}

/// One transfer, as the verdicts need it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transfer {
    pub proto: Proto,
    /// `None` when the transfer carried too little to tell (it still counts for blocking).
    pub dir: Option<Dir>,
    pub port_class: PortClass,
    pub port: u16,
    pub repetition: u32,
    /// Goodput of the data phase, bits per second.
    pub goodput_bps: Option<f64>,
    pub outcome: Outcome,
    /// Reset with the study's signal: RSTs received and none sent by the server.
    pub signal: bool,
    /// One of its RSTs was judged `forged`: a middlebox reset it.
    pub forged: bool,
    /// Goodput per interval of the data phase, bits per second.
    #[serde(skip)]
    pub series_bps: Vec<f64>,
}

fn select(ts: &[Transfer], proto: Proto, dir: Dir, port: PortClass) -> Vec<&Transfer> {
    let mut v: Vec<&Transfer> = ts
        .iter()
        .filter(|t| t.proto == proto && t.dir == Some(dir) && t.port_class == port)
        .collect();
    v.sort_by_key(|t| t.repetition);
    v
}

fn speeds(ts: &[&Transfer]) -> Vec<f64> {
    ts.iter()
        .filter(|t| t.outcome == Outcome::Completed)
        .filter_map(|t| t.goodput_bps)
        .collect()
}

// ---------------------------------------------------------------- the study's rules

/// How one kind of transfer fared on one port and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fared {
    Worked,
    Failed,
    /// No such transfer in the test.
    Untested,
}

pub fn fared(ts: &[Transfer], proto: Proto, dir: Dir, port: PortClass) -> Fared {
    let sel = select(ts, proto, dir, port);
    if sel.is_empty() {
        Fared::Untested
    } else if sel.iter().any(|t| t.outcome.failed()) {
        Fared::Failed
    } else {
        Fared::Worked
    }
}

/// The blocking bases the study's deduction table finds.
pub fn blocking_basis(ts: &[Transfer]) -> Vec<&'static str> {
    use Fared::{Failed, Worked};
    let mut basis = Vec::new();
    let dirs = [Dir::Upload, Dir::Download];
    let ports = [PortClass::App, PortClass::Other];
    for d in dirs {
        for p in ports {
            if fared(ts, Proto::Bt, d, p) == Failed && fared(ts, Proto::Tcp, d, p) == Worked {
                basis.push("protocol");
            }
        }
    }
    for p in ports {
        for (a, b) in [(Dir::Upload, Dir::Download), (Dir::Download, Dir::Upload)] {
            if fared(ts, Proto::Bt, a, p) == Failed && fared(ts, Proto::Bt, b, p) == Worked {
                basis.push("direction");
            }
        }
    }
    for d in dirs {
        if fared(ts, Proto::Bt, d, PortClass::App) == Failed
            && fared(ts, Proto::Bt, d, PortClass::Other) == Worked
        {
            basis.push("port");
        }
    }
    basis.sort_unstable();
    basis.dedup();
    basis
}

/// One row of the study's rate-limiting tables.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub repetition: u32,
    /// The reference (TCP, or TCP on the neutral port) and the compared (BitTorrent, or TCP on
    /// the BitTorrent port), bits per second.
    pub reference_bps: Option<f64>,
    pub compared_bps: Option<f64>,
    /// The reference at least twice the compared: "Potential rate limiting".
    pub limited: Option<bool>,
}

/// A rate comparison under the study's rule.
#[derive(Debug, Clone, Serialize)]
pub struct StudyComparison {
    pub rows: Vec<Row>,
    /// The slowest reference transfer at least twice the fastest compared one.
    pub stated: Option<bool>,
    /// The majority of rows concluding "Potential rate limiting".
    pub rows_majority: Option<bool>,
    /// Either.
    pub limited: Option<bool>,
}

/// The study's comparison of `reference` (the faster-expected) against `compared`.
pub fn study_compare(reference: &[&Transfer], compared: &[&Transfer]) -> StudyComparison {
    let completed = |t: &&Transfer| {
        if t.outcome == Outcome::Completed {
            t.goodput_bps
        } else {
            None
        }
    };
    let n = reference.len().max(compared.len());
    let rows: Vec<Row> = (0..n)
        .map(|i| {
            let r = reference.get(i).and_then(completed);
            let c = compared.get(i).and_then(completed);
            Row {
                repetition: i as u32 + 1,
                reference_bps: r,
                compared_bps: c,
                limited: r.zip(c).map(|(r, c)| r >= 2.0 * c),
            }
        })
        .collect();
    let (rs, cs) = (speeds(reference), speeds(compared));
    let stated = (!rs.is_empty() && !cs.is_empty()).then(|| {
        let slowest = rs.iter().cloned().fold(f64::INFINITY, f64::min);
        let fastest = cs.iter().cloned().fold(0.0, f64::max);
        slowest >= 2.0 * fastest
    });
    let judged: Vec<bool> = rows.iter().filter_map(|r| r.limited).collect();
    let rows_majority =
        (!judged.is_empty()).then(|| judged.iter().filter(|&&l| l).count() * 2 > judged.len());
    let limited = match (stated, rows_majority) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
    };
    StudyComparison {
        rows,
        stated,
        rows_majority,
        limited,
    }
}

// ---------------------------------------------------------------- Glasnost's rule

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Diff {
    Differentiated,
    None,
    Inconclusive,
}

impl Diff {
    pub fn code(self) -> &'static str {
        match self {
            Diff::Differentiated => "differentiated",
            Diff::None => "none",
            Diff::Inconclusive => "inconclusive",
        }
    }
}

/// Maximum over repetitions and noise, (max - median) / max.
pub fn max_and_noise(v: &[f64]) -> Option<(f64, f64)> {
    let mut s: Vec<f64> = v.iter().cloned().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let max = *s.last()?;
    let median = if s.len() % 2 == 1 {
        *s.get(s.len() / 2)?
    } else {
        (*s.get(s.len() / 2 - 1)? + *s.get(s.len() / 2)?) / 2.0
    };
    let noise = if max > 0.0 { (max - median) / max } else { 0.0 };
    Some((max, noise))
}

#[derive(Debug, Clone, Serialize)]
pub struct GlasnostComparison {
    pub name: String,
    pub max_a: Option<f64>,
    pub noise_a: Option<f64>,
    pub max_b: Option<f64>,
    pub noise_b: Option<f64>,
    /// |max_a - max_b| / max(max_a, max_b).
    pub difference: Option<f64>,
    pub threshold: f64,
    pub verdict: Diff,
    /// When differentiated: `a` (the first named) is slower.
    pub a_slower: Option<bool>,
    pub why: String,
}

pub fn glasnost_compare(name: &str, a: &[f64], b: &[f64]) -> GlasnostComparison {
    let reps = a.len().min(b.len());
    let threshold = if reps == 2 { 0.5 } else { 0.2 };
    let (ma, mb) = (max_and_noise(a), max_and_noise(b));
    let mut c = GlasnostComparison {
        name: name.to_string(),
        max_a: ma.map(|x| x.0),
        noise_a: ma.map(|x| x.1),
        max_b: mb.map(|x| x.0),
        noise_b: mb.map(|x| x.1),
        difference: None,
        threshold,
        verdict: Diff::Inconclusive,
        a_slower: None,
        why: String::new(),
    };
    let (Some((xa, na)), Some((xb, nb))) = (ma, mb) else {
        c.why = "a side has no completed transfer".into();
        return c;
    };
    if reps < 2 {
        c.why = "one repetition: too few to judge noise".into();
        return c;
    }
    if na > 0.2 || nb > 0.2 {
        c.why = format!("too noisy (noise {na:.2} and {nb:.2}, limit 0.20)");
        return c;
    }
    let top = xa.max(xb);
    let d = if top > 0.0 {
        (xa - xb).abs() / top
    } else {
        0.0
    };
    c.difference = Some(d);
    if d > threshold {
        c.verdict = Diff::Differentiated;
        c.a_slower = Some(xa < xb);
        c.why = format!(
            "maxima differ by {:.0}% (more than {:.0}%)",
            d * 100.0,
            threshold * 100.0
        );
    } else {
        c.verdict = Diff::None;
        c.why = format!(
            "maxima within {:.0}% (at most {:.0}%)",
            d * 100.0,
            threshold * 100.0
        );
    }
    c
}

// ---------------------------------------------------------------- the statistical verdict

/// The asymptotic p-value of a two-sample Kolmogorov-Smirnov statistic `d` for samples of
/// sizes `n` and `m`.
pub fn ks_p_value(d: f64, n: usize, m: usize) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let ne = (n * m) as f64 / (n + m) as f64;
    let lambda = (ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d;
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = 2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    sum.clamp(0.0, 1.0)
}

/// The two-sample Kolmogorov-Smirnov statistic.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let mut x: Vec<f64> = a.iter().cloned().filter(|v| v.is_finite()).collect();
    let mut y: Vec<f64> = b.iter().cloned().filter(|v| v.is_finite()).collect();
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    let (n, m) = (x.len() as f64, y.len() as f64);
    while i < x.len() && j < y.len() {
        let (xi, yj) = (
            x.get(i).copied().unwrap_or(0.0),
            y.get(j).copied().unwrap_or(0.0),
        );
        let v = xi.min(yj);
        while x.get(i).is_some_and(|&xv| xv <= v) {
            i += 1;
        }
        while y.get(j).is_some_and(|&yv| yv <= v) {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    d
}

#[derive(Debug, Clone, Serialize)]
pub struct StatComparison {
    pub name: String,
    pub intervals_a: usize,
    pub intervals_b: usize,
    pub mean_a_bps: Option<f64>,
    pub mean_b_bps: Option<f64>,
    /// (mean_b - mean_a) / max(means): positive when `a` is slower.
    pub area: Option<f64>,
    pub ks_d: Option<f64>,
    pub p_value: Option<f64>,
    pub verdict: Diff,
    pub why: String,
}

const MIN_INTERVALS: usize = 10;
const AREA: f64 = 0.1;
const ALPHA: f64 = 0.05;

/// Wehe-style comparison: is `a` (BitTorrent) slower than `b` (the control)?
pub fn stat_compare(name: &str, a: &[f64], b: &[f64]) -> StatComparison {
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let (ma, mb) = (mean(a), mean(b));
    let mut c = StatComparison {
        name: name.to_string(),
        intervals_a: a.len(),
        intervals_b: b.len(),
        mean_a_bps: ma,
        mean_b_bps: mb,
        area: None,
        ks_d: None,
        p_value: None,
        verdict: Diff::Inconclusive,
        why: String::new(),
    };
    if a.len() < MIN_INTERVALS || b.len() < MIN_INTERVALS {
        c.why = format!(
            "too few intervals ({} and {}, need {MIN_INTERVALS})",
            a.len(),
            b.len()
        );
        return c;
    }
    let (Some(ma), Some(mb)) = (ma, mb) else {
        return c;
    };
    let top = ma.max(mb);
    let area = if top > 0.0 { (mb - ma) / top } else { 0.0 };
    let d = ks_statistic(a, b);
    let p = ks_p_value(d, a.len(), b.len());
    c.area = Some(area);
    c.ks_d = Some(d);
    c.p_value = Some(p);
    let (big, significant) = (area >= AREA, p < ALPHA);
    c.verdict = match (big, significant) {
        (true, true) => Diff::Differentiated,
        (false, false) => Diff::None,
        _ => Diff::Inconclusive,
    };
    c.why = format!("area {area:+.2} (threshold {AREA}), KS p = {p:.3} (threshold {ALPHA})");
    c
}

/// A drop in one transfer's goodput partway through.
#[derive(Debug, Clone, Serialize)]
pub struct LevelShift {
    /// Interval index where the lower level starts.
    pub at_interval: usize,
    pub before_bps: f64,
    pub after_bps: f64,
}

/// The split where the mean drops most, reported when the mean after is below half the mean
/// before and the drop lasts: the end-of-transfer drain (the last tenth of the intervals) is
/// left out, the lower level covers at least 30% of what remains (and 5 intervals), and its
/// last quarter is still below half the level before.
pub fn level_shift(series: &[f64]) -> Option<LevelShift> {
    const MIN_SIDE: usize = 5;
    let drain = (series.len() / 10).max(1);
    let series = series.get(..series.len().saturating_sub(drain))?;
    if series.len() < 2 * MIN_SIDE {
        return None;
    }
    let min_after = MIN_SIDE.max(series.len() * 3 / 10);
    let total: f64 = series.iter().sum();
    let mut before = 0.0;
    let mut best: Option<LevelShift> = None;
    for (k, v) in series.iter().enumerate().take(series.len() - min_after) {
        before += v;
        let n1 = k + 1;
        if n1 < MIN_SIDE {
            continue;
        }
        let m1 = before / n1 as f64;
        let m2 = (total - before) / (series.len() - n1) as f64;
        let drop = m1 - m2;
        if drop > 0.0
            && best
                .as_ref()
                .is_none_or(|b| drop > b.before_bps - b.after_bps)
        {
            best = Some(LevelShift {
                at_interval: n1,
                before_bps: m1,
                after_bps: m2,
            });
        }
    }
    best.filter(|b| b.after_bps < 0.5 * b.before_bps)
        .filter(|b| {
            let after = series.get(b.at_interval..).unwrap_or(&[]);
            let tail = after.get(after.len() * 3 / 4..).unwrap_or(&[]);
            !tail.is_empty() && tail.iter().sum::<f64>() / (tail.len() as f64) < 0.5 * b.before_bps
        })
}

// ---------------------------------------------------------------- the summary row

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cell {
    #[serde(rename = "yes")]
    Yes,
    #[serde(rename = "no")]
    No,
    #[serde(rename = "n/a")]
    NotApplicable,
    #[serde(rename = "inconclusive")]
    Inconclusive,
}

impl Cell {
    pub fn code(self) -> &'static str {
        match self {
            Cell::Yes => "yes",
            Cell::No => "no",
            Cell::NotApplicable => "n/a",
            Cell::Inconclusive => "inconclusive",
        }
    }
}

/// Everything said about one direction and port.
#[derive(Debug, Clone, Serialize)]
pub struct Throttling {
    pub dir: Dir,
    pub port_class: PortClass,
    /// BitTorrent against control (TCP) on this port.
    pub study: StudyComparison,
    pub glasnost: GlasnostComparison,
    pub statistical: StatComparison,
    /// For the BitTorrent port: control on it against control on the neutral port.
    pub study_ports: Option<StudyComparison>,
    pub glasnost_ports: Option<GlasnostComparison>,
    pub statistical_ports: Option<StatComparison>,
    pub cell: Cell,
    pub why: String,
}

fn pooled(ts: &[&Transfer]) -> Vec<f64> {
    ts.iter()
        .filter(|t| t.outcome == Outcome::Completed)
        .flat_map(|t| t.series_bps.iter().cloned())
        .collect()
}

pub fn throttling(ts: &[Transfer], dir: Dir, port: PortClass) -> Throttling {
    let bt = select(ts, Proto::Bt, dir, port);
    let tcp = select(ts, Proto::Tcp, dir, port);
    let study = study_compare(&tcp, &bt);
    let glasnost = glasnost_compare("BitTorrent against control", &speeds(&bt), &speeds(&tcp));
    let statistical = stat_compare("BitTorrent against control", &pooled(&bt), &pooled(&tcp));
    let (study_ports, glasnost_ports, statistical_ports) = if port == PortClass::App {
        let other = select(ts, Proto::Tcp, dir, PortClass::Other);
        (
            Some(study_compare(&other, &tcp)),
            Some(glasnost_compare(
                "control on the BitTorrent port against the neutral port",
                &speeds(&tcp),
                &speeds(&other),
            )),
            Some(stat_compare(
                "control on the BitTorrent port against the neutral port",
                &pooled(&tcp),
                &pooled(&other),
            )),
        )
    } else {
        (None, None, None)
    };
    let testable = !speeds(&bt).is_empty() && !speeds(&tcp).is_empty();
    let confirms = |g: &GlasnostComparison, s: &StatComparison| {
        (g.verdict == Diff::Differentiated && g.a_slower == Some(true))
            || s.verdict == Diff::Differentiated
    };
    let says = |c: &StudyComparison| c.limited == Some(true);
    let protocol = (says(&study), confirms(&glasnost, &statistical));
    let port_rule = match (&study_ports, &glasnost_ports, &statistical_ports) {
        (Some(sp), Some(gp), Some(tp)) => (says(sp), confirms(gp, tp)),
        _ => (false, false),
    };
    let (cell, why) = if !testable {
        (
            Cell::NotApplicable,
            "no completed BitTorrent and control transfers to compare".to_string(),
        )
    } else {
        match (protocol, port_rule) {
            ((true, true), _) => (Cell::Yes, "the study's rule and a noise-aware test agree: BitTorrent is slower than control".into()),
            (_, (true, true)) => (Cell::Yes, "the study's rule and a noise-aware test agree: everything on the BitTorrent port is slower".into()),
            ((true, false), _) | (_, (true, false)) => (Cell::Inconclusive, "the study's rule says limited, but no noise-aware test confirms it".into()),
            ((false, true), _) | (_, (false, true)) => (Cell::Inconclusive, "a noise-aware test finds a difference the study's rule does not".into()),
            _ => (Cell::No, "no rule finds BitTorrent slower".into()),
        }
    };
    Throttling {
        dir,
        port_class: port,
        study,
        glasnost,
        statistical,
        study_ports,
        glasnost_ports,
        statistical_ports,
        cell,
        why,
    }
}

/// The blocking cell for one port.
pub fn blocking_cell(ts: &[Transfer], port: PortClass) -> (Cell, String) {
    let bt: Vec<&Transfer> = ts
        .iter()
        .filter(|t| t.proto == Proto::Bt && t.port_class == port)
        .collect();
    if bt.is_empty() {
        return (
            Cell::NotApplicable,
            "no BitTorrent transfer on this port".into(),
        );
    }
    let failed = bt.iter().filter(|t| t.outcome.failed()).count();
    let forged = bt.iter().any(|t| t.outcome == Outcome::Reset && t.forged);
    let signalled = bt.iter().any(|t| t.outcome == Outcome::Reset && t.signal);
    // Everything failing, control transfers and the other port too, says the network (or the
    // server) failed, not that BitTorrent was singled out, unless a reset is proven forged.
    let everything_failed = ts.iter().all(|t| t.outcome.failed());
    let never = bt.iter().all(|t| t.outcome == Outcome::NoConnection);
    if forged {
        (
            Cell::Yes,
            "a BitTorrent transfer was reset by an RST bttrace judged forged".into(),
        )
    } else if everything_failed && ts.len() > bt.len() {
        (
            Cell::Inconclusive,
            "every transfer of the test failed, control transfers too, with no reset proven forged"
                .into(),
        )
    } else if failed == bt.len() {
        let why = if never {
            "no connection on this port was ever possible"
        } else {
            "every BitTorrent transfer on this port failed"
        };
        (Cell::Yes, why.into())
    } else if signalled {
        (
            Cell::Yes,
            "a BitTorrent transfer was reset by RSTs the server received and never sent".into(),
        )
    } else if failed > 0 {
        (
            Cell::Inconclusive,
            format!(
                "{failed} of {} BitTorrent transfers failed, without a forged reset or the study's signal",
                bt.len()
            ),
        )
    } else {
        (
            Cell::No,
            "every BitTorrent transfer on this port worked".into(),
        )
    }
}

/// The study's summary row (seed section 8.1), with the reasoning per cell.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub block_bt_app_port: Cell,
    pub block_bt_other_port: Cell,
    pub throttle_bt_upload_app_port: Cell,
    pub throttle_bt_upload_other_port: Cell,
    pub throttle_bt_download_app_port: Cell,
    pub throttle_bt_download_other_port: Cell,
    pub blocking_basis: Vec<&'static str>,
    pub throttling_basis: Vec<&'static str>,
    /// One sentence per cell, in the order above.
    pub why: Vec<String>,
}

/// The names of the summary row's cells, in order (the JSON and CSV column names).
pub const SUMMARY_CELLS: [&str; 6] = [
    "block_bt_app_port",
    "block_bt_other_port",
    "throttle_bt_upload_app_port",
    "throttle_bt_upload_other_port",
    "throttle_bt_download_app_port",
    "throttle_bt_download_other_port",
];

impl Summary {
    /// The six cells in the order of [`SUMMARY_CELLS`].
    pub fn cells(&self) -> [Cell; 6] {
        [
            self.block_bt_app_port,
            self.block_bt_other_port,
            self.throttle_bt_upload_app_port,
            self.throttle_bt_upload_other_port,
            self.throttle_bt_download_app_port,
            self.throttle_bt_download_other_port,
        ]
    }
}

/// All verdicts on a test.
#[derive(Debug, Clone, Serialize)]
pub struct Verdicts {
    pub summary: Summary,
    pub throttling: Vec<Throttling>,
    /// Level shifts found in BitTorrent transfers (throttling that starts after some bytes):
    /// (direction, port class, repetition, the shift).
    pub level_shifts: Vec<(Dir, PortClass, u32, LevelShift)>,
}

pub fn verdicts(ts: &[Transfer]) -> Verdicts {
    let (block_app, why_app) = blocking_cell(ts, PortClass::App);
    let (block_other, why_other) = blocking_cell(ts, PortClass::Other);
    let mut throttling_list = Vec::new();
    for dir in [Dir::Upload, Dir::Download] {
        for port in [PortClass::App, PortClass::Other] {
            throttling_list.push(throttling(ts, dir, port));
        }
    }
    let cell = |d: Dir, p: PortClass| {
        throttling_list
            .iter()
            .find(|t| t.dir == d && t.port_class == p)
            .map_or((Cell::NotApplicable, String::new()), |t| {
                (t.cell, t.why.clone())
            })
    };
    let (u_app, u_other) = (
        cell(Dir::Upload, PortClass::App),
        cell(Dir::Upload, PortClass::Other),
    );
    let (d_app, d_other) = (
        cell(Dir::Download, PortClass::App),
        cell(Dir::Download, PortClass::Other),
    );
    let mut throttling_basis = Vec::new();
    for t in &throttling_list {
        if t.cell != Cell::Yes {
            continue;
        }
        let by_protocol = t.study.limited == Some(true);
        if by_protocol {
            throttling_basis.push("protocol");
        }
        if t.study_ports
            .as_ref()
            .is_some_and(|s| s.limited == Some(true))
        {
            throttling_basis.push("port");
        }
    }
    let yes = |c: Cell| c == Cell::Yes;
    if (yes(u_app.0) || yes(u_other.0)) != (yes(d_app.0) || yes(d_other.0)) {
        throttling_basis.push("direction");
    }
    throttling_basis.sort_unstable();
    throttling_basis.dedup();
    let mut level_shifts = Vec::new();
    for t in ts
        .iter()
        .filter(|t| t.proto == Proto::Bt && t.outcome == Outcome::Completed)
    {
        let Some(dir) = t.dir else { continue };
        if let Some(s) = level_shift(&t.series_bps) {
            // Reported only when the control twin (same repetition) does not drop too.
            let twin = ts.iter().find(|c| {
                c.proto == Proto::Tcp
                    && c.dir == t.dir
                    && c.port_class == t.port_class
                    && c.repetition == t.repetition
            });
            if twin.is_none_or(|c| level_shift(&c.series_bps).is_none()) {
                level_shifts.push((dir, t.port_class, t.repetition, s));
            }
        }
    }
    // A throttle that starts only after the first bytes of each transfer: the averages may
    // differ too little for the rules, but the BitTorrent transfers' rate falls and stays low
    // while their control twins' does not. Consistent shifts in at least half of a cell's
    // BitTorrent transfers, to below half the control transfers' goodput, settle a cell the
    // rules left inconclusive.
    let shifted = |d: Dir, p: PortClass| -> Option<String> {
        let bt = select(ts, Proto::Bt, d, p);
        let done = bt
            .iter()
            .filter(|t| t.outcome == Outcome::Completed)
            .count();
        let shifts: Vec<&LevelShift> = level_shifts
            .iter()
            .filter(|(sd, sp, _, _)| *sd == d && *sp == p)
            .map(|(_, _, _, s)| s)
            .collect();
        let control = speeds(&select(ts, Proto::Tcp, d, p));
        let mut control_sorted = control.clone();
        control_sorted.sort_by(f64::total_cmp);
        let typical = control_sorted.get(control_sorted.len() / 2).copied()?;
        let low = shifts.iter().all(|s| s.after_bps < 0.5 * typical);
        (done > 0 && 2 * shifts.len() >= done && low).then(|| {
            format!(
                "BitTorrent slowed partway through in {} of {done} transfers, to below half the control transfers' goodput, and stayed slow; the control transfers did not",
                shifts.len()
            )
        })
    };
    let settle = |cell: &mut (Cell, String), d: Dir, p: PortClass| {
        if cell.0 == Cell::Inconclusive {
            if let Some(why) = shifted(d, p) {
                *cell = (Cell::Yes, why);
            }
        }
    };
    let (mut u_app, mut u_other, mut d_app, mut d_other) = (u_app, u_other, d_app, d_other);
    settle(&mut u_app, Dir::Upload, PortClass::App);
    settle(&mut u_other, Dir::Upload, PortClass::Other);
    settle(&mut d_app, Dir::Download, PortClass::App);
    settle(&mut d_other, Dir::Download, PortClass::Other);
    Verdicts {
        summary: Summary {
            block_bt_app_port: block_app,
            block_bt_other_port: block_other,
            throttle_bt_upload_app_port: u_app.0,
            throttle_bt_upload_other_port: u_other.0,
            throttle_bt_download_app_port: d_app.0,
            throttle_bt_download_other_port: d_other.0,
            blocking_basis: blocking_basis(ts),
            throttling_basis,
            why: vec![why_app, why_other, u_app.1, u_other.1, d_app.1, d_other.1],
        },
        throttling: throttling_list,
        level_shifts,
    }
}

#[cfg(test)]
mod tests;
