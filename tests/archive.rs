//! Archives as input (`.tar`, `.tar.gz`, `.tgz`): members streamed, captures paired with
//! their logs whatever the order, names `archive!member`, damage reported per member.

use std::path::{Path, PathBuf};

use bttrace::analyze::Options;
use bttrace::batch;
use bttrace::capture::{LinkType, Timestamp};
use bttrace::model::CaptureReport;
use bttrace::synth::glasnost::{Fate, Plan, capture, log, test};
use bttrace::synth::{PcapOpts, Record, pcap};

fn run(paths: &[PathBuf]) -> Vec<CaptureReport> {
    let mut out = Vec::new();
    batch::run(paths, &Options::default(), 2, |r| {
        out.push(r);
        Ok(())
    })
    .expect("the batch runs");
    out
}

/// Reports as JSON text, names rewritten by `rename`, sorted.
fn normalised(reports: &[CaptureReport], rename: impl Fn(String) -> String) -> Vec<String> {
    let mut v: Vec<String> = reports
        .iter()
        .map(|r| rename(serde_json::to_string(r).unwrap()))
        .collect();
    v.sort();
    v
}

fn append(b: &mut tar::Builder<impl std::io::Write>, name: &str, bytes: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, bytes).unwrap();
}

fn write_tar(path: &Path, members: &[(String, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    if path.extension().is_some_and(|e| e == "tar") {
        let mut b = tar::Builder::new(file);
        for (n, m) in members {
            append(&mut b, n, m);
        }
        b.finish().unwrap();
    } else {
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (n, m) in members {
            append(&mut b, n, m);
        }
        b.into_inner().unwrap().finish().unwrap();
    }
}

/// A short Glasnost test of client `host`: its capture and its log.
fn glasnost_test(host: u8, fate: Fate) -> (Vec<u8>, Vec<u8>) {
    let plan = Plan {
        client: std::net::IpAddr::from([198, 51, 100, host]),
        transfer_ms: 600,
        spacing_ms: 900,
        repetitions: 2,
        ..Plan::default()
    };
    let fates = move |_, _, class, _| {
        if class == bttrace::glasnost::verdict::PortClass::App {
            fate
        } else {
            Fate::Normal
        }
    };
    let packets = test(&plan, fates);
    (
        capture(&packets, Some(200)),
        log(&plan, false, 0, fates).into_bytes(),
    )
}

#[test]
fn the_glasnost_fixtures_as_a_tgz_give_what_they_give_extracted() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("glasnost.tgz");
    let file = std::fs::File::create(&tgz).unwrap();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    b.append_dir_all("glasnost", "fixtures/glasnost").unwrap();
    b.into_inner().unwrap().finish().unwrap();

    let loose = run(&[PathBuf::from("fixtures/glasnost")]);
    let packed = run(std::slice::from_ref(&tgz));
    assert!(loose.len() >= 6, "{}", loose.len());
    let prefix = format!("{}!", tgz.display());
    for r in &packed {
        assert!(r.path.starts_with(&prefix), "{}", r.path);
    }
    let a = normalised(&loose, |s| s);
    let b = normalised(&packed, |s| s.replace(&prefix, "fixtures/"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    // Tests were found with their logs, read from inside the archive.
    let with_log = packed
        .iter()
        .filter(|r| {
            r.glasnost
                .as_ref()
                .and_then(|g| g.log_path.as_deref())
                .is_some_and(|l| l.starts_with(&prefix))
        })
        .count();
    assert!(with_log >= 5, "{with_log}");
}

#[test]
fn captures_find_their_logs_in_any_order_and_lone_logs_stand_alone() {
    let (cap_a, log_a) = glasnost_test(10, Fate::Normal);
    let (cap_b, log_b) = glasnost_test(11, Fate::Reset);
    let (cap_c, _) = glasnost_test(12, Fate::NoConnection);
    let (_, log_d) = glasnost_test(13, Fate::Normal);
    let name =
        |host: u8, ext: &str| format!("day/glasnost_198.51.100.{host}_h{host}_1257163200.{ext}");
    let members = vec![
        // A log before its capture, with other members between them.
        (name(10, "log"), log_a.clone()),
        (name(12, "dump"), cap_c.clone()),
        ("day/README.md".to_string(), b"notes".to_vec()),
        (name(10, "dump"), cap_a.clone()),
        // A capture before its log, not adjacent.
        (name(11, "dump"), cap_b.clone()),
        (name(13, "log"), log_d.clone()),
        (name(11, "log"), log_b.clone()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("day.tar");
    write_tar(&tar, &members);
    let loose = dir.path().join("loose");
    std::fs::create_dir_all(loose.join("day")).unwrap();
    for (n, m) in &members {
        std::fs::write(loose.join(n), m).unwrap();
    }

    let packed = run(std::slice::from_ref(&tar));
    // Every capture and lone log once; the README is no capture.
    let mut names: Vec<&str> = packed.iter().map(|r| r.path.as_str()).collect();
    names.sort();
    let prefix = format!("{}!", tar.display());
    let mut want = vec![
        format!("{prefix}{}", name(10, "dump")),
        format!("{prefix}{}", name(11, "dump")),
        format!("{prefix}{}", name(12, "dump")),
        format!("{prefix}{}", name(13, "log")),
    ];
    want.sort();
    assert_eq!(names, want);
    let log_of = |host: u8| {
        packed
            .iter()
            .find(|r| r.path.ends_with(&name(host, "dump")))
            .and_then(|r| r.glasnost.as_ref())
            .and_then(|g| g.log_path.clone())
    };
    assert_eq!(log_of(10), Some(format!("{prefix}{}", name(10, "log"))));
    assert_eq!(log_of(11), Some(format!("{prefix}{}", name(11, "log"))));
    assert_eq!(log_of(12), None);
    let lone = packed.iter().find(|r| r.path.ends_with(".log")).unwrap();
    assert!(lone.is_log_only(), "{:?}", lone.error);

    // The same as the files extracted.
    let extracted = run(std::slice::from_ref(&loose));
    let loose_prefix = format!("{}/", loose.display());
    let a = normalised(&extracted, |s| s.replace(&loose_prefix, ""));
    let b = normalised(&packed, |s| s.replace(&prefix, ""));
    assert_eq!(a, b);

    // The same order on every run.
    let again: Vec<String> = run(std::slice::from_ref(&tar))
        .into_iter()
        .map(|r| r.path)
        .collect();
    let first: Vec<String> = packed.iter().map(|r| r.path.clone()).collect();
    assert_eq!(first, again);
}

#[test]
fn a_truncated_or_damaged_archive_is_reported_and_the_rest_runs() {
    let (cap_a, log_a) = glasnost_test(20, Fate::Normal);
    let (cap_b, log_b) = glasnost_test(21, Fate::Normal);
    let members = vec![
        ("a.dump".to_string(), cap_a),
        ("a.log".to_string(), log_a),
        ("b.dump".to_string(), cap_b),
        ("b.log".to_string(), log_b),
    ];
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.tar");
    write_tar(&whole, &members);
    let bytes = std::fs::read(&whole).unwrap();

    // Cut in the middle of the third member: the first test is whole, the third member fails,
    // and the archive is reported.
    let cut = dir.path().join("cut.tar");
    let third = bytes
        .windows(6)
        .position(|w| w == b"b.dump")
        .expect("the third header");
    std::fs::write(&cut, &bytes[..third + 512 + 1000]).unwrap();
    // Cut between two members: tar's end marker is missing.
    let at_boundary = dir.path().join("boundary.tar");
    std::fs::write(&at_boundary, &bytes[..third]).unwrap();
    // Not an archive at all, and a gzip'd archive cut short.
    let junk = dir.path().join("junk.tgz");
    std::fs::write(&junk, b"this is not a tar archive, nor gzip").unwrap();
    let tgz = dir.path().join("whole.tgz");
    write_tar(&tgz, &members);
    let gz = std::fs::read(&tgz).unwrap();
    let cut_gz = dir.path().join("cut.tgz");
    std::fs::write(&cut_gz, &gz[..gz.len() * 3 / 4]).unwrap();

    let reports = run(&[
        cut.clone(),
        at_boundary.clone(),
        junk.clone(),
        cut_gz.clone(),
        whole.clone(),
    ]);
    let named = |p: &Path| -> Vec<&CaptureReport> {
        let d = p.display().to_string();
        reports
            .iter()
            .filter(|r| r.path == d || r.path.starts_with(&format!("{d}!")))
            .collect()
    };
    let cut_reports = named(&cut);
    let ok = |r: &&CaptureReport| r.error.is_none();
    assert_eq!(cut_reports.len(), 3, "{:?}", paths(&cut_reports));
    assert!(ok(&cut_reports[0]) && cut_reports[0].path.ends_with("!a.dump"));
    assert!(cut_reports[0].glasnost.as_ref().unwrap().log_path.is_some());
    assert!(cut_reports[1].path.ends_with("!b.dump"));
    assert!(
        cut_reports[1]
            .error
            .as_deref()
            .unwrap()
            .contains("ends inside")
    );
    assert_eq!(cut_reports[2].path, cut.display().to_string());
    assert!(cut_reports[2].error.is_some());

    let b = named(&at_boundary);
    assert_eq!(b.len(), 2, "{:?}", paths(&b));
    assert!(ok(&b[0]));
    assert!(
        b[1].error.as_deref().unwrap().contains("truncated"),
        "{:?}",
        b[1].error
    );

    let j = named(&junk);
    assert_eq!(j.len(), 1);
    assert!(j[0].error.is_some());

    let g = named(&cut_gz);
    assert!(g.iter().any(|r| r.error.is_some()), "{:?}", paths(&g));
    assert!(g.iter().any(ok), "{:?}", paths(&g));

    // The whole archive after all of them is analysed in full.
    let w = named(&whole);
    assert_eq!(w.len(), 2);
    assert!(w.iter().all(ok));
}

fn paths(r: &[&CaptureReport]) -> Vec<(String, Option<String>)> {
    r.iter()
        .map(|r| (r.path.clone(), r.error.clone()))
        .collect()
}

#[test]
fn a_capture_too_large_to_hold_is_streamed_with_the_log_before_it() {
    // 18 MiB of frames (more than archive::IN_MEMORY) after a Glasnost test's packets.
    let (cap, log_bytes) = glasnost_test(30, Fate::Normal);
    let mut big = cap.clone();
    let filler = Record {
        ts: Timestamp(1_257_163_900 * 1_000_000_000),
        data: vec![0x45; 60_000],
        wire_len: 60_000,
    };
    let records = vec![filler; 310];
    let tail = pcap(LinkType::RAW, &records, PcapOpts::default());
    big.extend_from_slice(&tail[24..]);
    assert!(big.len() as u64 > bttrace::archive::IN_MEMORY);
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("big.tar");
    write_tar(
        &tar,
        &[
            ("t/x.log".to_string(), log_bytes.clone()),
            ("t/x.dump".to_string(), big.clone()),
        ],
    );
    let loose = dir.path().join("t");
    std::fs::create_dir_all(&loose).unwrap();
    std::fs::write(loose.join("x.log"), &log_bytes).unwrap();
    std::fs::write(loose.join("x.dump"), &big).unwrap();
    let packed = run(std::slice::from_ref(&tar));
    let extracted = run(&[loose.join("x.dump")]);
    assert_eq!(packed.len(), 1);
    assert!(packed[0].error.is_none(), "{:?}", packed[0].error);
    assert!(packed[0].frames > 310);
    let prefix = format!("{}!t/", tar.display());
    let loose_prefix = format!("{}/", loose.display());
    assert_eq!(
        normalised(&packed, |s| s.replace(&prefix, "")),
        normalised(&extracted, |s| s.replace(&loose_prefix, ""))
    );
}

#[test]
fn the_cli_names_members_and_counts_what_it_skipped() {
    let (cap, log_bytes) = glasnost_test(40, Fate::Normal);
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("day.tar.gz");
    write_tar(
        &tgz,
        &[
            ("d/x.dump".to_string(), cap),
            ("d/x.log".to_string(), log_bytes),
            ("d/notes.txt".to_string(), b"n".to_vec()),
            ("d/.hidden".to_string(), b"n".to_vec()),
        ],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(["analyze", "--format", "csv"])
        .arg(&tgz)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("{}!d/x.dump", tgz.display())),
        "{stdout}"
    );
    assert!(stderr.contains("2 members skipped"), "{stderr}");
    assert!(stderr.contains("d/notes.txt"), "{stderr}");
}

/// Writes a plain tar of `members` captures of `size` bytes each (frames the pipeline skips),
/// streamed to disk, never held whole.
fn write_large_tar(path: &Path, members: usize, size: usize) {
    let frame = Record {
        ts: Timestamp(1_257_163_900 * 1_000_000_000),
        data: vec![0x45; 60_000],
        wire_len: 60_000,
    };
    let n = size / 60_016;
    let capture = pcap(LinkType::RAW, &vec![frame; n], PcapOpts::default());
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut b = tar::Builder::new(file);
    for i in 0..members {
        append(&mut b, &format!("day/c{i:04}.pcap"), &capture);
    }
    b.into_inner().unwrap();
}

fn peak_kib(archive: &Path) -> u64 {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bttrace"))
        .args(["analyze", "--stats", "-j", "2", "--format", "csv"])
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("peak memory")).unwrap();
    line.rsplit("peak memory ")
        .next()
        .and_then(|k| k.strip_suffix(" KiB"))
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn memory_stays_flat_however_large_the_archive() {
    // 2 MiB captures without logs: each is held up to the bounds, then analysed. An archive
    // three times the size of one past the bounds takes no more memory.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    write_large_tar(&a, 60, 2 << 20);
    write_large_tar(&b, 180, 2 << 20);
    let (small, large) = (peak_kib(&a), peak_kib(&b));
    eprintln!("peak memory: {small} KiB on 120 MiB, {large} KiB on 360 MiB");
    assert!(
        large < small + 24 * 1024,
        "peak {large} KiB on 360 MiB against {small} KiB on 120 MiB"
    );
    assert!(large < 256 * 1024, "peak {large} KiB");
}

#[test]
fn an_mlab_log_named_a_second_apart_from_its_dump_is_its_log() {
    let (cap, log_bytes) = glasnost_test(50, Fate::Normal);
    let dump =
        "2009/11/03/mlab1.ams01.measurement-lab.org/2009-11-03T12:00:01_198.51.100.50_h.dump";
    let log = "2009/11/03/mlab1.ams01.measurement-lab.org/2009-11-03T12:00:00_198.51.100.50_h.log";
    let dir = tempfile::tempdir().unwrap();
    for order in [[0, 1], [1, 0]] {
        let members = [
            (dump.to_string(), cap.clone()),
            (log.to_string(), log_bytes.clone()),
        ];
        let tar = dir.path().join(format!("o{}.tar", order[0]));
        write_tar(
            &tar,
            &[members[order[0]].clone(), members[order[1]].clone()],
        );
        let r = run(std::slice::from_ref(&tar));
        assert_eq!(
            r.len(),
            1,
            "{:?}",
            r.iter().map(|r| &r.path).collect::<Vec<_>>()
        );
        let g = r[0].glasnost.as_ref().unwrap();
        assert_eq!(
            g.log_path.as_deref(),
            Some(format!("{}!{log}", tar.display()).as_str())
        );
    }
    // Loose files likewise: the log is read beside the dump, and not analysed alone.
    let loose = dir.path().join("loose");
    let folder = loose.join("2009/11/03/mlab1.ams01.measurement-lab.org");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(loose.join(dump), &cap).unwrap();
    std::fs::write(loose.join(log), &log_bytes).unwrap();
    let r = run(std::slice::from_ref(&loose));
    assert_eq!(r.len(), 1);
    assert!(r[0].glasnost.as_ref().unwrap().log_path.is_some());
}
