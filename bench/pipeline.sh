#!/usr/bin/env bash
# bench/pipeline.sh: time a no-op `keel run` and `keel status` on a big
# pipeline beside the floor of stat-ing its dep files.
#
# It generates, into a scratch git repo under ${KEEL_BENCH_DIR:-/tmp/keel-bench}:
#   - KEEL_BENCH_STAGES stages (default 200), half of each kind:
#       prep_NNN: deps the folder data/shard_NNN/ (FILES_PER_STAGE files),
#                 params prep.seed, prep.split, prep.shards.sNNN.min_rows;
#                 every 10th one also deps the out of the prep stage before it
#       feat_NNN: deps a list of FILES_PER_STAGE single files spread over
#                 data/raw/part_*/ (one per part folder), the out of prep_NNN
#                 and, for 3 in 4, the out of feat_NNN-1 (chains of 4);
#                 params feat.window, feat.normalize, or the whole section
#                 `feat` for every 10th one
#     so 10,000 dep files at the default sizes, and a DAG rather than only
#     independent stages. Each stage's command is one cheap `echo` into its
#     own out (out/prep/prep_NNN.txt, out/feat/feat_NNN.txt).
#   - params.yaml with a section per stage kind.
# Then it runs the pipeline once (`keel run -j KEEL_BENCH_JOBS`, timed, for
# information), checks with `keel --json run` that a second run skips every
# stage and with `keel --json status` that every stage is up to date, and
# times KEEL_BENCH_REPS rounds (default 10) of, in turn:
#   - a no-op `keel run`                      (everything up to date)
#   - `keel status`
#   - `keel dag`, which loads what status loads (keel.yaml, params.yaml,
#     keel.lock, the graph, an existence check of every dep) but hashes
#     nothing, and `keel dag` again with keel.lock moved aside: with status
#     and version, a breakdown by phase
#   - `keel version`                          (process start, nothing read)
#   - the stat floor: /usr/bin/python3 doing os.lstat over the list of dep
#     files, timed in-process (perf_counter) and as wall time including
#     interpreter start
#   - the walk floor: `find data -type f -printf '%s %T@\n'` (wall time)
# and prints medians and minima of wall-clock ms (date +%s%N, including
# process start), the median CPU ms (user + sys, from bash's `time`: steadier
# than wall time on a busy machine), keel / floor ratios and PASS/FAIL
# against the target: each no-op under 200 ms (wall median). All runs are
# page-cache warm.
#
# Usage: bench/pipeline.sh
#   KEEL=path/to/keel             keel binary (default: bench/../build/keel,
#                                 built with scripts/build when missing)
#   KEEL_BENCH_DIR=/tmp/x         scratch parent (default /tmp/keel-bench)
#   KEEL_BENCH_STAGES=200         number of stages, even (default 200)
#   KEEL_BENCH_FILES_PER_STAGE=50 dep files per stage (default 50)
#   KEEL_BENCH_REPS=10            timed rounds (default 10)
#   KEEL_BENCH_JOBS=2             -j of the first, untimed-for-target run (default 2)
#   KEEL_BENCH_KEEP=1             keep the scratch dir (and logs) at the end
#   KEEL_BENCH_STRICT=1           exit 1 if a target is not met
set -euo pipefail

N_STAGES=${KEEL_BENCH_STAGES:-200}
PER_STAGE=${KEEL_BENCH_FILES_PER_STAGE:-50}
REPS=${KEEL_BENCH_REPS:-10}
JOBS=${KEEL_BENCH_JOBS:-2}
BENCH_ROOT=${KEEL_BENCH_DIR:-/tmp/keel-bench}
KEEP=${KEEL_BENCH_KEEP:-0}
STRICT=${KEEL_BENCH_STRICT:-0}
TARGET_MS=200

for v in N_STAGES PER_STAGE REPS JOBS; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "pipeline.sh: $v must be a positive integer, got '${!v}'" >&2
    exit 2
  fi
done
if (( N_STAGES % 2 )); then
  echo "pipeline.sh: KEEL_BENCH_STAGES must be even (half prep, half feat stages), got $N_STAGES" >&2
  exit 2
fi
HALF=$(( N_STAGES / 2 ))
N_FILES=$(( N_STAGES * PER_STAGE ))

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# git without a configured identity or default branch.
g() {
  git -c user.name=bench -c user.email=bench@localhost \
      -c init.defaultBranch=main -c advice.detachedHead=false "$@"
}

# ---------------------------------------------------------------- tools
command -v git >/dev/null 2>&1 || { echo "pipeline.sh: git is required" >&2; exit 2; }
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3 2>/dev/null) || { echo "pipeline.sh: python3 is required" >&2; exit 2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z ${KEEL:-} ]]; then
  KEEL=$SCRIPT_DIR/../build/keel
  if [[ ! -x $KEEL ]]; then
    log "no $KEEL: building it with scripts/build"
    "$SCRIPT_DIR/../scripts/build"
  fi
fi
if [[ $KEEL != */* ]] && command -v "$KEEL" >/dev/null 2>&1; then
  KEEL=$(command -v "$KEEL")
fi
KEEL=$(readlink -f -- "$KEEL" 2>/dev/null || echo "$KEEL")
if [[ ! -x $KEEL || ! -f $KEEL ]]; then
  echo "pipeline.sh: keel binary not found or not executable: $KEEL" >&2
  exit 2
fi

# ---------------------------------------------------------------- scratch
mkdir -p "$BENCH_ROOT"
SCRATCH=$(mktemp -d "$BENCH_ROOT/pipeline.XXXXXX")
P=$SCRATCH/project
LOGS=$SCRATCH/logs
mkdir -p "$P" "$LOGS"

cleanup() {
  local rc=$?
  if [[ $KEEP == 1 ]]; then
    log "kept scratch dir $SCRATCH"
  else
    rm -rf "$SCRATCH"
    rmdir "$BENCH_ROOT" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- timing
declare -A S      # step name -> space-separated elapsed ns, one per round
die() { echo "pipeline.sh: $*" >&2; exit 1; }

# run_ns NAME CMD...: run CMD in $P, output to $LOGS/NAME.log; prints the
# elapsed wall time in ns and leaves the CPU time (user + sys of CMD and its
# children, bash's `time`, ms resolution) in ns in $LOGS/NAME.cpu. A failing
# command fails the bench (call it in an assignment, so that set -e sees it).
run_ns() {
  local name=$1; shift
  local t0 t1 rc=0 u sy TIMEFORMAT='%3U %3S'
  t0=$(date +%s%N)
  # (the inner braces keep the command's 2>&1 off time's own report)
  { time { ( cd "$P" && "$@" ) >"$LOGS/$name.log" 2>&1; }; } 2>"$LOGS/$name.time" || rc=$?
  t1=$(date +%s%N)
  if (( rc != 0 )); then
    log "FAILED $name (exit $rc): $*; last lines of its output:"
    tail -n 15 "$LOGS/$name.log" | sed 's/^/    /' >&2
    exit 1
  fi
  read -r u sy <"$LOGS/$name.time"
  awk -v u="$u" -v s="$sy" 'BEGIN { printf "%.0f\n", (u + s) * 1e9 }' >"$LOGS/$name.cpu"
  echo $(( t1 - t0 ))
}
# timed NAME CMD...: run_ns, sampling wall time into NAME and CPU time into NAME_cpu.
timed() {
  local ns
  ns=$(run_ns "$@")
  sample "$1" "$ns"
  sample "$1_cpu" "$(cat "$LOGS/$1.cpu")"
}
sample() { S[$1]="${S[$1]:-} $2"; }   # sample NAME NS
stat_of() {  # stat_of NAME median|min -> ms with 1 decimal
  # shellcheck disable=SC2086
  printf '%s\n' ${S[$1]} | sort -n | awk -v what="$2" '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "n/a"; exit }
      if (what == "min") x = v[1]
      else x = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.1f", x / 1e6
    }'
}
ratio() {  # a b (ms) -> a/b with 1 decimal
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1f", a / b; else printf "n/a" }'
}
fmt_ms() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }

# ---------------------------------------------------------------- generate
log "scratch: $SCRATCH ($(findmnt -no FSTYPE -T "$SCRATCH" 2>/dev/null || echo '?') filesystem)"
log "keel: $KEEL"
log "generating $N_STAGES stages over $N_FILES dep files"
t0=$(date +%s%N)
(cd "$P" && g init -q)
run_ns keel_init "$KEEL" init >/dev/null
"$PY" - "$P" "$HALF" "$PER_STAGE" <<'PY'
import os, sys
root, half, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.chdir(root)
w = len(str(max(half, per) - 1)) if max(half, per) > 1 else 1
w = max(w, 3)
n = lambda i: f"{i:0{w}d}"
deps_list = []
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    deps_list.append(path)
# Folder deps: data/shard_NNN/f_NNN.txt, one folder per prep stage.
for i in range(half):
    d = f"data/shard_{n(i)}"
    os.makedirs(d)
    for j in range(per):
        write(f"{d}/f_{n(j)}.txt", f"shard {i} row {j} {i * per + j}\n")
# Single-file deps: data/raw/part_PPP/r_NNNNN.txt, `half` files per part
# folder; feat stage i lists files i, i + half, i + 2*half, ... (one per part).
for p in range(per):
    d = f"data/raw/part_{n(p)}"
    os.makedirs(d)
    for k in range(half):
        write(f"{d}/r_{p * half + k:06d}.txt", f"raw {p * half + k}\n")
scratch = os.path.dirname(root)
with open(os.path.join(scratch, "deps.txt"), "w") as f:
    f.write("\n".join(deps_list) + "\n")
edges = 0

y = ["params: params.yaml", "stages:"]
for i in range(half):
    y += [f"  prep_{n(i)}:",
          f"    cmd: echo {i} > out/prep/prep_{n(i)}.txt",
          "    deps:",
          f"      - data/shard_{n(i)}/"]
    if i % 10 == 9:
        y.append(f"      - out/prep/prep_{n(i - 1)}.txt")
        edges += 1
    y += ["    params:",
          "      - prep.seed",
          "      - prep.split",
          f"      - prep.shards.s{n(i)}.min_rows",
          "    outs:",
          f"      - out/prep/prep_{n(i)}.txt"]
for i in range(half):
    y += [f"  feat_{n(i)}:",
          f"    cmd: echo {i} > out/feat/feat_{n(i)}.txt",
          "    deps:"]
    y += [f"      - data/raw/part_{n(p)}/r_{p * half + i:06d}.txt" for p in range(per)]
    y.append(f"      - out/prep/prep_{n(i)}.txt")
    edges += 1
    if i % 4:
        y.append(f"      - out/feat/feat_{n(i - 1)}.txt")
        edges += 1
    y.append("    params:")
    y += ["      - feat"] if i % 10 == 0 else ["      - feat.window", "      - feat.normalize"]
    y += ["    outs:", f"      - out/feat/feat_{n(i)}.txt"]
with open("keel.yaml", "w") as f:
    f.write("\n".join(y) + "\n")

p = ["prep:", "  seed: 42", "  split: 0.2", "  shards:"]
for i in range(half):
    p += [f"    s{n(i)}:", f"      min_rows: {10 + i % 7}"]
p += ["feat:", "  window: 5", "  normalize: true", "  lr: 0.01", "  layers: [64, 32]", "  optimizer: adam"]
with open("params.yaml", "w") as f:
    f.write("\n".join(p) + "\n")
with open(os.path.join(scratch, "edges.txt"), "w") as f:
    f.write(f"{edges}\n")
PY
DEPS_LIST=$SCRATCH/deps.txt
n_listed=$(wc -l <"$DEPS_LIST")
(( n_listed == N_FILES )) || die "generated $n_listed dep files, expected $N_FILES"
N_EDGES=$(cat "$SCRATCH/edges.txt")
(cd "$P" && g add -A >/dev/null && g commit -q -m "bench pipeline" >/dev/null)
sync
log "generated in $(fmt_ms $(( $(date +%s%N) - t0 ))) ms: keel.yaml $(wc -c <"$P/keel.yaml") bytes, $N_EDGES stage-to-stage edges"

# ---------------------------------------------------------------- first run
log "first run: keel run -j $JOBS"
first_ns=$(run_ns first_run "$KEEL" run -j "$JOBS")   # an assignment: set -e sees a failure
log "first run: $(fmt_ms "$first_ns") ms ($(tail -n 1 "$LOGS/first_run.log"))"

# Checks (untimed; they also warm the file-state cache for files that were
# too new to cache during the first run).
(cd "$P" && "$KEEL" --json run) >"$LOGS/check_run.json" 2>"$LOGS/check_run.err" ||
  { cat "$LOGS/check_run.err" >&2; die "keel --json run failed"; }
"$PY" - "$LOGS/check_run.json" "$N_STAGES" <<'PY' || die "a second keel run did not skip every stage (see above)"
import json, sys
stages = json.load(open(sys.argv[1]))["stages"]
bad = [s for s in stages if s["action"] != "skipped"]
for s in bad[:10]:
    print(f"  {s['name']}: {s['action']} ({'; '.join(s['reasons'])})", file=sys.stderr)
sys.exit(1 if bad or len(stages) != int(sys.argv[2]) else 0)
PY
(cd "$P" && "$KEEL" --json status) >"$LOGS/check_status.json" 2>"$LOGS/check_status.err" ||
  { cat "$LOGS/check_status.err" >&2; die "keel --json status failed"; }
"$PY" - "$LOGS/check_status.json" "$N_STAGES" <<'PY' || die "keel status does not say every stage is up to date (see above)"
import json, sys
stages = json.load(open(sys.argv[1]))["stages"]
bad = [s for s in stages if s["state"] != "up to date"]
for s in bad[:10]:
    print(f"  {s['name']}: {s['state']} ({'; '.join(s['reasons'])})", file=sys.stderr)
sys.exit(1 if bad or len(stages) != int(sys.argv[2]) else 0)
PY
log "checked: a second run skips all $N_STAGES stages; status says all are up to date"
LOCK_BYTES=$(wc -c <"$P/keel.lock")
LOCK_LINES=$(wc -l <"$P/keel.lock")
STATE_DB=$(find "$P/.keel" -name '*.db' -path '*cache*' -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')

# ---------------------------------------------------------------- timed rounds
# The stat floor: lstat every dep file in one process; prints in-process ns.
LSTAT_PY='
import os, sys, time
paths = open(sys.argv[1]).read().split()
t0 = time.perf_counter_ns()
for p in paths:
    os.lstat(p)
t1 = time.perf_counter_ns()
print(t1 - t0)'
find_floor() { find data -type f -printf '%s %T@\n' >/dev/null; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
log "timing $REPS rounds (load average $LOAD_BEFORE)"
for (( r = 1; r <= REPS; r++ )); do
  timed run "$KEEL" run
  grep -q "^$N_STAGES skipped\$" "$LOGS/run.log" || die "no-op keel run (round $r) did not say '$N_STAGES skipped': $(tail -n 1 "$LOGS/run.log")"
  timed status "$KEEL" status
  grep -qF "up to date ($N_STAGES stages)" "$LOGS/status.log" || die "keel status (round $r) did not say the pipeline is up to date: $(head -n 2 "$LOGS/status.log")"
  timed dag "$KEEL" dag
  mv "$P/keel.lock" "$SCRATCH/keel.lock.aside"
  timed dag_nolock "$KEEL" dag
  mv "$SCRATCH/keel.lock.aside" "$P/keel.lock"
  timed version "$KEEL" version
  timed lstat "$PY" -c "$LSTAT_PY" "$DEPS_LIST"
  sample py_in "$(tail -n 1 "$LOGS/lstat.log")"
  timed find find_floor
done

# ---------------------------------------------------------------- report
RUN_MED=$(stat_of run median); STATUS_MED=$(stat_of status median)
PY_IN=$(stat_of py_in median); FIND=$(stat_of find median)

row() { printf '%-48s %9s %9s %9s %8s %8s\n' "$@"; }
line() {  # label sample-name [cpu: 0 for no CPU column]
  local med; med=$(stat_of "$2" median)
  row "$1" "$med" "$(stat_of "$2" min)" "$( [[ ${3:-1} == 0 ]] && echo - || stat_of "$2_cpu" median)" \
      "$(ratio "$med" "$PY_IN")" "$(ratio "$med" "$FIND")"
}
echo
echo "keel pipeline no-op benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), $(findmnt -no FSTYPE -T "$SCRATCH" 2>/dev/null || echo '?') filesystem)"
echo "pipeline: $N_STAGES stages ($HALF with a folder dep of $PER_STAGE files, $HALF with a list of $PER_STAGE file deps), $N_FILES dep files, $N_EDGES stage-to-stage edges"
echo "keel.lock: $LOCK_BYTES bytes ($(( LOCK_BYTES / 1024 )) KiB, $LOCK_LINES lines); keel.yaml: $(wc -c <"$P/keel.yaml") bytes; params.yaml: $(wc -c <"$P/params.yaml") bytes; file-state cache db: $(( STATE_DB / 1024 )) KiB"
echo "keel: $KEEL"
echo "load average before / after the timed rounds: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "$REPS rounds, page-cache warm. median, min: wall-clock ms including process start (date +%s%N); cpu: median user+sys ms"
echo "(bash time; all threads and children). /lstat, /find: wall median over the floor's wall median."
echo
row "step" "median ms" "min ms" "cpu ms" "/lstat" "/find"
row "------------------------------------------------" "---------" "---------" "---------" "--------" "--------"
row "first keel run -j $JOBS (runs all $N_STAGES stages; once)" "$(fmt_ms "$first_ns")" "-" "$(fmt_ms "$(cat "$LOGS/first_run.cpu")")" "-" "-"
line "keel run, no-op ($N_STAGES skipped)" run
line "keel status (up to date)" status
line "keel dag (loads keel.yaml, params, keel.lock)" dag
line "keel dag with keel.lock moved aside" dag_nolock
line "keel version (process start)" version
line "floor: python os.lstat x$N_FILES (in-process)" py_in 0
line "floor: python os.lstat x$N_FILES (wall)" lstat
line "floor: find data -type f -printf (wall)" find

met() { awk -v x="$1" -v t="$TARGET_MS" 'BEGIN { exit !(x < t) }'; }
ALL_MET=1; v_run="[PASS]"; v_status="[PASS]"
met "$RUN_MED" || { ALL_MET=0; v_run="[FAIL]"; }
met "$STATUS_MED" || { ALL_MET=0; v_status="[FAIL]"; }
echo
echo "Targets (median, < $TARGET_MS ms each):"
echo "  $v_run no-op keel run: $RUN_MED ms (cpu $(stat_of run_cpu median) ms; $(ratio "$RUN_MED" "$PY_IN")x the in-process lstat floor, $(ratio "$RUN_MED" "$FIND")x find)"
echo "  $v_status keel status:    $STATUS_MED ms (cpu $(stat_of status_cpu median) ms; $(ratio "$STATUS_MED" "$PY_IN")x the in-process lstat floor, $(ratio "$STATUS_MED" "$FIND")x find)"
if (( N_STAGES != 200 || PER_STAGE != 50 )); then
  echo "  (the target is defined for 200 stages and 10,000 dep files; this run used $N_STAGES stages and $N_FILES files)"
fi
if [[ $STRICT == 1 ]] && (( ! ALL_MET )); then
  exit 1
fi
exit 0
