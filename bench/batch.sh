#!/usr/bin/env bash
# batch.sh: how `bttrace analyze` and `bttrace report` scale over an archive of many small
# Glasnost captures, with 1 and 2 worker threads.
#
# Run:   bench/batch.sh [OUTDIR]     (OUTDIR defaults to a temporary directory, removed after)
#   PER_DAY=N (default 100): captures per ISP and day of the synthetic week, so 21*N files;
#   TRANSFER_MS (default 300): length of each of a capture's 24 transfers (about 0.25 MB per
#   capture at 300 ms). RUNS (default 5) timed runs per command, after a warm-up.
# Needs hyperfine (apt-get install hyperfine) and a release build with the synthetic week
#   (cargo build --release --features synth: `bttrace glasnost-week` writes it). Prints hyperfine's table and the speed-up of 2 threads over 1, measured in
#   the same run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/..
BTTRACE=$ROOT/target/release/bttrace
PER_DAY=${PER_DAY:-100}
TRANSFER_MS=${TRANSFER_MS:-300}
RUNS=${RUNS:-5}
command -v hyperfine >/dev/null || { echo "missing: hyperfine" >&2; exit 2; }
[[ -x $BTTRACE ]] && "$BTTRACE" help glasnost-week >/dev/null 2>&1 ||
    (cd "$ROOT" && cargo build --release --quiet --features synth)

if [[ -n ${1:-} ]]; then OUT=$1; mkdir -p "$OUT"; else OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT; fi
if [[ ! -f $OUT/isps.txt ]]; then
    "$BTTRACE" glasnost-week "$OUT" "$PER_DAY" "$TRANSFER_MS"
fi
n=$(find "$OUT" -name '*.dump' | wc -l)
echo "$n captures, $(du -sh "$OUT" | cut -f1)" >&2
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/batch.json" \
    -n 'analyze -j1' "$BTTRACE analyze -j1 --format csv $OUT > /dev/null" \
    -n 'analyze -j2' "$BTTRACE analyze -j2 --format csv $OUT > /dev/null" \
    -n 'report -j1' "$BTTRACE report -j1 --isp-map $OUT/isps.txt $OUT > /dev/null" \
    -n 'report -j2' "$BTTRACE report -j2 --isp-map $OUT/isps.txt $OUT > /dev/null"
python3 - "$OUT/batch.json" "$n" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
for what in ("analyze", "report"):
    one, two = r[what + " -j1"], r[what + " -j2"]
    print(f"{what}: {n / one:.0f} captures/s with 1 thread, {n / two:.0f} with 2; "
          f"speed-up {one / two:.2f}x")
PY
"$BTTRACE" analyze --stats --format csv "$OUT" 2>&1 >/dev/null | tail -1
