#!/usr/bin/env bash
# Runs the Spark sweep in local mode on a generated M-Lab-layout mini-archive and checks it
# against the single-machine run: every table equal row for row after sorting, and the
# report (text, speeds.csv, days.csv, summary.csv) byte for byte. Also: a missing archive is
# recorded as failed without stopping the job, and a rerun skips the archives done.
#
#   contrib/spark/check.sh [PYTHON]     (PYTHON with pyspark and pyarrow; default python3)
#
# Needs Java (for Spark) and target/release/bttrace with its example mlab_archive built.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${1:-python3}
bin=$PWD/target/release/bttrace
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/examples/mlab_archive "$work/archive" 2 2
archives=("$work"/archive/*.tgz)

# Single machine: one bttrace run over every archive, and its report.
"$bin" analyze --format json --parquet "$work/single" "${archives[@]}" >/dev/null 2>&1 || [[ $? == 1 ]]
"$bin" report --isp-map "$work/archive/isps.txt" --csv "$work/single-report" "${archives[@]}" \
  >"$work/single-report.txt" 2>/dev/null || [[ $? == 1 ]]

# Spark, local[2], with one archive that does not exist.
run() {
  "$py" contrib/spark/bttrace_sweep.py --master 'local[2]' --bttrace "$bin" --out "$work/spark" \
    --report --isp-map "$work/archive/isps.txt" "${archives[@]}" "$work/archive/missing.tgz"
}
set +e
run >"$work/run1.json" 2>"$work/run1.err"
status=$?
set -e
[[ $status == 3 ]] || { cat "$work/run1.err"; echo "first run: exit $status, expected 3 (one failed)"; exit 1; }
grep -q "missing.tgz: no such archive" "$work/run1.err"
[[ -f $work/spark/_failed/missing.tgz.json ]]
[[ $(ls "$work/spark/_done" | wc -l) == "${#archives[@]}" ]]

"$py" - "$work/single" "$work/spark/tables" <<'PY'
import sys
import pyarrow.dataset as ds
single, spark = sys.argv[1], sys.argv[2]
for t in ["captures", "tests", "flows", "rsts", "messages"]:
    a = ds.dataset(f"{single}/{t}", format="parquet").to_table()
    b = ds.dataset(f"{spark}/{t}", format="parquet").to_table()
    assert a.schema == b.schema, t
    rows = lambda x: sorted(map(repr, x.to_pylist()))
    ra, rb = rows(a), rows(b)
    assert ra == rb, f"{t}: {len(ra)} rows single, {len(rb)} on Spark"
    print(f"{t}: {len(ra)} rows, equal after sorting")
PY
cmp "$work/single-report.txt" "$work/spark/report.txt"
for f in speeds days summary; do
  cmp "$work/single-report/$f.csv" "$work/spark/report/$f.csv"
done
echo "report: equal byte for byte"

# A rerun skips what is done and tries the failed archive again.
set +e
run >"$work/run2.json" 2>"$work/run2.err"
set -e
grep -q "\"skipped\": ${#archives[@]}" "$work/run2.json" || { cat "$work/run2.json"; exit 1; }
echo "rerun: ${#archives[@]} archives skipped, the missing one tried again"
