//! The command line: `bttrace analyze`, `report`, `compare` and `capture`.
//!
//! Exit codes: 0 every input analysed; 1 some input failed (the others are still reported);
//! 2 usage or output error.

use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::analyze::Options;
use crate::batch;
use crate::capture::{GzipBound, walk_inputs};
use crate::glasnost;
use crate::model::CaptureReport;
use crate::output::{self, say, say_more};
use crate::report::{
    csv::{CaptureTable, CapturesCsv, FlowsCsv, MessagesCsv, RstsCsv, TestsCsv},
    json::JsonWriter,
    text,
};
use crate::rst::VantageSetting;

#[derive(Parser)]
#[command(
    name = "bttrace",
    version,
    about = "Reads captures of BitTorrent-blocking tests: TCP flows, resets, throttling",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap, pcapng, gzip'd) and directories of them.
    Analyze(AnalyzeArgs),
    /// Compare two captures of the same test, one taken at each end: packets received that
    /// were never sent (a RST among them is proven forged), sent and never received, changed.
    Compare(CompareArgs),
    /// Sum up many Glasnost captures as the study did: per ISP and weekday (or date) the
    /// speeds of TCP and BitTorrent per port and direction, the conclusions per day, and the
    /// summary row per ISP.
    Report(ReportArgs),
    /// Capture from a network interface (built with the `live` feature): a live view of flows
    /// and of every reset as it is judged, then the report `analyze` gives.
    Capture(CaptureArgs),
    /// Write a synthetic week of Glasnost tests for three ISPs (one neutral, one throttling
    /// BitTorrent, one blocking port 6881) into a directory, with the ISP table `isps.txt`
    /// beside them, to try `bttrace report DIR --isp-map DIR/isps.txt` on (built with the
    /// `synth` feature).
    #[cfg(feature = "synth")]
    GlasnostWeek(WeekArgs),
}

#[cfg(feature = "synth")]
#[derive(clap::Args)]
struct WeekArgs {
    /// The directory to write into (made if missing; files of the same names are replaced).
    out: PathBuf,
    /// Captures per ISP and day.
    #[arg(default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    per_day: u32,
    /// Milliseconds of each of the test's 24 transfers.
    #[arg(default_value_t = 1_000, value_parser = clap::value_parser!(i64).range(100..=60_000))]
    transfer_ms: i64,
}

/// Writes the week of `bttrace glasnost-week`: each capture in Glasnost's form (raw IP, 200
/// payload bytes kept per packet).
#[cfg(feature = "synth")]
fn glasnost_week(args: &WeekArgs) -> io::Result<usize> {
    use crate::synth::glasnost::{Plan, write_week};
    let plan = Plan {
        transfer_ms: args.transfer_ms,
        spacing_ms: args.transfer_ms + 500,
        ..Plan::default()
    };
    fs::create_dir_all(&args.out)
        .and_then(|_| write_week(&args.out, &plan, args.per_day, Some(200)))
        .map(|paths| paths.len())
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write into {}: {e}", args.out.display()),
            )
        })
}

#[derive(clap::Args)]
#[cfg_attr(not(feature = "live"), allow(dead_code))]
struct CaptureArgs {
    /// The network interface to capture on (`eth0`, `any`, ...).
    #[arg(short, long, value_name = "IFACE")]
    interface: String,
    /// Capture filter, in tcpdump's syntax (e.g. "tcp port 6881").
    #[arg(long, value_name = "BPF")]
    filter: Option<String>,
    /// Also write every captured packet to this pcap file (`bttrace analyze` reads it).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    write: Option<PathBuf>,
    /// Overwrite the -w file if it exists.
    #[arg(long)]
    force: bool,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    duration: Option<Duration>,
    /// Bytes kept of each packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    snaplen: u32,
    /// Format of the report at the end, on standard output (with json or csv the live view
    /// goes to standard error).
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// No live view: only the report at the end.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    flows: FlowArgs,
}

/// How each capture's flows are analysed (`analyze` and `capture`).
#[derive(clap::Args)]
struct FlowArgs {
    /// Where the captures were taken: `auto` (from TTLs and handshake timing), `client`,
    /// `server`, or the capturing host's IP address.
    #[arg(long, default_value = "auto", value_name = "WHERE", value_parser = parse_vantage)]
    vantage: VantageSetting,
    /// Goodput series interval in milliseconds.
    #[arg(long, default_value_t = Options::default().interval_ms, value_name = "MS", value_parser = clap::value_parser!(u32).range(1..))]
    interval_ms: u32,
    /// Most flows tracked per capture; beyond it the longest-idle flows are counted only.
    #[arg(long, default_value_t = Options::default().max_flows as u64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_flows: u64,
    /// List every BitTorrent message (frame, time, sender, stream offset) after each capture,
    /// and under `messages` in JSON.
    #[arg(long)]
    messages: bool,
}

impl FlowArgs {
    fn apply(&self, opts: Options) -> Options {
        Options {
            interval_ms: self.interval_ms,
            max_flows: usize::try_from(self.max_flows).unwrap_or(usize::MAX),
            messages: self.messages,
            vantage: self.vantage,
            ..opts
        }
    }
}

/// How a batch of input files is read (`analyze` and `report`).
#[derive(clap::Args)]
struct BatchArgs {
    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, default_value_t = 0, value_name = "N")]
    threads: usize,
    /// Stop reading a gzip-compressed capture that expands more than N times its compressed
    /// size (past its first 256 MiB); 0 for no bound.
    #[arg(long, default_value_t = GzipBound::DEFAULT_RATIO, value_name = "N")]
    gzip_ratio: u64,
    /// Seconds a FIFO named as an input may go without a writer before it fails (the rest of
    /// the batch goes on).
    #[arg(long, default_value_t = crate::capture::FIFO_WAIT.as_secs_f64(), value_name = "S")]
    fifo_wait: f64,
    /// Glasnost test analysis: `auto` (on a command channel, a log, or BitTorrent transfers
    /// with their control twins; never on a file name alone), `on` (take every capture as a
    /// test), `off`.
    #[arg(long, default_value = "auto", value_name = "WHEN", value_parser = parse_glasnost)]
    glasnost: glasnost::Mode,
}

impl BatchArgs {
    fn apply(&self, opts: Options) -> Options {
        Options {
            gzip: GzipBound::ratio(self.gzip_ratio),
            fifo_wait: seconds(self.fifo_wait),
            glasnost: self.glasnost,
            ..opts
        }
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x < 1e9 => Ok(Duration::from_secs_f64(x)),
        _ => Err(format!("{s:?} is not a number of seconds above 0")),
    }
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Capture files, archives (.tar, .tar.gz, .tgz), or directories to search recursively
    /// (each capture's `.log` is read from beside it, or from the same archive); or
    /// directories of tables written before by `analyze --csv DIR` or `--parquet DIR`, read
    /// instead of captures.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A table of client address prefixes or host-name patterns and ISP names, one per line
    /// (`198.51.100.0/24  Example ISP`, `*.example.net  Example ISP`); without it, captures
    /// are grouped by client address.
    #[arg(long, value_name = "FILE")]
    isp_map: Option<PathBuf>,
    /// Group the days of the week (as the study did) or calendar dates.
    #[arg(long, value_enum, default_value_t = ByArg::Weekday)]
    by: ByArg,
    /// Count days (weekdays, dates) in this IANA time zone instead of UTC, e.g.
    /// `Asia/Hong_Kong` (the study grouped its tests by the weekday in Hong Kong; M-Lab names
    /// and Glasnost logs give UTC times).
    #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = parse_zone)]
    tz: crate::weekly::Zone,
    /// Also write the tables as CSV into this directory: speeds.csv, days.csv, summary.csv.
    #[arg(long, value_name = "DIR")]
    csv: Option<PathBuf>,
    /// Also write HTML pages into this directory: index.html (the summary across ISPs) and a
    /// page per ISP with its weekday tables and charts.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// Overwrite output files that already exist.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    batch: BatchArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum ByArg {
    Weekday,
    Date,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// The capture taken at the client (the end that opened the connections).
    client_capture: PathBuf,
    /// The capture taken at the server.
    server_capture: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = CompareFormat::Text)]
    format: CompareFormat,
    /// Packet summaries held per capture (about 64 bytes each; a connection counts as 3).
    #[arg(long, value_name = "N", default_value_t = crate::rst::compare::MAX_PACKETS)]
    max_packets: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompareFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    /// A readable report per capture.
    Text,
    /// One JSON object, {"captures": [...]}.
    Json,
    /// The flows table as CSV on standard output.
    Csv,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files, or directories to search recursively.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format on standard output.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Also write the five tables captures.csv, tests.csv, flows.csv, rsts.csv and
    /// messages.csv into this directory (as `report --csv` does); a name ending with `.csv`
    /// (or a file that exists) gets the flows table alone.
    #[arg(long, value_name = "PATH")]
    csv: Option<PathBuf>,
    /// Also write the RSTs table (verdict, evidence, Wireshark filter) as CSV to this file.
    #[arg(long, value_name = "FILE")]
    rsts_csv: Option<PathBuf>,
    /// Also write the five tables of --csv DIR, typed, as Parquet:
    /// DIR/{captures,tests,flows,rsts,messages}/NAME.parquet, NAME from the input's file name
    /// (or a hash of the inputs when there are several), so runs into one DIR make one dataset.
    #[arg(long, value_name = "DIR")]
    parquet: Option<PathBuf>,
    /// Overwrite output files that already exist.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    flows: FlowArgs,
    /// At the end, print to standard error the captures, frames and bytes read, the time
    /// taken and the peak memory.
    #[arg(long)]
    stats: bool,
    /// Also write an HTML page per capture (the study's tables, charts of goodput and of
    /// BitTorrent against TCP, resets, flows) into this directory.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    #[command(flatten)]
    batch: BatchArgs,
}

fn parse_zone(s: &str) -> Result<crate::weekly::Zone, String> {
    crate::weekly::Zone::named(s)
}

fn parse_glasnost(s: &str) -> Result<glasnost::Mode, String> {
    match s {
        "auto" => Ok(glasnost::Mode::Auto),
        "on" => Ok(glasnost::Mode::On),
        "off" => Ok(glasnost::Mode::Off),
        other => Err(format!("{other:?} is not auto, on or off")),
    }
}

fn parse_vantage(s: &str) -> Result<VantageSetting, String> {
    match s {
        "auto" => Ok(VantageSetting::Auto),
        "client" => Ok(VantageSetting::Client),
        "server" => Ok(VantageSetting::Server),
        ip => ip
            .parse()
            .map(VantageSetting::Host)
            .map_err(|_| format!("{ip:?} is not auto, client, server or an IP address")),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    exit_code(run(cli))
}

/// What a command did, when it did not fail as a whole.
enum Done {
    /// It ran over inputs: its exit code is theirs.
    Inputs(batch::Totals),
    /// It ran and has nothing to count.
    Ran,
}

/// Why a command failed as a whole (told on standard error), with its exit code.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// `compare`: a capture could not be read (exit code 1), or the report not written (2).
    #[error(transparent)]
    Compare(#[from] crate::rst::compare::CompareError),
    /// The report could not be written (exit code 2).
    #[error(transparent)]
    Output(#[from] io::Error),
    /// The command could not start as asked (exit code 2).
    #[error("{0}")]
    Usage(String),
}

/// The one place outcomes become exit codes (the contract in the README and
/// ARCHITECTURE.md): 0 every input analysed; 1 some input failed, or there was none; 2 usage
/// or output error.
fn exit_code(outcome: Result<Done, Failure>) -> ExitCode {
    match outcome {
        Ok(Done::Ran) => ExitCode::SUCCESS,
        Ok(Done::Inputs(t)) if t.analysed + t.failed == 0 => ExitCode::from(1),
        Ok(Done::Inputs(t)) if t.failed == 0 => ExitCode::SUCCESS,
        Ok(Done::Inputs(_)) => ExitCode::from(1),
        Err(e) => {
            say(&e);
            match e {
                // A capture that cannot be read is an input's failure; a report that cannot
                // be written, the output's.
                Failure::Compare(c) if c.is_input() => ExitCode::from(1),
                Failure::Compare(_) | Failure::Output(_) | Failure::Usage(_) => ExitCode::from(2),
            }
        }
    }
}

fn run(cli: Cli) -> Result<Done, Failure> {
    output::stdout_open()?;
    match cli.command {
        Command::Compare(args) => Ok(compare(&args).map(|()| Done::Ran)?),
        Command::Capture(args) => capture(&args),
        #[cfg(feature = "synth")]
        Command::GlasnostWeek(args) => {
            let n = glasnost_week(&args)?;
            say(format_args!(
                "{n} captures and isps.txt in {}",
                args.out.display()
            ));
            Ok(Done::Ran)
        }
        Command::Report(args) => Ok(Done::Inputs(report(&args)?)),
        Command::Analyze(args) => Ok(Done::Inputs(analyze(&args)?)),
    }
}

/// A duration from seconds given on the command line (negative or not a number: none).
fn seconds(s: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(s).unwrap_or_default()
}

/// The tables `--csv` and `--rsts-csv` ask for.
#[derive(Default)]
struct CsvPaths {
    /// The directory `--csv DIR` names, made once no table is refused.
    dir: Option<PathBuf>,
    captures: Option<PathBuf>,
    tests: Option<PathBuf>,
    flows: Option<PathBuf>,
    rsts: Option<PathBuf>,
    messages: Option<PathBuf>,
}

/// Whether a `--csv` name is a file: it ends with `.csv` (any case).
fn csv_file_name(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        && !p.as_os_str().to_string_lossy().ends_with('/')
}

/// `--csv PATH`, as for `report --csv`: a directory gets `captures.csv`, `tests.csv`,
/// `flows.csv` and `rsts.csv`. A name ending with `.csv` is a file and gets the flows table
/// alone; so does, as before, a file that exists already (with a warning: a new name without
/// `.csv` is a directory).
fn csv_paths(csv: Option<&Path>, rsts: Option<&Path>) -> CsvPaths {
    let mut paths = CsvPaths::default();
    if let Some(p) = csv {
        let existing_file = fs::metadata(p).is_ok_and(|m| !m.is_dir());
        if !p.is_dir() && (csv_file_name(p) || existing_file) {
            if existing_file && !csv_file_name(p) {
                say(format_args!(
                    "warning: --csv {0}: writing the flows table to the file {0}, which exists; \
                     a name without .csv is otherwise a directory of the five tables (as for \
                     report --csv); name the file with .csv to keep it one table",
                    p.display()
                ));
            }
            paths.flows = Some(p.to_path_buf());
        } else {
            paths.dir = Some(p.to_path_buf());
            paths.captures = Some(p.join("captures.csv"));
            paths.tests = Some(p.join("tests.csv"));
            paths.flows = Some(p.join("flows.csv"));
            paths.rsts = Some(p.join("rsts.csv"));
            paths.messages = Some(p.join("messages.csv"));
        }
    }
    if let Some(p) = rsts {
        paths.rsts = Some(p.to_path_buf());
    }
    paths
}

/// The CSV tables being written beside the main output.
struct CsvFiles {
    tables: Vec<Box<dyn CaptureTable>>,
    /// Their files, named when all are complete.
    pending: Vec<output::Pending>,
}

impl CsvFiles {
    fn paths(p: &CsvPaths) -> impl Iterator<Item = &PathBuf> {
        [&p.captures, &p.tests, &p.flows, &p.rsts, &p.messages]
            .into_iter()
            .flatten()
    }

    /// Refuses the tables before anything is made: one that exists (without `force`), or
    /// that is an input, stops the run before any file or directory is made.
    fn refuse(p: &CsvPaths, force: bool, inputs: &[PathBuf]) -> io::Result<()> {
        CsvFiles::paths(p).try_for_each(|path| output::refuse(path, force, inputs))
    }

    /// Starts every table, each under a temporary name until [`CsvFiles::finish`].
    fn create(p: &CsvPaths, force: bool) -> io::Result<CsvFiles> {
        if let Some(dir) = &p.dir {
            make_dir(dir)?;
        }
        let mut pending = Vec::new();
        let mut table = |path: &Option<PathBuf>,
                         new: fn(BufWriter<File>) -> io::Result<Box<dyn CaptureTable>>|
         -> io::Result<Option<Box<dyn CaptureTable>>> {
            let Some(path) = path else { return Ok(None) };
            let (file, p) = output::create_file(path, force)?;
            pending.push(p);
            new(BufWriter::new(file)).map(Some)
        };
        fn boxed<T: CaptureTable + 'static>(t: io::Result<T>) -> io::Result<Box<dyn CaptureTable>> {
            t.map(|t| Box::new(t) as Box<dyn CaptureTable>)
        }
        let tables = [
            table(&p.captures, |w| boxed(CapturesCsv::new(w)))?,
            table(&p.tests, |w| boxed(TestsCsv::new(w)))?,
            table(&p.flows, |w| boxed(FlowsCsv::new(w)))?,
            table(&p.rsts, |w| boxed(RstsCsv::new(w)))?,
            table(&p.messages, |w| boxed(MessagesCsv::new(w)))?,
        ];
        Ok(CsvFiles {
            tables: tables.into_iter().flatten().collect(),
            pending,
        })
    }

    fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        self.tables.iter_mut().try_for_each(|t| t.capture(r))
    }

    /// Completes every table, then gives each its name.
    fn finish(self) -> io::Result<()> {
        self.tables.into_iter().try_for_each(|t| t.finish())?;
        self.pending
            .into_iter()
            .try_for_each(output::Pending::commit)
    }
}

/// Where the main output goes: standard output in the chosen format.
enum Stdout<W: Write> {
    Text(W),
    Json(JsonWriter<W>),
    Csv(Box<FlowsCsv<W>>),
}

impl<W: Write> Stdout<W> {
    fn new(format: OutputFormat, w: W) -> io::Result<Stdout<W>> {
        Ok(match format {
            OutputFormat::Text => Stdout::Text(w),
            OutputFormat::Json => Stdout::Json(JsonWriter::begin(w)?),
            OutputFormat::Csv => Stdout::Csv(Box::new(FlowsCsv::new(w)?)),
        })
    }

    fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        match self {
            Stdout::Text(w) => text::write_capture(w, r),
            Stdout::Json(j) => j.capture(r),
            Stdout::Csv(c) => c.capture(r),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stdout::Text(w) => w.flush(),
            Stdout::Json(j) => j.flush(),
            Stdout::Csv(c) => c.flush(),
        }
    }

    fn finish(self, totals: batch::Totals) -> io::Result<()> {
        match self {
            Stdout::Text(mut w) => {
                if totals.analysed + totals.failed > 1 {
                    text::write_totals(&mut w, totals.analysed, totals.failed)?;
                }
                w.flush()
            }
            Stdout::Json(j) => j.end().map(drop),
            Stdout::Csv(c) => c.finish(),
        }
    }
}

/// What a batch that found no capture says (it exits 1).
fn nothing_found(paths: &[PathBuf]) -> String {
    let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!(
        "no capture found in {}: bttrace reads pcap and pcapng files (optionally \
         gzip-compressed) and tar archives of them; files named .log, .txt, .md, .csv, .tsv, \
         .json, .html or .svg, and hidden files, are passed over in directories",
        named.join(", ")
    )
}

/// Failed captures named again in the summary at the end of a batch.
const FAILURES_LISTED: usize = 10;

fn analyze(args: &AnalyzeArgs) -> io::Result<batch::Totals> {
    let opts = args.batch.apply(args.flows.apply(Options::default()));
    // Every output is refused, or none: nothing is made before all have been checked.
    let csv = csv_paths(args.csv.as_deref(), args.rsts_csv.as_deref());
    CsvFiles::refuse(&csv, args.force, &args.paths)?;
    if let Some(dir) = &args.html {
        refuse_dir(dir)?;
    }
    refuse_parquet(args.parquet.as_deref(), &args.paths, args.force)?;
    let mut tables = CsvFiles::create(&csv, args.force)?;
    let mut pages = args.html.as_deref().map(HtmlPages::new).transpose()?;
    let mut parquet = parquet_dataset(args.parquet.as_deref(), &args.paths, args.force)?;
    let mut out = Stdout::new(args.format, output::stdout())?;
    let text_mode = matches!(args.format, OutputFormat::Text);
    let started = std::time::Instant::now();
    let mut frames = 0u64;
    // A standard output that fails stops only what goes to it: the files beside it are still
    // written for every capture, and the error is told at the end. When its reader has gone
    // and nothing else is written, the batch stops there, quietly.
    let files = !tables.is_empty() || pages.is_some();
    let mut stdout_failed: Option<io::Error> = None;
    // What was handed on before a broken pipe stopped the batch: its exit code is theirs.
    let mut seen = batch::Totals::default();
    let result = run_batch(&args.paths, &opts, args.batch.threads, !text_mode, |r| {
        if r.error.is_some() {
            seen.failed += 1;
        } else {
            seen.analysed += 1;
        }
        frames += r.frames;
        tables.capture(r)?;
        parquet.capture(r)?;
        if let Some(p) = pages.as_mut() {
            p.capture(r, args.force)?;
        }
        if stdout_failed.is_none() {
            // Each capture's result goes out when it is handed on: a run interrupted later
            // keeps it.
            if let Err(e) = out.capture(r).and_then(|_| out.flush()) {
                let stop = !files && output::reader_gone(&e);
                stdout_failed = Some(e);
                if stop {
                    return Err(io::Error::from(io::ErrorKind::BrokenPipe));
                }
            }
        }
        Ok(())
    });
    let totals = match result {
        Err(_) if stdout_failed.as_ref().is_some_and(output::reader_gone) => {
            return Ok(seen);
        }
        r => r?,
    };
    if stdout_failed.is_none() {
        stdout_failed = out.finish(totals).err();
    }
    tables.finish()?;
    parquet.finish()?;
    if let Some(e) = stdout_failed {
        if !output::reader_gone(&e) {
            return Err(e);
        }
    }
    if totals.analysed + totals.failed == 0 {
        say(nothing_found(&args.paths));
    }
    if args.stats {
        let peak = peak_memory_kib().map_or("unknown".to_string(), |k| format!("{k} KiB"));
        say(format_args!(
            "stats: {} captures ({} failed), {frames} frames in {:.3} s; peak memory {peak}",
            totals.analysed + totals.failed,
            totals.failed,
            started.elapsed().as_secs_f64(),
        ));
    }
    Ok(totals)
}

/// `--parquet DIR` of `analyze`, when this build has Parquet.
#[cfg(feature = "parquet")]
struct ParquetOut(Option<crate::report::parquet::Dataset>);

/// Refuses a `--parquet DIR` whose files exist (without `force`) before anything is made.
#[cfg(feature = "parquet")]
fn refuse_parquet(dir: Option<&Path>, inputs: &[PathBuf], force: bool) -> io::Result<()> {
    use crate::report::parquet::{Dataset, part_name};
    match dir {
        Some(dir) => Dataset::refuse(dir, &part_name(inputs), force, inputs),
        None => Ok(()),
    }
}

#[cfg(feature = "parquet")]
fn parquet_dataset(dir: Option<&Path>, inputs: &[PathBuf], force: bool) -> io::Result<ParquetOut> {
    use crate::report::parquet::{Dataset, part_name};
    let Some(dir) = dir else {
        return Ok(ParquetOut(None));
    };
    Ok(ParquetOut(Some(Dataset::create(
        dir,
        &part_name(inputs),
        force,
    )?)))
}

#[cfg(feature = "parquet")]
impl ParquetOut {
    fn capture(&mut self, r: &CaptureReport) -> io::Result<()> {
        self.0.as_mut().map_or(Ok(()), |d| d.capture(r))
    }

    fn finish(self) -> io::Result<()> {
        self.0.map_or(Ok(()), |d| d.finish())
    }
}

/// What `--parquet` says in a build without the `parquet` feature.
#[cfg(not(feature = "parquet"))]
struct ParquetOut;

#[cfg(not(feature = "parquet"))]
fn refuse_parquet(dir: Option<&Path>, inputs: &[PathBuf], force: bool) -> io::Result<()> {
    parquet_dataset(dir, inputs, force).map(drop)
}

#[cfg(not(feature = "parquet"))]
fn parquet_dataset(dir: Option<&Path>, _: &[PathBuf], _: bool) -> io::Result<ParquetOut> {
    match dir {
        Some(_) => Err(io::Error::other(
            "this bttrace was built without Parquet; build it with the default features \
             (cargo build --release) to get --parquet",
        )),
        None => Ok(ParquetOut),
    }
}

#[cfg(not(feature = "parquet"))]
impl ParquetOut {
    fn capture(&mut self, _: &CaptureReport) -> io::Result<()> {
        Ok(())
    }

    fn finish(self) -> io::Result<()> {
        Ok(())
    }
}

/// `--html DIR` of `analyze`: a page per capture. Two captures of the same file name (in
/// different folders) get `name.html` and `name-2.html`.
struct HtmlPages {
    dir: PathBuf,
    used: std::collections::HashSet<String>,
}

impl HtmlPages {
    fn new(dir: &Path) -> io::Result<HtmlPages> {
        make_dir(dir)?;
        Ok(HtmlPages {
            dir: dir.to_path_buf(),
            used: std::collections::HashSet::new(),
        })
    }

    fn capture(&mut self, r: &CaptureReport, force: bool) -> io::Result<()> {
        use crate::report::html;
        let name = html::page_file_name(&r.path);
        let stem = name.strip_suffix(".html").unwrap_or(&name).to_string();
        let mut unique = name;
        let mut n = 1;
        while self.used.contains(&unique) {
            n += 1;
            unique = format!("{stem}-{n}.html");
        }
        self.used.insert(unique.clone());
        write_html(&self.dir.join(unique), &html::capture_page(r), force)
    }
}

/// Refuses a directory output that names something else (a file).
fn refuse_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a directory", dir.display()),
        )),
        _ => Ok(()),
    }
}

fn make_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot make {}: {e}", dir.display())))
}

fn write_html(path: &Path, page: &crate::report::html::Page, force: bool) -> io::Result<()> {
    let (file, pending) = output::create_file(path, force)?;
    let mut w = BufWriter::new(file);
    crate::report::html::write_page(&mut w, page)
        .and_then(|_| w.flush())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))?;
    drop(w);
    pending.commit()
}

/// Runs a batch with the progress line and the failure summary of `analyze`, handing each
/// report to `each`.
fn run_batch(
    paths: &[PathBuf],
    opts: &Options,
    threads: usize,
    show_notes: bool,
    mut each: impl FnMut(&CaptureReport) -> io::Result<()>,
) -> io::Result<batch::Totals> {
    // The progress line goes to standard error when it is a terminal and the report is not
    // being printed to that terminal too. Its total comes from a first walk that only counts.
    // Archives count as unknown (0): their members are counted as they are read.
    let mut progress = (io::stderr().is_terminal() && !io::stdout().is_terminal()).then(|| {
        let (mut total, mut bytes) = (0, 0u64);
        for p in walk_inputs(paths).flatten() {
            if crate::archive::is_archive_path(&p) {
                (total, bytes) = (0, 0);
                break;
            }
            total += 1;
            bytes += std::fs::metadata(&p).map_or(0, |m| m.len());
        }
        batch::Progress::new(io::stderr(), total, bytes)
    });
    let mut failures: Vec<String> = Vec::new();
    let walk = walk_inputs(paths).on_skip(|p, why| {
        say(format_args!("warning: skipped {}: {why}", p.display()));
    });
    // No more threads than files, where the inputs are all files (an archive holds many).
    let threads = if paths
        .iter()
        .all(|p| p.is_file() && !crate::archive::is_archive_path(p))
    {
        threads
            .min(paths.len().max(1))
            .max(usize::from(threads > 0))
    } else {
        threads
    };
    let mut notices: Vec<String> = Vec::new();
    let totals = batch::run_files(
        batch::inputs_from(walk, opts),
        opts,
        threads,
        |r| {
            if let Some(p) = progress.as_mut() {
                p.clear();
            }
            if let Some(e) = &r.error {
                say(format_args!("{}: {e}", r.path));
                if failures.len() < FAILURES_LISTED {
                    failures.push(format!("{}: {e}", r.path));
                }
            }
            if show_notes {
                for n in &r.notes {
                    say(format_args!("warning: {}: {n}", r.path));
                }
            }
            if let Some(p) = progress.as_mut() {
                // An archive's member is no file of its own: its size is not counted.
                let size = std::fs::metadata(&r.path).map_or(0, |m| m.len());
                p.advance(r.error.is_some(), &r.path, size);
            }
            each(&r)
        },
        |n| notices.push(n),
    )?;
    if let Some(p) = progress.as_mut() {
        p.clear();
    }
    for n in &notices {
        say(format_args!("warning: {n}"));
    }
    let all = totals.analysed + totals.failed;
    if totals.failed > 0 && all > 1 {
        say(format_args!("{} of {all} captures failed:", totals.failed));
        for f in &failures {
            say_more(f);
        }
        if totals.failed > failures.len() {
            say_more(format_args!(
                "... and {} more",
                totals.failed - failures.len()
            ));
        }
    }
    Ok(totals)
}

fn report(args: &ReportArgs) -> io::Result<batch::Totals> {
    use crate::report::weekly;
    use crate::weekly::{Aggregator, GroupBy, IspMap};

    let map = match &args.isp_map {
        Some(p) => {
            let text = fs::read_to_string(p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            IspMap::parse(&text).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", p.display()))
            })?
        }
        None => IspMap::default(),
    };
    let by = match args.by {
        ByArg::Weekday => GroupBy::Weekday,
        ByArg::Date => GroupBy::Date,
    };
    // Create the CSV files before the batch, so a name clash stops it before the work.
    // Every output is refused, or none: nothing is made before all have been checked.
    if let Some(h) = &args.html {
        refuse_dir(h)?;
    }
    let csv_files = match &args.csv {
        Some(dir) if csv_file_name(dir) && !dir.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "--csv {}: report writes three tables (speeds.csv, days.csv, summary.csv) \
                     into a directory; name one without .csv",
                    dir.display()
                ),
            ));
        }
        Some(dir) => {
            let names = ["speeds.csv", "days.csv", "summary.csv"];
            // All three or none: a refused one leaves no directory and no empty others.
            for name in names {
                output::refuse(&dir.join(name), args.force, &args.paths)?;
            }
            make_dir(dir)?;
            let open = |name: &str| {
                output::create_file(&dir.join(name), args.force)
                    .map(|(f, p)| (BufWriter::new(f), p))
            };
            Some((open(names[0])?, open(names[1])?, open(names[2])?))
        }
        None => None,
    };
    if let Some(dir) = &args.html {
        make_dir(dir)?;
    }
    let mut agg = Aggregator::new(map, by);
    agg.zone = args.tz.clone();
    let opts = args.batch.apply(Options::default());
    let mut copies = Copies::default();
    let (table_dirs, captures): (Vec<PathBuf>, Vec<PathBuf>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| crate::report::tables::is_tables_dir(p));
    let mut totals = if captures.is_empty() {
        batch::Totals::default()
    } else {
        run_batch(&captures, &opts, args.batch.threads, false, |r| {
            match copies.first_seen(r) {
                Some(first) => say(format_args!(
                    "warning: {} is the same capture as {first} (the same frames at the same \
                     times): counted once",
                    r.path
                )),
                None => agg.add(r),
            }
            Ok(())
        })?
    };
    // A copy is neither analysed nor failed in the counts the exit code comes from.
    totals.analysed -= copies.count.min(totals.analysed);
    crate::report::tables::read(&table_dirs, |r| {
        if r.failed {
            totals.failed += 1;
        } else {
            totals.analysed += 1;
        }
        agg.add_row(&r);
    })?;
    if totals.analysed + totals.failed + copies.count == 0 {
        say(nothing_found(&args.paths));
        return Ok(totals);
    }
    agg.copies = u32::try_from(copies.count).unwrap_or(u32::MAX);
    // A standard output that fails stops only what goes to it: the tables and pages are
    // still written, and the error is told after them (a reader that went away is not one).
    let mut out = output::stdout();
    let stdout_done = weekly::write_text(&mut out, &agg).and_then(|_| out.flush());
    if let Some(((speeds, p1), (days, p2), (summary, p3))) = csv_files {
        weekly::write_speeds_csv(speeds, &agg)?.flush()?;
        weekly::write_days_csv(days, &agg)?.flush()?;
        weekly::write_summary_csv(summary, &agg)?.flush()?;
        for p in [p1, p2, p3] {
            p.commit()?;
        }
    }
    if let Some(dir) = &args.html {
        for (name, page) in weekly::html_pages(&agg) {
            write_html(&dir.join(name), &page, args.force)?;
        }
    }
    match stdout_done {
        Err(e) if !output::reader_gone(&e) => Err(e),
        _ => Ok(totals),
    }
}

/// Captures `report` has taken, by content, so that the same test found twice (`x.dump` and
/// `x.dump.gz`, or a file and an archive's member) counts once. Two captures are the same when
/// they have the same frame and TCP segment counts, the same first and last frame times to the
/// nanosecond, and the same client: what a copy or a recompression keeps and two different
/// tests do not share. Memory: one small key per capture of the batch.
#[derive(Default)]
struct Copies {
    seen: std::collections::HashMap<(u64, u64, u64, u64, Option<String>), String>,
    count: usize,
}

impl Copies {
    /// The name of the capture `r` is a copy of, if one was taken before.
    fn first_seen(&mut self, r: &CaptureReport) -> Option<String> {
        let (Some(first), Some(last)) = (r.first_time, r.last_time) else {
            return None;
        };
        if r.error.is_some() || r.frames == 0 {
            return None;
        }
        let key = (
            r.frames,
            r.tcp_segments,
            first.to_bits(),
            last.to_bits(),
            r.client_address(),
        );
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => {
                self.count += 1;
                Some(e.get().clone())
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(r.path.clone());
                None
            }
        }
    }
}

/// The process's peak resident memory (`VmHWM`), where the system says (Linux).
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Opens one capture for `bttrace compare`: the file's name names it in the report and in
/// errors.
fn compare_source(
    path: &Path,
) -> Result<crate::rst::compare::Source, crate::rst::compare::CompareError> {
    use crate::rst::compare::{CompareError, Source};
    let name = path.display().to_string();
    match crate::capture::CaptureReader::open(path) {
        Ok(reader) => Ok(Source::new(name, reader)),
        Err(source) => Err(CompareError::Open { name, source }),
    }
}

fn compare(args: &CompareArgs) -> Result<(), crate::rst::compare::CompareError> {
    use crate::rst::compare::{CompareError, compare_into};
    // Each part goes out as it is made: memory holds the two captures' packet summaries, not
    // the report of every connection.
    let client = compare_source(&args.client_capture)?;
    let server = compare_source(&args.server_capture)?;
    let mut w = output::stdout();
    let done = match args.format {
        CompareFormat::Json => {
            let mut json = crate::report::json::CompareJson::new(&mut w);
            compare_into(client, server, args.max_packets, |p| {
                // In text the notes head the report; beside JSON they are told on
                // standard error too.
                if let crate::rst::compare::Part::Head { notes, .. } = &p {
                    for n in notes {
                        say(format_args!("warning: {n}"));
                    }
                }
                json.part(p)
            })
            .and_then(|_| json.end().map(|_| ()).map_err(CompareError::from))
        }
        CompareFormat::Text => compare_into(client, server, args.max_packets, |p| {
            text::write_compare_part(&mut w, &p)
        }),
    };
    match done.and_then(|_| w.flush().map_err(CompareError::from)) {
        Ok(()) => Ok(()),
        Err(CompareError::Output(e)) if output::reader_gone(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What `bttrace capture` says when this build cannot capture.
pub const NO_LIVE_CAPTURE: &str = "this bttrace was built without live capture; to get it: apt-get install libpcap-dev, then cargo build --release --features live";

/// `bttrace capture`. Exit codes: 0 captured; 1 the capture ended on a read error (the report
/// is still printed); 2 it could not start (no such interface, no permission, a bad filter, an
/// existing -w file, or a build without the `live` feature).
fn capture(args: &CaptureArgs) -> Result<Done, Failure> {
    #[cfg(feature = "live")]
    {
        live_capture(args)
    }
    #[cfg(not(feature = "live"))]
    {
        let _ = args;
        Err(Failure::Usage(NO_LIVE_CAPTURE.into()))
    }
}

#[cfg(feature = "live")]
fn live_capture(args: &CaptureArgs) -> Result<Done, Failure> {
    use crate::live;

    let cfg = live::Config {
        interface: args.interface.clone(),
        filter: args.filter.clone(),
        write: args.write.clone(),
        force: args.force,
        duration: args.duration,
        snaplen: args.snaplen,
        analysis: args.flows.apply(Options::default()),
    };
    let started = live::stop_on_signals().and_then(|stop| Ok((stop, live::open(&cfg)?)));
    let (stop, cap) = started.map_err(|e| Failure::Usage(e.to_string()))?;
    let mut how = vec![cap.link().to_string()];
    if let Some(f) = &args.filter {
        how.push(format!("filter {f:?}"));
    }
    if let Some(p) = &args.write {
        how.push(format!("writing {}", p.display()));
    }
    let until = match args.duration {
        Some(d) => format!("for {} s or until Ctrl-C", d.as_secs_f64()),
        None => "until Ctrl-C".to_string(),
    };
    say(format_args!(
        "capturing on {} ({}), {until}",
        args.interface,
        how.join(", ")
    ));
    let text_mode = matches!(args.format, OutputFormat::Text);
    let report = match (args.quiet, text_mode) {
        (true, _) => cap.run(&stop, None),
        (false, true) => cap.run(&stop, Some(&mut io::stdout())),
        (false, false) => cap.run(&stop, Some(&mut io::stderr())),
    };
    if let Some(e) = &report.error {
        say(format_args!("{}: {e}", report.path));
    }
    if !text_mode {
        for n in &report.notes {
            say(format_args!("warning: {}: {n}", report.path));
        }
    }
    let written = Stdout::new(args.format, output::stdout()).and_then(|mut out| {
        if let Stdout::Text(w) = &mut out {
            if !args.quiet {
                writeln!(w)?;
            }
        }
        out.capture(&report)?;
        out.finish(batch::Totals {
            analysed: 1,
            failed: 0,
        })
    });
    written?;
    // The capture's read error, if any, was told above; it makes the exit code 1.
    let failed = usize::from(report.error.is_some());
    Ok(Done::Inputs(batch::Totals {
        analysed: 1 - failed,
        failed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analysis options a command line gives, by way of the flattened argument structs.
    fn options(words: &[&str]) -> Options {
        let cli = Cli::try_parse_from(words).unwrap();
        match cli.command {
            Command::Analyze(a) => a.batch.apply(a.flows.apply(Options::default())),
            Command::Report(r) => r.batch.apply(Options::default()),
            Command::Capture(c) => c.flows.apply(Options::default()),
            _ => panic!("not an analysing command"),
        }
    }

    fn key(o: &Options) -> String {
        format!(
            "{} {} {} {:?} {:?} {:?} {:?}",
            o.interval_ms, o.max_flows, o.messages, o.vantage, o.gzip, o.glasnost, o.fifo_wait
        )
    }

    #[test]
    fn flag_defaults_are_the_library_defaults_in_every_command() {
        let default = key(&Options::default());
        for words in [
            &["bttrace", "analyze", "x.pcap"][..],
            &["bttrace", "report", "dir"],
            &["bttrace", "capture", "-i", "eth0"],
        ] {
            assert_eq!(key(&options(words)), default, "{words:?}");
        }
    }

    #[test]
    fn shared_flags_reach_the_options_of_each_command() {
        let a = options(&[
            "bttrace",
            "analyze",
            "--interval-ms",
            "250",
            "--max-flows",
            "7",
            "--messages",
            "--vantage",
            "server",
            "--glasnost",
            "off",
            "--fifo-wait",
            "2.5",
            "x.pcap",
        ]);
        assert_eq!((a.interval_ms, a.max_flows, a.messages), (250, 7, true));
        assert_eq!(a.vantage, VantageSetting::Server);
        assert_eq!(a.glasnost, glasnost::Mode::Off);
        assert_eq!(a.fifo_wait, Duration::from_millis(2500));
        let c = options(&["bttrace", "capture", "-i", "lo", "--max-flows", "9"]);
        assert_eq!(c.max_flows, 9);
        let r = options(&["bttrace", "report", "--glasnost", "on", "dir"]);
        assert_eq!(r.glasnost, glasnost::Mode::On);
        assert!(Cli::try_parse_from(["bttrace", "report", "--messages", "dir"]).is_err());
    }
}
