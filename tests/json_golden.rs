//! Output stability: what `bttrace analyze` prints for every file in `fixtures/` (JSON per
//! file, and JSON, text and CSV for the whole directory in one run) must stay byte-identical
//! to what the build that wrote `tests/golden/outputs.tsv` printed. Speed work must not move a
//! single byte; a change that means to change output regenerates the table and says so in its
//! commit.
//!
//! The table keeps, per output, its length and 64-bit FNV-1a digest (2.6 MB of JSON would
//! otherwise live in the repository). To see what changed, run the old build and the new one
//! on the named file and diff their outputs.
//!
//! Regenerate: `BTTRACE_BLESS=1 cargo test --test json_golden`, on the build whose output is
//! the reference.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn table_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/outputs.tsv")
}

/// 64-bit FNV-1a: tiny, stable across Rust versions (unlike `DefaultHasher`), enough to tell
/// two outputs apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Every regular file under `dir`, as a path relative to it with `/` separators, sorted.
fn files(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().into_string().unwrap();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            files(&e.path(), &rel, out);
        } else if ty.is_file() {
            out.push(rel);
        }
    }
}

/// stdout of `bttrace analyze --format FORMAT PATH` run in `fixtures/`, so paths in the output
/// are relative and the same on every checkout.
fn analyze(format: &str, path: &str) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .current_dir(fixtures())
        .args(["analyze", "--format", format, path])
        .output()
        .expect("run bttrace");
    out.stdout
}

#[test]
fn outputs_on_fixtures_are_unchanged() {
    let mut names = Vec::new();
    files(&fixtures(), "", &mut names);
    assert!(names.len() > 200, "fixtures/ has {} files", names.len());
    let mut runs: Vec<(String, String)> = vec![
        ("json".into(), ".".into()),
        ("text".into(), ".".into()),
        ("csv".into(), ".".into()),
    ];
    runs.extend(names.iter().map(|n| ("json".to_string(), format!("./{n}"))));

    let mut table = String::new();
    for (format, path) in &runs {
        let out = analyze(format, path);
        writeln!(
            table,
            "{format}\t{path}\t{}\t{:016x}",
            out.len(),
            fnv1a(&out)
        )
        .unwrap();
    }

    if std::env::var_os("BTTRACE_BLESS").is_some() {
        std::fs::create_dir_all(table_path().parent().unwrap()).unwrap();
        std::fs::write(table_path(), &table).unwrap();
        return;
    }
    let want = std::fs::read_to_string(table_path())
        .expect("tests/golden/outputs.tsv: regenerate with BTTRACE_BLESS=1");
    let want: Vec<&str> = want.lines().collect();
    let got: Vec<&str> = table.lines().collect();
    let changed: Vec<String> = want
        .iter()
        .zip(&got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("  was {w}\n  now {g}"))
        .collect();
    assert!(
        changed.is_empty() && want.len() == got.len(),
        "{} of {} outputs changed ({} rows before, {} now):\n{}",
        changed.len(),
        got.len(),
        want.len(),
        got.len(),
        changed.join("\n")
    );
}
