#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 300) and prints, per target, the
# executions, executions per second, and the crashes, timeouts and OOMs found.
#
#   fuzz/run.sh [SECONDS]                 all targets, one after another
#   JOBS=2 fuzz/run.sh 600                two targets at a time
#   TARGETS="analyze peer_wire" fuzz/run.sh 60
#   FORK=0 fuzz/run.sh                    stop each target at its first crash
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and, on a stable toolchain,
# RUSTC_BOOTSTRAP=1 (set here). Built without a sanitizer: bttrace forbids unsafe code, so
# the sanitizer would only slow the search; overflow checks and debug assertions are on.
#
# By default libFuzzer runs in fork mode and keeps going after a crash (each crash input is
# saved in fuzz/artifacts/<target>/), so one known bug does not end a run. Logs go to
# fuzz/artifacts/logs/<target>.log. Seed the corpora first with fuzz/seed-corpus.sh.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
secs="${1:-300}"
jobs="${JOBS:-1}"
fork="${FORK:-1}"
targets=(${TARGETS:-capture_reader wire_decode peer_wire analyze report compare})
export RUSTC_BOOTSTRAP=1

declare -A max_len=([capture_reader]=65536 [wire_decode]=16384 [peer_wire]=16384 [analyze]=65536 [report]=65536 [compare]=131072)

RUSTC_BOOTSTRAP=1 cargo fuzz build -s none >/dev/null 2>&1 || {
    echo "build failed: run 'RUSTC_BOOTSTRAP=1 cargo fuzz build -s none' in fuzz/" >&2
    exit 1
}
mkdir -p artifacts/logs

# Every input that ever crashed a target (regressions/<target>/) must run clean now.
bins=target/x86_64-unknown-linux-gnu/release
for t in "${targets[@]}"; do
    [ -d "regressions/$t" ] || continue
    for f in regressions/"$t"/*; do
        if ! "$bins/$t" "$f" >"artifacts/logs/replay.log" 2>&1; then
            echo "REGRESSION: $t crashes again on $f (see fuzz/artifacts/logs/replay.log)" >&2
            exit 1
        fi
    done
    echo "$t: $(ls "regressions/$t" | wc -l) known crash inputs replayed, all clean" >&2
done

run_one() {
    local t="$1"
    mkdir -p "corpus/$t" "artifacts/$t"
    local before
    before=$(ls "artifacts/$t" | wc -l)
    local extra=()
    if [ "$fork" = 1 ]; then
        extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    cargo fuzz run -s none "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=512 -timeout=5 \
        -max_len="${max_len[$t]:-65536}" -print_final_stats=1 "${extra[@]}" \
        >"artifacts/logs/$t.log" 2>&1
    echo "$before" >"artifacts/logs/$t.before"
}

summary() {
    local t="$1" log="artifacts/logs/$t.log"
    local execs secs_run crashes timeouts ooms
    if [ "$fork" = 1 ]; then
        # Fork mode: the last status line carries the totals, e.g.
        # "#123456: cov: 900 ft: 3000 corp: 400 exec/s: 2000 oom/timeout/crash: 0/0/1 time: 600s ..."
        local last
        last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
        execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
        secs_run=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$last")
        IFS=/ read -r ooms timeouts crashes < <(sed -nE 's/.*oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$last")
    else
        execs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
        secs_run=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$log" | tail -1)
        if [ -z "$execs" ]; then
            execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -1)
            secs_run=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' "$log" | tail -1)
        fi
        crashes=$(grep -c 'deadly signal\|panicked at' "$log")
        timeouts=$(grep -c 'ALARM: working on the last Unit' "$log")
        ooms=$(grep -c 'out-of-memory' "$log")
    fi
    local rate="?"
    if [ -n "${execs:-}" ] && [ -n "${secs_run:-}" ] && [ "${secs_run:-0}" -gt 0 ]; then
        rate=$((execs / secs_run))
    fi
    local before after
    before=$(cat "artifacts/logs/$t.before" 2>/dev/null || echo 0)
    after=$(ls "artifacts/$t" | wc -l)
    printf '%-15s %8ss %14s %10s %8s %9s %5s %10s\n' "$t" "${secs_run:-?}" "${execs:-?}" "$rate" \
        "${crashes:-?}" "${timeouts:-?}" "${ooms:-?}" "$((after - before))"
}

running=0
for t in "${targets[@]}"; do
    echo "fuzzing $t for ${secs}s (log: fuzz/artifacts/logs/$t.log)" >&2
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

printf '%-15s %9s %14s %10s %8s %9s %5s %10s\n' target time executions exec/s crashes timeouts ooms new-files
for t in "${targets[@]}"; do
    summary "$t"
done
