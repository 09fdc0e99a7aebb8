//! Faults outside the bytes: the command line facing broken outputs, hostile file names,
//! directory trees that loop, outputs that would destroy inputs, inputs that never end, and
//! absurd option values. Each test builds what it needs in a temporary directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bttrace::capture::LinkType;
use bttrace::flows::Side;
use bttrace::synth::{Conv, PcapOpts, pcap};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bttrace"))
}

fn bttrace(args: &[&str]) -> Output {
    bin().args(args).output().expect("run bttrace")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small capture (one connection moving a few kilobytes) at `path`.
fn write_capture(path: &Path) -> PathBuf {
    let mut c = Conv::new(
        "198.51.100.1:40000".parse().unwrap(),
        "203.0.113.1:6881".parse().unwrap(),
    );
    c.handshake()
        .data(Side::Client, b"hello")
        .data(Side::Server, &[7; 3000])
        .close();
    let recs: Vec<_> = c
        .packets
        .iter()
        .map(|p| p.record(LinkType::ETHERNET, None))
        .collect();
    fs::write(path, pcap(LinkType::ETHERNET, &recs, PcapOpts::default())).unwrap();
    path.to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- 2. outputs that cannot be written ------------------------------------------------------

/// A standard error that cannot be written (`2>/dev/full`) loses its lines, not the run: the
/// JSON on standard output is complete and the exit code still says a file failed.
#[test]
fn a_full_standard_error_neither_panics_nor_cuts_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_capture(&dir.path().join("good.pcap"));
    let bad = dir.path().join("bad.pcap");
    fs::write(&bad, b"junk").unwrap();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin()
        .args(["analyze", "--format", "json", s(&good), s(&bad)])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("complete JSON");
    assert_eq!(v["captures"].as_array().unwrap().len(), 2);
}

/// The same with standard error a pipe whose reader has gone.
#[test]
fn a_closed_pipe_on_standard_error_neither_panics_nor_cuts_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_capture(&dir.path().join("good.pcap"));
    let bad = dir.path().join("bad.pcap");
    fs::write(&bad, b"junk").unwrap();
    let mut child = bin()
        .args(["analyze", "--format", "json", s(&good), s(&bad)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).expect("complete JSON");
    assert_eq!(v["captures"].as_array().unwrap().len(), 2);
}

/// A standard output closed before the start (`>&-`) is an error, not a success whose report
/// went nowhere; `>/dev/null` stays a way to discard it.
#[test]
fn a_closed_standard_output_is_an_error_and_dev_null_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec {} analyze {} >&-",
            env!("CARGO_BIN_EXE_bttrace"),
            s(&cap)
        ))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("standard output is closed"),
        "{}",
        stderr(&o)
    );
    let o = bin()
        .args(["analyze", s(&cap)])
        .stdout(fs::File::create("/dev/null").unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A write error names the output it happened on.
#[test]
fn output_errors_name_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bin()
        .args(["analyze", "--format", "json", s(&cap)])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot write standard output: "),
        "{}",
        stderr(&o)
    );
}

/// `compare` whose report cannot be written is an output error (exit code 2, naming standard
/// output), in either format; a capture it cannot read is an input's (exit code 1, naming the
/// file), whether it is the first or the second.
#[test]
fn compare_tells_an_output_failure_from_an_input_failure() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let bad = dir.path().join("bad.pcap");
    fs::write(&bad, b"junk").unwrap();
    let missing = dir.path().join("missing.pcap");
    for format in ["text", "json"] {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = bin()
            .args(["compare", "--format", format, s(&cap), s(&cap)])
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{format}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cannot write standard output: "),
            "{format}: {}",
            stderr(&o)
        );
    }
    for (a, b, named) in [
        (&cap, &bad, &bad),
        (&bad, &cap, &bad),
        (&cap, &missing, &missing),
        (&missing, &cap, &missing),
    ] {
        let o = bttrace(&["compare", s(a), s(b)]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).starts_with(&format!("bttrace: {}: ", named.display())),
            "{}",
            stderr(&o)
        );
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
}

/// A standard output that fails mid-batch stops only the report on it: every capture is still
/// analysed and the CSV file beside it holds every capture's flows.
#[test]
fn a_full_standard_output_does_not_stop_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    // Enough JSON to fill standard output's 64 KiB buffer long before the last capture.
    let caps: Vec<PathBuf> = (0..60)
        .map(|i| write_capture(&dir.path().join(format!("c{i}.pcap"))))
        .collect();
    let csv = dir.path().join("flows.csv");
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut args = vec!["analyze", "--format", "json", "--csv", s(&csv)];
    args.extend(caps.iter().map(|c| s(c)));
    let o = bin().args(&args).stdout(full).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    let text = fs::read_to_string(&csv).unwrap();
    for c in &caps {
        assert!(text.contains(s(c)), "{} missing from the CSV", c.display());
    }
}

/// Runs `bttrace ARGS PATHS` with its standard output a pipe whose reader has gone away (as
/// under `| head -1`), and waits for it.
fn with_reader_gone(args: &[&str], paths: &[PathBuf]) -> Output {
    let mut child = bin()
        .args(args)
        .args(paths.iter().map(|c| s(c)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// A reader that goes away (`bttrace analyze ... | head -1`) ends the run quietly: no panic,
/// no message, no failure exit code of its own.
#[test]
fn a_broken_pipe_on_standard_output_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let caps: Vec<PathBuf> = (0..20)
        .map(|i| write_capture(&dir.path().join(format!("c{i}.pcap"))))
        .collect();
    let o = with_reader_gone(&["analyze"], &caps);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

/// A broken pipe on standard output after an input has failed ends the run quietly with the
/// exit code the captures gave (1), not 0: the failure was told, and the code still says it.
#[test]
fn a_broken_pipe_after_a_failed_input_keeps_the_failure_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a-bad.pcap");
    fs::write(&bad, b"junk").unwrap();
    let mut paths = vec![bad.clone()];
    paths.extend((0..20).map(|i| write_capture(&dir.path().join(format!("c{i}.pcap")))));
    for format in ["text", "json"] {
        let o = with_reader_gone(&["analyze", "-j", "1", "--format", format], &paths);
        assert_eq!(o.status.code(), Some(1), "{format}: {}", stderr(&o));
        assert!(stderr(&o).contains("a-bad.pcap"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("Broken pipe"), "{}", stderr(&o));
    }
    // The weekly report: the same exit code, and its CSV tables still written.
    let tables = dir.path().join("tables");
    let o = with_reader_gone(&["report", "--csv", s(&tables)], &paths);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Broken pipe"), "{}", stderr(&o));
    for t in ["speeds.csv", "days.csv", "summary.csv"] {
        assert!(tables.join(t).is_file(), "{t} not written");
    }
    // Without a failure, a broken pipe is still exit code 0.
    let o = with_reader_gone(&["report"], &paths[1..]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `report` and `compare` facing the same broken outputs as `analyze`: a standard error on
/// /dev/full neither panics nor changes the exit code or standard output; a standard output
/// closed before the start is exit code 2 with the reason.
#[test]
fn report_and_compare_face_broken_outputs_as_analyze_does() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_capture(&dir.path().join("good.pcap"));
    let bad = dir.path().join("bad.pcap");
    fs::write(&bad, b"junk").unwrap();
    let full = || {
        fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let cases: [(&[&str], i32); 4] = [
        (&["report", s(&good), s(&bad)], 1),
        (&["report", s(&good)], 0),
        (&["compare", s(&good), s(&good)], 0),
        (&["compare", s(&good), s(&bad)], 1),
    ];
    for (args, code) in cases {
        let o = bin().args(args).stderr(full()).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?} 2>/dev/full");
        let with_stderr = bttrace(args);
        assert_eq!(
            o.stdout, with_stderr.stdout,
            "{args:?}: standard output changed"
        );
        assert_eq!(with_stderr.status.code(), Some(code), "{args:?}");
        let o = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" >&-")
            .arg(env!("CARGO_BIN_EXE_bttrace"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?} >&-: {}", stderr(&o));
        assert!(
            stderr(&o).contains("standard output is closed"),
            "{}",
            stderr(&o)
        );
    }
}

// ---- 7. names printed raw --------------------------------------------------------------------

/// A newline or an escape sequence in a file name reaches neither the terminal nor a second
/// line: every error, warning and report heading shows it escaped.
#[test]
fn control_characters_in_file_names_are_escaped_wherever_they_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir
        .path()
        .join("evil\nbttrace: fake.pcap: all fine\u{1b}[2J.pcap");
    fs::write(&evil, b"junk").unwrap();
    write_capture(&dir.path().join("good.pcap"));
    for format in ["text", "csv"] {
        let o = bttrace(&["analyze", "--format", format, s(dir.path())]);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(!err.contains('\u{1b}'), "{err:?}");
        assert!(
            err.lines().all(|l| !l.starts_with("bttrace: fake.pcap")),
            "a file name started a line of its own: {err:?}"
        );
        assert!(
            err.contains("evil\\x0abttrace: fake.pcap: all fine\\x1b[2J.pcap"),
            "{err:?}"
        );
        let out = stdout(&o);
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains("evil\\x0abttrace"), "{out:?}");
    }
    // JSON keeps the real name (its own escaping makes it safe and exact).
    let o = bttrace(&["analyze", "--format", "json", s(dir.path())]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["captures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["capture"].as_str() == Some(evil.to_str().unwrap()))
    );
}

// ---- 5. directory trees that loop -------------------------------------------------------------

/// Captures named in a CSV on standard output, with how many times each came.
fn captures_listed(o: &Output) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    let mut rdr = csv::Reader::from_reader(o.stdout.as_slice());
    for row in rdr.records() {
        *seen.entry(row.unwrap()[0].to_string()).or_insert(0) += 1;
    }
    seen
}

/// A link to `.`, links to `..`, a link to /proc and a second name for a capture: the walk
/// ends, takes each file once, and says what it skipped and why.
#[cfg(unix)]
#[test]
fn a_walk_through_looping_links_takes_each_file_once_and_says_what_it_skipped() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    write_capture(&root.join("a.pcap"));
    write_capture(&root.join("sub/b.pcap"));
    write_capture(&tmp.path().join("outside.pcap"));
    symlink(".", root.join("self")).unwrap();
    symlink("..", root.join("sub/up")).unwrap();
    symlink("..", root.join("up1")).unwrap();
    symlink("..", root.join("up2")).unwrap();
    symlink("/proc", root.join("proc")).unwrap();
    symlink("a.pcap", root.join("alias.pcap")).unwrap();
    let o = bin()
        .args(["analyze", "--format", "csv", s(&root)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = captures_listed(&o);
    let name = |p: &Path| s(p).to_string();
    assert_eq!(seen.get(&name(&root.join("a.pcap"))), Some(&1), "{seen:?}");
    assert_eq!(
        seen.get(&name(&root.join("sub/b.pcap"))),
        Some(&1),
        "{seen:?}"
    );
    // The parent, reached through the first link to `..`, once.
    assert_eq!(
        seen.get(&name(&root.join("up1/outside.pcap"))),
        Some(&1),
        "{seen:?}"
    );
    assert_eq!(seen.values().sum::<usize>(), 3, "{seen:?}");
    let err = stderr(&o);
    for (path, why) in [
        ("self", "a loop"),
        ("sub/up", "a loop"),
        ("up2", "already walked"),
        ("proc", "another file system"),
        ("alias.pcap", "a link to a file of the walk"),
    ] {
        let line = format!("skipped {}: ", s(&root.join(path)));
        assert!(
            err.lines().any(|l| l.contains(&line) && l.contains(why)),
            "{path}: {err}"
        );
    }
}

/// A directory whose path is longer than the system allows is an error naming it, not a
/// silent gap in the batch.
#[cfg(unix)]
#[test]
fn paths_beyond_path_max_are_reported_not_skipped_silently() {
    let tmp = tempfile::tempdir().unwrap();
    write_capture(&tmp.path().join("a.pcap"));
    // 20 levels of 250-byte names (5 kB, beyond Linux's 4,096), made one level at a time
    // (bash changes directory by a relative path where the whole one is too long).
    let level = "d".repeat(250);
    let made = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cd {} && for i in $(seq 20); do mkdir {level} && cd {level} || exit 1; done && : > deep.pcap",
            s(tmp.path())
        ))
        .status()
        .unwrap();
    assert!(made.success());
    let o = bin()
        .args(["analyze", "--format", "csv", s(tmp.path())])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(captures_listed(&o).contains_key(s(&tmp.path().join("a.pcap"))));
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.contains(&level) && l.to_lowercase().contains("too long")),
        "{err}"
    );
}

// ---- 6. outputs that would destroy inputs -----------------------------------------------------

/// `--csv DIR` where one table exists: refused, and none of the other three is made (they
/// would block the next run).
#[test]
fn a_refused_csv_directory_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("flows.csv"), "kept").unwrap();
    let o = bttrace(&["analyze", "--csv", &format!("{}/", s(&out)), s(&cap)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("flows.csv exists"), "{}", stderr(&o));
    let mut left: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["flows.csv"]);
    assert_eq!(fs::read_to_string(out.join("flows.csv")).unwrap(), "kept");
    // The same for the weekly report's tables.
    fs::write(out.join("days.csv"), "kept").unwrap();
    let o = bttrace(&["report", "--csv", s(&out), s(&cap)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.join("speeds.csv").exists());
}

/// An output that is an input is refused, `--force` or not, and the input is left whole:
/// named directly, by another name (a link), or inside a directory being read.
#[cfg(unix)]
#[test]
fn an_output_that_is_an_input_is_refused_even_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("x.pcap"));
    let before = fs::read(&cap).unwrap();
    let link = dir.path().join("y.pcap");
    std::os::unix::fs::symlink(&cap, &link).unwrap();
    let inside = dir.path().join("new.pcap");
    for (out, input) in [
        (&cap, &cap),
        (&link, &cap),
        (&cap, &link),
        (&inside, &dir.path().to_path_buf()),
    ] {
        for force in [false, true] {
            // A new name without .csv is a directory for --csv: a file the walk would read
            // is made with --rsts-csv.
            let flag = if *out == inside {
                "--rsts-csv"
            } else {
                "--csv"
            };
            let mut args = vec!["analyze", flag, s(out)];
            if force {
                args.push("--force");
            }
            args.push(s(input));
            let o = bttrace(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("is also an input"),
                "{args:?}: {}",
                stderr(&o)
            );
            assert_eq!(fs::read(&cap).unwrap(), before, "{args:?}");
        }
    }
    assert!(!inside.exists());
    // A CSV name inside the directory is not read as a capture: allowed.
    let csv = dir.path().join("flows.csv");
    let o = bttrace(&["analyze", "--csv", s(&csv), s(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// One refused output stops the run before any other output or directory is made.
#[test]
fn a_refused_output_makes_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let pq = dir.path().join("pq");
    let o = bttrace(&["analyze", "--parquet", s(&pq), s(&cap)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = dir.path().join("csv");
    let html = dir.path().join("html");
    // The Parquet part of this input exists: the CSV and HTML directories are not made.
    let o = bttrace(&[
        "analyze",
        "--csv",
        s(&csv),
        "--html",
        s(&html),
        "--parquet",
        s(&pq),
        s(&cap),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists; use --force"), "{}", stderr(&o));
    assert!(!csv.exists() && !html.exists(), "{:?}", listing(dir.path()));
    // An --html name that is a file: refused before --csv makes its directory.
    let file = dir.path().join("page");
    fs::write(&file, "x").unwrap();
    let o = bttrace(&["analyze", "--csv", s(&csv), "--html", s(&file), s(&cap)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
    assert!(!csv.exists());
    let o = bttrace(&["report", "--csv", s(&csv), "--html", s(&file), s(&cap)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!csv.exists());
}

/// A run that fails after its outputs were started leaves the old ones whole, even with
/// `--force`, and no temporary file behind; a run that succeeds leaves only the tables.
#[test]
fn a_failed_run_leaves_the_old_outputs_whole_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let out = dir.path().join("out");
    let html = dir.path().join("html");
    let o = bttrace(&["analyze", "--csv", s(&out), "--html", s(&html), s(&cap)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        listing(&out),
        [
            "captures.csv",
            "flows.csv",
            "messages.csv",
            "rsts.csv",
            "tests.csv"
        ]
    );
    let pages = listing(&html);
    assert_eq!(pages.len(), 1, "{pages:?}");
    // The page's name is now a directory: the run fails when it comes to write it.
    let page = html.join(&pages[0]);
    fs::remove_file(&page).unwrap();
    fs::create_dir(&page).unwrap();
    fs::write(out.join("flows.csv"), "old").unwrap();
    let o = bttrace(&[
        "analyze",
        "--force",
        "--csv",
        s(&out),
        "--html",
        s(&html),
        s(&cap),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(out.join("flows.csv")).unwrap(), "old");
    assert_eq!(
        listing(&out),
        [
            "captures.csv",
            "flows.csv",
            "messages.csv",
            "rsts.csv",
            "tests.csv"
        ]
    );
    assert_eq!(listing(&html), pages);
}

// ---- 10. absurd option values -------------------------------------------------------------------

/// `-j 100000` for one small file starts no more threads than it can use: it takes about as
/// long as `-j 1` (it took over a minute).
#[test]
fn a_huge_thread_count_is_bounded_by_the_inputs_and_cores() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_capture(&dir.path().join("a.pcap"));
    let started = std::time::Instant::now();
    let o = bttrace(&["analyze", "-j", "100000", s(&cap)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // And for a directory (the files are not counted first): four per core at most.
    let started = std::time::Instant::now();
    let o = bttrace(&["analyze", "-j", "100000", s(dir.path())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(bttrace::batch::thread_bound(100_000) <= 4 * 1024);
    assert_eq!(bttrace::batch::thread_bound(0), 0);
}

// ---- 8. inputs that never end ----------------------------------------------------------------

/// Makes a named pipe at `path`.
#[cfg(unix)]
fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// A FIFO named as an input with nobody writing to it fails after `--fifo-wait`, and the rest
/// of the batch is reported; a FIFO with a writer is read as a capture.
#[cfg(unix)]
#[test]
fn a_fifo_without_a_writer_fails_within_its_bound_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_capture(&dir.path().join("good.pcap"));
    let fifo = dir.path().join("stuck");
    mkfifo(&fifo);
    let started = std::time::Instant::now();
    let o = bttrace(&[
        "analyze",
        "--format",
        "json",
        "--fifo-wait",
        "0.5",
        s(&fifo),
        s(&good),
    ]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a FIFO that nothing wrote to in 0.5 s"),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("complete JSON");
    let caps = v["captures"].as_array().unwrap();
    assert_eq!(caps.len(), 2);
    assert!(caps[1]["error"].is_null(), "{}", caps[1]);
    // With a writer, the FIFO is a capture like any other.
    let writer = Command::new("sh")
        .arg("-c")
        .arg(format!("sleep 0.2; cat {} > {}", s(&good), s(&fifo)))
        .spawn()
        .unwrap();
    let o = bttrace(&["analyze", "--format", "json", s(&fifo)]);
    let _ = { writer }.wait();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["captures"][0]["frames"].as_u64().unwrap() > 0);
}

/// Each capture's result goes out when it is done: the one before a stuck input is on
/// standard output long before the batch ends.
#[cfg(unix)]
#[test]
fn results_are_streamed_out_as_each_capture_is_done() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let good = write_capture(&dir.path().join("good.pcap"));
    let fifo = dir.path().join("stuck");
    mkfifo(&fifo);
    let started = std::time::Instant::now();
    let mut child = bin()
        .args(["analyze", "--format", "csv", "-j", "2", "--fifo-wait", "3"])
        .arg(&good)
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let header = lines.next().unwrap().unwrap();
    assert!(header.starts_with("capture,"));
    let first = lines.next().unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(first.starts_with(s(&good)), "{first}");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let ended = started.elapsed();
    assert_eq!(status.code(), Some(1));
    assert!(rest.iter().any(|l| l.starts_with(s(&fifo))));
    assert!(ended >= std::time::Duration::from_secs(3), "{ended:?}");
    assert!(first_at < std::time::Duration::from_secs(2), "{first_at:?}");
}
