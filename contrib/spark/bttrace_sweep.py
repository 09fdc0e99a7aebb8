"""A sweep of bttrace over an archive of Glasnost tarballs on Apache Spark.

One archive per Spark task: the executor runs `bttrace analyze ARCHIVE --parquet OUT/tables`,
which writes that archive's part of each table (OUT/tables/{captures,tests,flows,rsts}/
ARCHIVE.parquet, complete or absent: bttrace renames a part into place when it is whole).
A task that succeeds leaves OUT/_done/ARCHIVE.json; a rerun skips those archives. A task
that fails (the archive is missing, bttrace cannot write, crashes or times out) leaves
OUT/_failed/ARCHIVE.json with the reason, is not fatal to the job, and is tried again on the
next run. Damaged members inside an archive are not task failures: bttrace reports each in
the captures table (its `error` column) and goes on.

The reduce: with --report, the driver runs `bttrace report OUT/tables` (the Parquet parts
read as tables), which equals `bttrace report` over the archives themselves
(tests/report_tables.rs, contrib/spark/check.sh).

    spark-submit --master local[2] --files target/release/bttrace \
        contrib/spark/bttrace_sweep.py --out OUT --report --isp-map isps.txt 'archives/*.tgz'

See contrib/spark/README.md.
"""
import argparse
import glob
import json
import os
import shutil
import stat
import subprocess
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("archives", nargs="+",
                   help="archive paths or globs (on a file system every executor mounts), "
                        "or @FILE for a list of them, one per line")
    p.add_argument("--out", required=True,
                   help="output directory, on a file system every executor and the driver mount")
    p.add_argument("--bttrace", default="bttrace",
                   help="the bttrace binary: a path, a name shipped with --files, or a name on "
                        "PATH (default bttrace)")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds one archive may take before its task is recorded as failed")
    p.add_argument("--threads", type=int, default=1,
                   help="bttrace threads per task (match spark.task.cpus)")
    p.add_argument("--report", action="store_true",
                   help="after the sweep, run bttrace report over the tables on the driver")
    p.add_argument("--isp-map", help="ISP table for --report")
    p.add_argument("--by", choices=["weekday", "date"], default="weekday")
    p.add_argument("--master", help="Spark master when run with python instead of spark-submit")
    return p.parse_args(argv)


def expand(patterns):
    """The archives, in a stable order (sorted within each pattern, patterns as given)."""
    out = []
    for pat in patterns:
        if pat.startswith("@"):
            with open(pat[1:]) as f:
                out.extend(line.strip() for line in f if line.strip() and not line.startswith("#"))
            continue
        hits = sorted(glob.glob(pat))
        out.extend(hits if hits else [pat])  # a missing path is kept: its task records it
    seen, unique = set(), []
    for a in out:
        if a not in seen:
            seen.add(a)
            unique.append(a)
    return unique


def find_binary(name):
    """The bttrace to run on this machine: shipped with --files, a path, or on PATH."""
    try:
        from pyspark import SparkFiles
        shipped = SparkFiles.get(os.path.basename(name))
        if os.path.isfile(shipped):
            mode = os.stat(shipped).st_mode
            if not mode & stat.S_IXUSR:
                os.chmod(shipped, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return shipped
    except Exception:  # not in a Spark task, or nothing shipped
        pass
    if os.path.isfile(name):
        return os.path.abspath(name)
    return shutil.which(name) or name


def marker(out, kind, archive):
    return os.path.join(out, kind, os.path.basename(archive) + ".json")


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def run_one(archive, out, binary, timeout, threads):
    """One task: bttrace on one archive. Returns a summary dict; never raises."""
    done = marker(out, "_done", archive)
    if os.path.exists(done):
        return {"archive": archive, "status": "skipped"}
    started = time.time()
    result = {"archive": archive, "host": os.uname().nodename}
    try:
        if not os.path.isfile(archive):
            raise RuntimeError("no such archive")
        cmd = [find_binary(binary), "analyze", "--format", "json", "--stats", "--force",
               "-j", str(threads), "--parquet", os.path.join(out, "tables"), archive]
        # Standard output opened write-only: bttrace takes a read-write /dev/null (what
        # subprocess.DEVNULL gives) for a closed standard output and refuses to run.
        with open(os.devnull, "w") as null:
            p = subprocess.run(cmd, stdout=null, stderr=subprocess.PIPE,
                               timeout=timeout, text=True, errors="replace")
        # 0: every capture analysed; 1: some failed (each reported in the tables); else the
        # run itself failed.
        if p.returncode not in (0, 1):
            raise RuntimeError(f"bttrace exited with {p.returncode}: {p.stderr[-2000:]}")
        stats = [l for l in p.stderr.splitlines() if "stats:" in l]
        result.update(status="done", exit=p.returncode, stats=stats[-1] if stats else None,
                      seconds=round(time.time() - started, 3))
        failed = marker(out, "_failed", archive)
        if os.path.exists(failed):
            os.remove(failed)
        write_json(done, result)
    except subprocess.TimeoutExpired:
        result.update(status="failed", error=f"timed out after {timeout} s",
                      seconds=round(time.time() - started, 3))
        write_json(marker(out, "_failed", archive), result)
    except Exception as e:  # recorded, not fatal
        result.update(status="failed", error=str(e), seconds=round(time.time() - started, 3))
        write_json(marker(out, "_failed", archive), result)
    return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("bttrace-sweep")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    archives = expand(args.archives)
    if not archives:
        sys.exit("no archives")
    binary, timeout, threads = args.bttrace, args.timeout, args.threads
    started = time.time()
    results = (sc.parallelize(archives, numSlices=len(archives))
               .map(lambda a: run_one(a, out, binary, timeout, threads))
               .collect())
    elapsed = time.time() - started
    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = {"archives": len(archives), "seconds": round(elapsed, 3), "counts": counts,
               "failed": [r for r in results if r["status"] == "failed"],
               "parallelism": sc.defaultParallelism}
    write_json(os.path.join(out, "_runs", time.strftime("%Y%m%dT%H%M%S") + ".json"), summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "failed"}))
    for r in summary["failed"]:
        print(f"failed: {r['archive']}: {r['error']}", file=sys.stderr)
    code = 0
    if args.report:
        cmd = [find_binary(binary), "report", os.path.join(out, "tables"),
               "--by", args.by, "--csv", os.path.join(out, "report"), "--force"]
        if args.isp_map:
            cmd += ["--isp-map", args.isp_map]
        with open(os.path.join(out, "report.txt"), "w") as f:
            code = subprocess.run(cmd, stdout=f).returncode
        print(f"report: {os.path.join(out, 'report.txt')} and {os.path.join(out, 'report')}/")
    spark.stop()
    # Failed archives are recorded, not fatal; the exit status still says there were some.
    return 3 if summary["failed"] else (0 if code in (0, 1) else code)


if __name__ == "__main__":
    sys.exit(main())
