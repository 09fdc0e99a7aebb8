//! The tables' schemas: each table is one list of columns, a column being its name, its type
//! and how its value is read from a row. The CSV header and records ([`super::csv`]) and the
//! Parquet schema and columns ([`super::parquet`]) are all derived from that one list, so a
//! column is added in one place and the writers cannot disagree by position.
//!
//! A column's type never depends on the data: counts are integers, flags booleans (empty when
//! not known, never a word), times seconds since the epoch (with an ISO 8601 `_utc` column
//! beside), several values a list (Parquet) or space-separated (CSV).

use crate::btparse::MsgKind;
use crate::glasnost::TestReport;
use crate::glasnost::names::{self, WEEKDAYS};
use crate::glasnost::verdict::{Outcome, SUMMARY_CELLS};
use crate::model::{BtSideReport, CaptureReport, FlowReport, MessageReport, RstReport};
use crate::rst::Verdict;

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A count, a frame number, a byte offset: a 64-bit integer.
    Int,
    /// A port, a TTL, a window: a 32-bit integer.
    Int32,
    /// A speed, a duration.
    Float,
    /// `true` / `false`; empty (null) when not known.
    Bool,
    /// Seconds since the epoch; in Parquet a UTC timestamp in microseconds.
    Time,
    /// `YYYY-MM-DD` (UTC).
    Date,
    /// Free text (a file name, an error, a sentence): defused for spreadsheets in CSV.
    Text,
    /// An identifier or code written as it is (an address, a hex hash, a display filter).
    Id,
    /// One of a few values: dictionary-encoded in Parquet.
    Enum,
    /// Integers; space-separated in CSV.
    IntList,
    /// Words; space-separated in CSV.
    WordList,
}

/// A cell's value, of its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Seconds since the epoch.
    Time(f64),
    /// Days since 1970-01-01.
    Date(i64),
    Str(String),
    Ints(Vec<i64>),
    Words(Vec<String>),
}

impl Value {
    /// Whether the value may stand in a column of type `t`.
    pub fn fits(&self, t: Ty) -> bool {
        matches!(
            (self, t),
            (Value::Null, _)
                | (Value::Int(_), Ty::Int | Ty::Int32)
                | (Value::Float(_), Ty::Float)
                | (Value::Bool(_), Ty::Bool)
                | (Value::Time(_), Ty::Time)
                | (Value::Date(_), Ty::Date)
                | (Value::Str(_), Ty::Text | Ty::Id | Ty::Enum)
                | (Value::Ints(_), Ty::IntList)
                | (Value::Words(_), Ty::WordList)
        )
    }
}

fn int(x: impl TryInto<i64>) -> Value {
    x.try_into().map_or(Value::Null, Value::Int)
}

fn opt_int<T: TryInto<i64>>(x: Option<T>) -> Value {
    x.map_or(Value::Null, int)
}

fn float(x: Option<f64>) -> Value {
    x.filter(|x| x.is_finite())
        .map_or(Value::Null, Value::Float)
}

fn time(x: Option<f64>) -> Value {
    x.filter(|x| x.is_finite()).map_or(Value::Null, Value::Time)
}

fn s(x: impl Into<String>) -> Value {
    Value::Str(x.into())
}

fn opt_s<T: Into<String>>(x: Option<T>) -> Value {
    x.map_or(Value::Null, s)
}

fn words<T: ToString>(x: &[T]) -> Value {
    Value::Words(x.iter().map(T::to_string).collect())
}

/// A table: the row type its columns read.
pub trait Table: 'static {
    /// The file name without extension (`flows` for `flows.csv` and `flows/NAME.parquet`).
    const NAME: &'static str;
    type Row<'a>;
    /// The columns, in order.
    fn schema() -> &'static [Column<Self>]
    where
        Self: Sized;
}

/// How a column's value is read from a row.
pub type Getter<K> = Box<dyn for<'r, 'a> Fn(&'r <K as Table>::Row<'a>) -> Value + Send + Sync>;

/// One column: name, type, the value of a row; `decimals`: how many places CSV keeps of a
/// number or time (`None`: the shortest text that reads back as the same number).
pub struct Column<K: Table> {
    pub name: String,
    pub ty: Ty,
    pub decimals: Option<usize>,
    pub get: Getter<K>,
}

impl<K: Table> Column<K> {
    pub fn new(
        name: impl Into<String>,
        ty: Ty,
        get: impl for<'r, 'a> Fn(&'r K::Row<'a>) -> Value + Send + Sync + 'static,
    ) -> Column<K> {
        let decimals = match ty {
            Ty::Time => Some(6),
            _ => None,
        };
        Column {
            name: name.into(),
            ty,
            decimals,
            get: Box::new(get),
        }
    }

    /// CSV keeps `n` decimals of this number.
    pub fn dp(mut self, n: usize) -> Column<K> {
        self.decimals = Some(n);
        self
    }
}

/// The names of a table's columns, in order.
pub fn names<K: Table>() -> Vec<String> {
    K::schema().iter().map(|c| c.name.clone()).collect()
}

/// ISO 8601 UTC of seconds since the epoch, to the microsecond:
/// `2009-11-03T12:00:00.250000Z`.
pub fn utc(t: f64) -> Option<String> {
    if !t.is_finite() || t.abs() > 1e13 {
        return None;
    }
    let us = (t * 1e6).round() as i64;
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    Some(format!("{}.{frac:06}Z", names::utc_name(secs)))
}

/// A time column named `name` and its ISO 8601 `name_utc` twin.
fn time_pair<K: Table>(
    name: &str,
    get: impl for<'r, 'a> Fn(&'r K::Row<'a>) -> Option<f64> + Send + Sync + Clone + 'static,
) -> [Column<K>; 2] {
    let g = get.clone();
    [
        Column::new(name, Ty::Time, move |r| time(get(r))),
        Column::new(format!("{name}_utc"), Ty::Id, move |r| {
            opt_s(g(r).and_then(utc))
        }),
    ]
}

fn static_schema<K: Table>(
    cell: &'static std::sync::OnceLock<Vec<Column<K>>>,
    make: fn() -> Vec<Column<K>>,
) -> &'static [Column<K>] {
    cell.get_or_init(make)
}

// ---------------------------------------------------------------- captures

/// The captures table: one row per capture, failed ones included.
pub struct Captures;

impl Table for Captures {
    const NAME: &'static str = "captures";
    type Row<'a> = &'a CaptureReport;
    fn schema() -> &'static [Column<Captures>] {
        static S: std::sync::OnceLock<Vec<Column<Captures>>> = std::sync::OnceLock::new();
        static_schema(&S, capture_columns)
    }
}

fn count_forged<'a>(rsts: impl Iterator<Item = &'a RstReport>) -> usize {
    rsts.filter(|x| x.verdict == Some(Verdict::Forged)).count()
}

fn capture_columns() -> Vec<Column<Captures>> {
    type C = Column<Captures>;
    let mut v: Vec<C> = vec![
        C::new("capture", Ty::Text, |r| s(&r.path)),
        C::new("error", Ty::Text, |r| opt_s(r.error.as_deref())),
        C::new("capture_format", Ty::Enum, |r| {
            opt_s(r.format.map(|f| f.to_string()))
        }),
        C::new("gzip", Ty::Bool, |r| Value::Bool(r.gzip)),
        C::new("frames", Ty::Int, |r| int(r.frames)),
        C::new("tcp_segments", Ty::Int, |r| int(r.tcp_segments)),
        C::new("skipped_frames", Ty::Int, |r| int(r.skipped_total())),
        C::new("flows", Ty::Int, |r| int(r.flows.len())),
        C::new("flows_retired", Ty::Int, |r| {
            int(r.flows_retired.map_or(0, |o| o.flows))
        }),
        C::new("retired_packets", Ty::Int, |r| {
            int(r.flows_retired.map_or(0, |o| o.packets))
        }),
        C::new("retired_payload_bytes", Ty::Int, |r| {
            int(r.flows_retired.map_or(0, |o| o.payload_bytes))
        }),
        C::new("tests", Ty::Int, |r| int(r.tests.len())),
    ];
    v.extend(time_pair("first_time", |r: &&CaptureReport| r.first_time));
    v.extend(time_pair("last_time", |r: &&CaptureReport| r.last_time));
    v.extend([
        C::new("generation", Ty::Enum, |r| {
            opt_s(r.glasnost.as_ref().map(|g| g.generation.code()))
        }),
        C::new("client_ip", Ty::Id, |r| opt_s(r.client_address())),
        C::new("client_host", Ty::Text, |r| opt_s(r.client_host())),
        C::new("test_time", Ty::Int, |r| opt_int(r.test_time())),
        C::new("test_date", Ty::Date, |r| {
            r.test_time()
                .map_or(Value::Null, |t| Value::Date(t.div_euclid(86_400)))
        }),
        C::new("test_weekday", Ty::Enum, |r| {
            opt_s(r.test_time().map(|t| WEEKDAYS[names::weekday(t) as usize]))
        }),
        C::new("log_path", Ty::Text, |r| {
            opt_s(r.glasnost.as_ref().and_then(|g| g.log_path.as_deref()))
        }),
        C::new("schedule_from", Ty::Enum, |r| {
            opt_s(r.glasnost.as_ref().map(|g| g.schedule_from.code()))
        }),
        C::new("app_port", Ty::Int32, |r| {
            opt_int(r.glasnost.as_ref().and_then(|g| g.app_port))
        }),
        C::new("other_port", Ty::Int32, |r| {
            opt_int(r.glasnost.as_ref().and_then(|g| g.other_port))
        }),
    ]);
    for (i, name) in SUMMARY_CELLS.into_iter().enumerate() {
        v.push(C::new(name, Ty::Enum, move |r| {
            opt_s(r.summary.as_ref().map(|s| s.cells()[i].code()))
        }));
    }
    v.extend([
        C::new("blocking_basis", Ty::WordList, |r| {
            r.summary
                .as_ref()
                .map_or(Value::Words(Vec::new()), |s| words(&s.blocking_basis))
        }),
        C::new("throttling_basis", Ty::WordList, |r| {
            r.summary
                .as_ref()
                .map_or(Value::Words(Vec::new()), |s| words(&s.throttling_basis))
        }),
        C::new("tests_reset", Ty::Int, |r| {
            int(r
                .tests
                .iter()
                .filter(|t| t.outcome == Outcome::Reset)
                .count())
        }),
        C::new("tests_no_connection", Ty::Int, |r| {
            int(r
                .tests
                .iter()
                .filter(|t| t.outcome == Outcome::NoConnection)
                .count())
        }),
        C::new("rsts", Ty::Int, |r| {
            int(r.flows.iter().map(|f| f.rsts_seen).sum::<u64>())
        }),
        C::new("rsts_judged", Ty::Int, |r| {
            int(r.flows.iter().map(|f| f.rsts.len()).sum::<usize>())
        }),
        C::new("rsts_forged", Ty::Int, |r| {
            int(count_forged(r.flows.iter().flat_map(|f| &f.rsts)))
        }),
        C::new("notes", Ty::Text, |r| {
            let mut notes: Vec<String> = r.notes.iter().map(|n| n.to_string()).collect();
            if let Some(g) = &r.glasnost {
                notes.extend(g.notes.iter().cloned());
            }
            s(notes.join("; "))
        }),
    ]);
    v
}

// ---------------------------------------------------------------- tests

/// The tests table: one row per Glasnost transfer.
pub struct Tests;

/// A row of the tests table: the capture, the transfer's number (from 1) and the transfer.
pub struct TestRow<'a> {
    pub capture: &'a CaptureReport,
    pub number: usize,
    pub test: &'a TestReport,
}

impl Table for Tests {
    const NAME: &'static str = "tests";
    type Row<'a> = TestRow<'a>;
    fn schema() -> &'static [Column<Tests>] {
        static S: std::sync::OnceLock<Vec<Column<Tests>>> = std::sync::OnceLock::new();
        static_schema(&S, test_columns)
    }
}

fn test_columns() -> Vec<Column<Tests>> {
    type C = Column<Tests>;
    vec![
        C::new("capture", Ty::Text, |r| s(&r.capture.path)),
        C::new("test", Ty::Int, |r| int(r.number)),
        C::new("kind", Ty::Enum, |r| s(r.test.kind.code())),
        C::new("direction", Ty::Enum, |r| {
            opt_s(r.test.direction.map(|d| d.code()))
        }),
        C::new("port", Ty::Int32, |r| int(r.test.port)),
        C::new("port_class", Ty::Enum, |r| s(r.test.port_class.code())),
        C::new("repetition", Ty::Int32, |r| int(r.test.repetition)),
        C::new("outcome", Ty::Enum, |r| s(r.test.outcome.code())),
        // At full precision (the shortest text that reads back as the same number): `bttrace
        // report` on the tables then gives the report the captures give.
        C::new("goodput_bps", Ty::Float, |r| float(r.test.goodput_bps)),
        C::new("data_bytes", Ty::Int, |r| int(r.test.data_bytes)),
        C::new("data_seconds", Ty::Float, |r| float(r.test.data_seconds)).dp(6),
        C::new("flow", Ty::Int, |r| int(r.test.flow)),
        C::new("rsts", Ty::Int, |r| int(r.test.rsts.len())),
        C::new("rsts_forged", Ty::Int, |r| {
            int(r
                .test
                .rsts
                .iter()
                .filter(|x| x.verdict == Some(Verdict::Forged))
                .count())
        }),
        C::new("rst_frames", Ty::IntList, |r| {
            Value::Ints(r.test.rsts.iter().map(|x| x.frame as i64).collect())
        }),
        C::new("reset_after_bt_exchange_ms", Ty::Float, |r| {
            float(r.test.reset_after_bt_exchange_ms)
        })
        .dp(3),
        C::new("blocking_signal", Ty::Bool, |r| {
            Value::Bool(r.test.blocking_signal)
        }),
        C::new("guessed", Ty::WordList, |r| words(&r.test.guessed)),
        C::new("log_bps", Ty::Float, |r| {
            float(r.test.log.as_ref().and_then(|l| l.bps))
        })
        .dp(0),
        C::new("log_disagrees", Ty::Text, |r| {
            s(r.test.log_disagrees.join("; "))
        }),
    ]
}

// ---------------------------------------------------------------- flows

/// The flows table: one row per flow; a capture that failed gets one row carrying its error.
pub struct Flows;

/// A row of the flows table: the capture and one of its flows (none: the capture failed).
pub struct FlowRow<'a> {
    pub capture: &'a CaptureReport,
    pub flow: Option<&'a FlowReport>,
}

impl Table for Flows {
    const NAME: &'static str = "flows";
    type Row<'a> = FlowRow<'a>;
    fn schema() -> &'static [Column<Flows>] {
        static S: std::sync::OnceLock<Vec<Column<Flows>>> = std::sync::OnceLock::new();
        static_schema(&S, flow_columns)
    }
}

/// A flows column read from the flow (null on a failed capture's row).
fn fc(
    name: impl Into<String>,
    ty: Ty,
    get: impl Fn(&FlowReport) -> Value + Send + Sync + 'static,
) -> Column<Flows> {
    Column::new(name, ty, move |r: &FlowRow<'_>| {
        r.flow.map_or(Value::Null, &get)
    })
}

/// A per-side BitTorrent column, for the client's (`_up`) or the server's (`_down`) side.
fn bt_side(
    name: &str,
    up: bool,
    ty: Ty,
    get: impl Fn(&BtSideReport) -> Value + Send + Sync + 'static,
) -> Column<Flows> {
    let suffix = if up { "up" } else { "down" };
    fc(format!("{name}_{suffix}"), ty, move |f| {
        f.bittorrent
            .as_ref()
            .map(|b| if up { &b.client } else { &b.server })
            .map_or(Value::Null, &get)
    })
}

fn flow_columns() -> Vec<Column<Flows>> {
    type C = Column<Flows>;
    let mut v: Vec<C> = vec![
        C::new("capture", Ty::Text, |r| s(&r.capture.path)),
        fc("id", Ty::Int, |f| int(f.id)),
        fc("tcp_stream", Ty::Int, |f| opt_int(f.tcp_stream)),
        fc("community_id", Ty::Id, |f| s(&f.community_id)),
        fc("client", Ty::Id, |f| s(&f.client)),
        fc("server", Ty::Id, |f| s(&f.server)),
        fc("kind", Ty::Enum, |f| opt_s(f.kind.map(|k| k.code()))),
        fc("direction", Ty::Enum, |f| {
            opt_s(f.direction.map(|d| d.code()))
        }),
        fc("port", Ty::Int32, |f| int(f.port)),
        fc("established", Ty::Bool, |f| Value::Bool(f.established)),
        fc("roles", Ty::Enum, |f| s(f.roles.code())),
        fc("instance", Ty::Int, |f| int(f.instance)),
        fc("first_frame", Ty::Int, |f| int(f.first_frame)),
        fc("last_frame", Ty::Int, |f| int(f.last_frame)),
    ];
    v.extend(time_pair("start_time", |r: &FlowRow<'_>| {
        r.flow.map(|f| f.start)
    }));
    v.extend(time_pair("end_time", |r: &FlowRow<'_>| {
        r.flow.map(|f| f.end)
    }));
    v.extend([
        fc("duration_s", Ty::Float, |f| float(Some(f.duration_s))).dp(6),
        fc("rtt_ms", Ty::Float, |f| float(f.rtt_ms)).dp(3),
        fc("packets_up", Ty::Int, |f| int(f.packets_up)),
        fc("packets_down", Ty::Int, |f| int(f.packets_down)),
        fc("payload_up", Ty::Int, |f| int(f.payload_up)),
        fc("payload_down", Ty::Int, |f| int(f.payload_down)),
        fc("bytes_up", Ty::Int, |f| int(f.bytes_up)),
        fc("bytes_down", Ty::Int, |f| int(f.bytes_down)),
        fc("retrans_up", Ty::Int, |f| int(f.retrans_up)),
        fc("retrans_down", Ty::Int, |f| int(f.retrans_down)),
        fc("truncated_up", Ty::Int, |f| int(f.truncated_up)),
        fc("truncated_down", Ty::Int, |f| int(f.truncated_down)),
        fc("missing_up", Ty::Int, |f| int(f.missing_up)),
        fc("missing_down", Ty::Int, |f| int(f.missing_down)),
        fc("unassembled_up", Ty::Int, |f| int(f.unassembled_up)),
        fc("unassembled_down", Ty::Int, |f| int(f.unassembled_down)),
        fc("overlap_mismatches", Ty::Int, |f| int(f.overlap_mismatches)),
        fc("goodput_bps", Ty::Float, |f| float(f.goodput_bps)).dp(0),
        fc("close_state", Ty::Enum, |f| s(f.close.code())),
        fc("rsts", Ty::Int, |f| int(f.rsts_seen)),
        fc("rsts_judged", Ty::Int, |f| int(f.rsts_judged)),
        fc("rst_frames", Ty::IntList, |f| {
            Value::Ints(f.rsts.iter().map(|r| r.frame as i64).collect())
        }),
        fc("rsts_forged", Ty::Int, |f| int(count_forged(f.rsts.iter()))),
        fc("rsts_inconclusive", Ty::Int, |f| {
            int(f
                .rsts
                .iter()
                .filter(|r| r.verdict == Some(Verdict::Inconclusive))
                .count())
        }),
        fc("vantage", Ty::Enum, |f| s(f.vantage.code())),
        fc("blocking_signal", Ty::Bool, |f| {
            f.blocking
                .as_ref()
                .map_or(Value::Null, |b| Value::Bool(b.signal))
        }),
        fc("reset_before_data", Ty::Bool, |f| {
            f.blocking
                .as_ref()
                .map_or(Value::Null, |b| Value::Bool(b.before_data))
        }),
        fc("reset_after_bt_exchange_ms", Ty::Float, |f| {
            float(f.blocking.as_ref().and_then(|b| b.after_bt_exchange_ms))
        })
        .dp(3),
        fc("wireshark_filter", Ty::Id, |f| s(&f.filter)),
        fc("info_hash", Ty::Id, |f| {
            opt_s(f.bittorrent.as_ref().and_then(|b| b.info_hash.clone()))
        }),
    ]);
    type Side = fn(&BtSideReport) -> Value;
    let sides: [(&str, Ty, Side); 11] = [
        ("peer_id", Ty::Id, |s| {
            opt_s(s.handshake.as_ref().and_then(|h| h.peer_id.clone()))
        }),
        ("peer_client", Ty::Text, |s| {
            opt_s(s.handshake.as_ref().and_then(|h| h.peer_client.clone()))
        }),
        ("reserved_flags", Ty::WordList, |s| {
            s.handshake
                .as_ref()
                .map_or(Value::Null, |h| words(&h.flags))
        }),
        ("ext_client", Ty::Text, |s| {
            opt_s(s.extended.as_ref().and_then(|e| e.client.clone()))
        }),
        ("preamble_bytes", Ty::Int, |s| opt_int(s.preamble_bytes)),
        ("handshake_time", Ty::Time, |s| {
            time(s.handshake.as_ref().map(|h| h.time))
        }),
        ("bitfield_time", Ty::Time, |s| {
            time(s.first.get("bitfield").map(|b| b.time))
        }),
        ("piece_bytes", Ty::Int, |s| int(s.piece_bytes)),
        ("framing", Ty::Enum, |s| self::s(s.framing.code())),
        ("lost_at", Ty::Int, |s| opt_int(s.lost_at)),
        ("unparsed_bytes", Ty::Int, |s| int(s.unparsed_bytes)),
    ];
    for (name, ty, get) in sides {
        v.push(bt_side(name, true, ty, get));
        v.push(bt_side(name, false, ty, get));
    }
    for k in MsgKind::ALL {
        for up in [true, false] {
            // A flow with no peer-wire view (no payload) sent no messages: 0, not unknown.
            let name = format!("msgs_{}_{}", k.code(), if up { "up" } else { "down" });
            v.push(fc(name, Ty::Int, move |f| {
                let side = f
                    .bittorrent
                    .as_ref()
                    .map(|b| if up { &b.client } else { &b.server });
                int(side
                    .and_then(|s| s.messages.get(k.code()).copied())
                    .unwrap_or(0))
            }));
        }
    }
    v.push(C::new("error", Ty::Text, |r| match r.flow {
        None => opt_s(r.capture.error.as_deref()),
        Some(_) => Value::Null,
    }));
    v
}

// ---------------------------------------------------------------- RSTs

/// The RSTs table: one row per RST judged, with its verdict and evidence.
pub struct Rsts;

/// A row of the RSTs table.
pub struct RstRow<'a> {
    pub capture: &'a CaptureReport,
    pub flow: &'a FlowReport,
    pub rst: &'a RstReport,
}

impl Table for Rsts {
    const NAME: &'static str = "rsts";
    type Row<'a> = RstRow<'a>;
    fn schema() -> &'static [Column<Rsts>] {
        static S: std::sync::OnceLock<Vec<Column<Rsts>>> = std::sync::OnceLock::new();
        static_schema(&S, rst_columns)
    }
}

fn rst_columns() -> Vec<Column<Rsts>> {
    type C = Column<Rsts>;
    let mut v = vec![
        C::new("capture", Ty::Text, |r| s(&r.capture.path)),
        C::new("flow", Ty::Int, |r| int(r.flow.id)),
        C::new("tcp_stream", Ty::Int, |r| opt_int(r.flow.tcp_stream)),
        C::new("client", Ty::Id, |r| s(&r.flow.client)),
        C::new("server", Ty::Id, |r| s(&r.flow.server)),
        C::new("kind", Ty::Enum, |r| opt_s(r.flow.kind.map(|k| k.code()))),
        C::new("vantage", Ty::Enum, |r| s(r.flow.vantage.code())),
        C::new("frame", Ty::Int, |r| int(r.rst.frame)),
    ];
    v.extend(time_pair("frame_time", |r: &RstRow<'_>| Some(r.rst.time)));
    v.extend([
        C::new("rel_time", Ty::Float, |r| float(Some(r.rst.rel_time))).dp(6),
        C::new("sender", Ty::Enum, |r| s(r.rst.from.code())),
        C::new("tcp_flags", Ty::Enum, |r| s(&r.rst.flags)),
        C::new("seq", Ty::Int, |r| int(r.rst.seq)),
        C::new("ack", Ty::Int, |r| opt_int(r.rst.ack)),
        C::new("ttl", Ty::Int32, |r| int(r.rst.ttl)),
        C::new("ip_id", Ty::Int32, |r| opt_int(r.rst.ip_id)),
        C::new("tcp_window", Ty::Int32, |r| int(r.rst.window)),
        C::new("verdict", Ty::Enum, |r| {
            opt_s(r.rst.verdict.map(Verdict::code))
        }),
        C::new("evidence", Ty::WordList, |r| words(&r.rst.evidence)),
        C::new("explanation", Ty::Text, |r| {
            let e: Vec<String> = r
                .rst
                .findings
                .iter()
                .map(|e| format!("{} ({}): {}", e.code, e.strength, e.text))
                .collect();
            s(e.join("; "))
        }),
        C::new("wireshark_filter", Ty::Id, |r| s(&r.rst.filter)),
    ]);
    v
}

// ---------------------------------------------------------------- messages

/// The messages table: with `--messages`, every peer-wire message decoded, both directions
/// in frame order (empty without `--messages`).
pub struct Messages;

/// A row of the messages table.
pub struct MessageRow<'a> {
    pub capture: &'a CaptureReport,
    pub flow: &'a FlowReport,
    pub message: &'a MessageReport,
}

impl Table for Messages {
    const NAME: &'static str = "messages";
    type Row<'a> = MessageRow<'a>;
    fn schema() -> &'static [Column<Messages>] {
        static S: std::sync::OnceLock<Vec<Column<Messages>>> = std::sync::OnceLock::new();
        static_schema(&S, message_columns)
    }
}

fn message_columns() -> Vec<Column<Messages>> {
    type C = Column<Messages>;
    let mut v = vec![
        C::new("capture", Ty::Text, |r| s(&r.capture.path)),
        C::new("flow", Ty::Int, |r| int(r.flow.id)),
        C::new("tcp_stream", Ty::Int, |r| opt_int(r.flow.tcp_stream)),
        C::new("frame", Ty::Int, |r| int(r.message.frame)),
    ];
    v.extend(time_pair("frame_time", |r: &MessageRow<'_>| {
        Some(r.message.time)
    }));
    v.extend([
        C::new("rel_time", Ty::Float, |r| float(Some(r.message.rel_time))).dp(6),
        C::new("sender", Ty::Enum, |r| s(r.message.from.code())),
        C::new("stream_offset", Ty::Int, |r| int(r.message.offset)),
        C::new("message", Ty::Enum, |r| {
            opt_s(r.message.kind.map(|k| k.code()))
        }),
        C::new("description", Ty::Text, |r| s(&r.message.text)),
    ]);
    v
}

// ---------------------------------------------------------------- rows

/// A table whose rows come from one capture at a time.
pub trait CaptureRows: Table {
    fn rows<'a>(r: &'a CaptureReport) -> Vec<Self::Row<'a>>;
}

impl CaptureRows for Captures {
    fn rows(r: &CaptureReport) -> Vec<&CaptureReport> {
        vec![r]
    }
}

impl CaptureRows for Tests {
    fn rows<'a>(r: &'a CaptureReport) -> Vec<TestRow<'a>> {
        r.tests
            .iter()
            .enumerate()
            .map(|(i, test)| TestRow {
                capture: r,
                number: i + 1,
                test,
            })
            .collect()
    }
}

impl CaptureRows for Flows {
    fn rows<'a>(r: &'a CaptureReport) -> Vec<FlowRow<'a>> {
        if r.flows.is_empty() && r.error.is_some() {
            return vec![FlowRow {
                capture: r,
                flow: None,
            }];
        }
        r.flows
            .iter()
            .map(|f| FlowRow {
                capture: r,
                flow: Some(f),
            })
            .collect()
    }
}

impl CaptureRows for Rsts {
    fn rows<'a>(r: &'a CaptureReport) -> Vec<RstRow<'a>> {
        r.flows
            .iter()
            .flat_map(|flow| {
                flow.rsts.iter().map(move |rst| RstRow {
                    capture: r,
                    flow,
                    rst,
                })
            })
            .collect()
    }
}

impl CaptureRows for Messages {
    /// Every flow's messages, by frame; a frame's messages (one segment, one direction) in
    /// stream order.
    fn rows<'a>(r: &'a CaptureReport) -> Vec<MessageRow<'a>> {
        let mut rows: Vec<MessageRow<'a>> = r
            .flows
            .iter()
            .flat_map(|flow| {
                flow.messages
                    .iter()
                    .flatten()
                    .map(move |message| MessageRow {
                        capture: r,
                        flow,
                        message,
                    })
            })
            .collect();
        // Stable: a frame's messages keep their stream order.
        rows.sort_by_key(|m| m.message.frame);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_are_iso_8601() {
        assert_eq!(utc(0.0).as_deref(), Some("1970-01-01T00:00:00.000000Z"));
        assert_eq!(
            utc(1_257_249_600.25).as_deref(),
            Some("2009-11-03T12:00:00.250000Z")
        );
        assert_eq!(utc(-0.5).as_deref(), Some("1969-12-31T23:59:59.500000Z"));
        assert_eq!(utc(f64::NAN), None);
    }

    fn check<K: Table>() {
        let cols = K::schema();
        let mut seen = std::collections::HashSet::new();
        for c in cols {
            assert!(
                seen.insert(c.name.as_str()),
                "{}: {} twice",
                K::NAME,
                c.name
            );
        }
    }

    #[test]
    fn column_names_are_unique() {
        check::<Captures>();
        check::<Tests>();
        check::<Flows>();
        check::<Rsts>();
        check::<Messages>();
        check::<crate::report::weekly::Speeds>();
        check::<crate::report::weekly::Days>();
        check::<crate::report::weekly::SummaryTable>();
    }

    /// Reserved words of SQL:2016 (the ones a column name could plausibly be), and of the
    /// engines the tables are read with (DuckDB, Spark SQL, MySQL, PostgreSQL): a column
    /// named so needs quoting in every query.
    const SQL_RESERVED: &[&str] = &[
        "all",
        "alter",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "at",
        "begin",
        "between",
        "bigint",
        "binary",
        "boolean",
        "both",
        "by",
        "call",
        "case",
        "cast",
        "char",
        "check",
        "close",
        "collate",
        "column",
        "commit",
        "condition",
        "connect",
        "constraint",
        "count",
        "create",
        "cross",
        "cube",
        "current",
        "cursor",
        "cycle",
        "date",
        "day",
        "dec",
        "decimal",
        "declare",
        "default",
        "delete",
        "desc",
        "describe",
        "distinct",
        "do",
        "double",
        "drop",
        "each",
        "else",
        "end",
        "escape",
        "except",
        "exec",
        "execute",
        "exists",
        "external",
        "extract",
        "false",
        "fetch",
        "filter",
        "float",
        "for",
        "foreign",
        "from",
        "full",
        "function",
        "get",
        "global",
        "grant",
        "group",
        "grouping",
        "groups",
        "having",
        "hold",
        "hour",
        "identity",
        "in",
        "index",
        "inner",
        "insert",
        "int",
        "integer",
        "intersect",
        "interval",
        "into",
        "is",
        "join",
        "key",
        "keys",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "local",
        "log",
        "lower",
        "match",
        "max",
        "merge",
        "method",
        "min",
        "minute",
        "mod",
        "module",
        "month",
        "natural",
        "new",
        "no",
        "none",
        "not",
        "null",
        "numeric",
        "of",
        "offset",
        "old",
        "on",
        "only",
        "open",
        "or",
        "order",
        "out",
        "outer",
        "over",
        "overlaps",
        "partition",
        "percent",
        "period",
        "position",
        "power",
        "precision",
        "prepare",
        "primary",
        "range",
        "rank",
        "real",
        "recursive",
        "references",
        "release",
        "result",
        "return",
        "returns",
        "revoke",
        "right",
        "rollback",
        "rollup",
        "row",
        "rows",
        "second",
        "select",
        "set",
        "similar",
        "smallint",
        "some",
        "start",
        "static",
        "sum",
        "system",
        "table",
        "then",
        "time",
        "timestamp",
        "to",
        "trailing",
        "trigger",
        "trim",
        "true",
        "truncate",
        "union",
        "unique",
        "unknown",
        "update",
        "upper",
        "user",
        "using",
        "value",
        "values",
        "varchar",
        "when",
        "where",
        "window",
        "with",
        "within",
        "without",
        "year", // DuckDB's own reserved words:
        "asymmetric",
        "deferrable",
        "initially",
        "lambda",
        "pivot",
        "pivot_longer",
        "pivot_wider",
        "placing",
        "qualify",
        "returning",
        "show",
        "summarize",
        "symmetric",
        "unpivot",
        "variadic",
    ];

    fn no_reserved<K: Table>() {
        for c in K::schema() {
            assert!(
                !SQL_RESERVED.contains(&c.name.as_str()),
                "{}: column {} is an SQL reserved word",
                K::NAME,
                c.name
            );
            assert!(
                c.name
                    .chars()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_'),
                "{}: column {} is not lower_snake_case",
                K::NAME,
                c.name
            );
        }
    }

    #[test]
    fn no_column_is_an_sql_reserved_word() {
        assert!(SQL_RESERVED.contains(&"from") && SQL_RESERVED.contains(&"window"));
        no_reserved::<Captures>();
        no_reserved::<Tests>();
        no_reserved::<Flows>();
        no_reserved::<Rsts>();
        no_reserved::<Messages>();
        no_reserved::<crate::report::weekly::Speeds>();
        no_reserved::<crate::report::weekly::Days>();
        no_reserved::<crate::report::weekly::SummaryTable>();
    }
}
