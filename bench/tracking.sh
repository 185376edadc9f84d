#!/usr/bin/env bash
# bench/tracking.sh: time keel's run tracking (docs/format/tracking.md)
# beside the floors a naive tracker on SQLite has, in one invocation:
#
#   1. ingest: a stage that appends KEEL_BENCH_VALUES (default 1,000,000)
#      metric events ({"metric":"loss","value":0.123,"step":17}, "loss" and
#      "accuracy" alternating, 500,000 steps each; pre-generated, untimed)
#      to $KEEL_METRICS_FILE: `keel run --force ingest` end to end (the stage
#      and keel's ingestion at its end), checked afterwards with `keel
#      metrics history ID loss --json` (500,000 points); and
#      `keel run --force fixed`, whose stage only reads the same file into
#      /dev/null: the fixed cost of a run around the ingestion.
#      Baselines, /usr/bin/python3 with sqlite3 on a WAL database with a
#      table metrics(run_id, key, step, timestamp, value, PRIMARY KEY
#      (run_id, key, step)) and synchronous=NORMAL (what keel uses):
#        - json.loads per line and one INSERT execute() per value inside a
#          single transaction committed at the end (the naive tracker's
#          best case);
#        - one commit per value (a tracker whose log_metric autocommits, as
#          MLflow's SQL store does) on the first KEEL_BENCH_COMMIT_VALUES
#          values (default 10,000): its rate and the time it projects for
#          all the values;
#        - the same with synchronous=FULL (SQLite's default, an fsync per
#          commit) on the first KEEL_BENCH_FULLSYNC_VALUES (default 1,000),
#          once.
#      KEEL_BENCH_INGEST_REPS rounds (default 3). Target: keel < 2 s.
#   2. list: KEEL_BENCH_RUNS (default 10,000) finished runs put in a second
#      project's store by keel_bench_tracking_populate (bench/
#      tracking_populate.cc: 10 params incl. train.max_depth in 3..8, 5
#      metrics incl. auc uniform in [0, 1), 3 tags; seed 42), then
#      `keel runs list --where 'metrics.auc > 0.9 and params.train.max_depth
#      = 6' --json > /dev/null` and the same as a text table (about 170 runs
#      each). Baselines on keel's own database: /usr/bin/python3 sqlite3
#      running one SQL filter (runs, run_latest_metrics, metric_keys,
#      run_params) and fetching the matching runs' rows, params, latest
#      metrics and tags (timed in-process and as process wall time), and the
#      sqlite3 CLI on the same SQL when it is installed. Checked: keel lists
#      exactly the run ids the SQL returns. Target: keel < 200 ms.
#   3. history: a run with one metric "loss" of KEEL_BENCH_HISTORY steps
#      (default 100,000) ingested through `keel run` as in 1; `keel metrics
#      history ID loss --json > /dev/null` and the text form. Baselines:
#      python sqlite3 reading the same 100,000 rows from the naive table of
#      1 (a keyed lookup on the primary key, ORDER BY step): fetchall, timed
#      in-process and as process wall time, and fetchall + json.dumps to
#      /dev/null (wall). Target: keel < 100 ms.
#   KEEL_BENCH_REPS rounds (default 5) of 2 and 3; keel and its baselines
#   alternate within each round.
#
# It prints medians and minima of wall-clock ms (date +%s%N, including
# process start), the median CPU ms (user + sys of the process and its
# children, bash's `time`), keel / baseline ratios and PASS/MISS against the
# targets (wall medians), then a summary table. All runs are page-cache
# warm; the projects are not git repositories (keel records no git state).
#
# Usage: bench/tracking.sh
#   KEEL=path/to/keel                keel binary (default: bench/../build/keel,
#                                    built with scripts/build when missing)
#   KEEL_BENCH_POPULATE=path         the helper (default: keel_bench_tracking_populate
#                                    beside the keel binary, built with ninja
#                                    in that folder when missing)
#   KEEL_BENCH_DIR=/tmp/x            scratch parent (default /tmp/keel-bench)
#   KEEL_BENCH_REPS=5                rounds of list and history (default 5)
#   KEEL_BENCH_INGEST_REPS=3         rounds of ingest (default 3)
#   KEEL_BENCH_VALUES=1000000        metric values ingested, even (default 1,000,000)
#   KEEL_BENCH_RUNS=10000            runs to list from (default 10,000)
#   KEEL_BENCH_HISTORY=100000        steps of the history read (default 100,000)
#   KEEL_BENCH_COMMIT_VALUES=10000   values of the commit-per-value baseline
#   KEEL_BENCH_FULLSYNC_VALUES=1000  values of its synchronous=FULL variant (0: skip)
#   KEEL_BENCH_KEEP=1                keep the scratch dir (and logs) at the end
#   KEEL_BENCH_STRICT=1              exit 1 if a target is missed
set -euo pipefail

REPS=${KEEL_BENCH_REPS:-5}
INGEST_REPS=${KEEL_BENCH_INGEST_REPS:-3}
N_VALUES=${KEEL_BENCH_VALUES:-1000000}
N_RUNS=${KEEL_BENCH_RUNS:-10000}
N_HISTORY=${KEEL_BENCH_HISTORY:-100000}
N_COMMIT=${KEEL_BENCH_COMMIT_VALUES:-10000}
N_FULLSYNC=${KEEL_BENCH_FULLSYNC_VALUES:-1000}
BENCH_ROOT=${KEEL_BENCH_DIR:-/tmp/keel-bench}
KEEP=${KEEL_BENCH_KEEP:-0}
STRICT=${KEEL_BENCH_STRICT:-0}
TARGET_INGEST_MS=2000
TARGET_LIST_MS=200
TARGET_HISTORY_MS=100
WHERE='metrics.auc > 0.9 and params.train.max_depth = 6'

for v in REPS INGEST_REPS N_VALUES N_RUNS N_HISTORY N_COMMIT; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "tracking.sh: $v must be a positive integer, got '${!v}'" >&2
    exit 2
  fi
done
if ! [[ $N_FULLSYNC =~ ^[0-9]+$ ]]; then
  echo "tracking.sh: N_FULLSYNC must be a non-negative integer, got '$N_FULLSYNC'" >&2
  exit 2
fi
if (( N_VALUES % 2 )); then
  echo "tracking.sh: KEEL_BENCH_VALUES must be even (two metrics alternating), got $N_VALUES" >&2
  exit 2
fi
(( N_COMMIT <= N_VALUES )) || N_COMMIT=$N_VALUES
(( N_FULLSYNC <= N_VALUES )) || N_FULLSYNC=$N_VALUES
HALF=$(( N_VALUES / 2 ))

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "tracking.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3 2>/dev/null) || { echo "tracking.sh: python3 is required" >&2; exit 2; }
"$PY" -c 'import sqlite3' 2>/dev/null || { echo "tracking.sh: $PY has no sqlite3 module" >&2; exit 2; }
SQLITE_CLI=$(command -v sqlite3 2>/dev/null || true)

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
  echo "tracking.sh: keel binary not found or not executable: $KEEL" >&2
  exit 2
fi
POPULATE=${KEEL_BENCH_POPULATE:-$(dirname "$KEEL")/keel_bench_tracking_populate}
if [[ ! -x $POPULATE ]]; then
  if [[ -z ${KEEL_BENCH_POPULATE:-} && -f $(dirname "$KEEL")/build.ninja ]]; then
    log "no $POPULATE: building it with ninja"
    ninja -C "$(dirname "$KEEL")" --quiet keel_bench_tracking_populate
  fi
  [[ -x $POPULATE ]] || { echo "tracking.sh: helper not found: $POPULATE (build the keel_bench_tracking_populate target)" >&2; exit 2; }
fi

# ---------------------------------------------------------------- scratch
mkdir -p "$BENCH_ROOT"
SCRATCH=$(mktemp -d "$BENCH_ROOT/tracking.XXXXXX")
PA=$SCRATCH/ingest   # project of 1 and 3
PB=$SCRATCH/list     # project of 2
NAIVE_DB=$SCRATCH/naive/tracker.db
LOGS=$SCRATCH/logs
mkdir -p "$PA" "$PB" "$LOGS" "$SCRATCH/naive"

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
declare -A S      # sample name -> space-separated values (ns), one per round
RUN_DIR=$PA

# run_ns NAME OUT CMD...: run CMD in $RUN_DIR with stdout to OUT (a file or
# /dev/null) and stderr to $LOGS/NAME.err; prints the elapsed wall time in
# ns and leaves the CPU time (user + sys of CMD and its children, bash's
# `time`, ms resolution) in ns in $LOGS/NAME.cpu. A failing command fails
# the bench (call it in an assignment, so that set -e sees it).
run_ns() {
  local name=$1 out=$2; shift 2
  local t0 t1 rc=0 u sy TIMEFORMAT='%3U %3S'
  t0=$(date +%s%N)
  { time { ( cd "$RUN_DIR" && "$@" ) >"$out" 2>"$LOGS/$name.err"; }; } 2>"$LOGS/$name.time" || rc=$?
  t1=$(date +%s%N)
  if (( rc != 0 )); then
    log "FAILED $name (exit $rc): $*; last lines of its stderr:"
    tail -n 15 "$LOGS/$name.err" | sed 's/^/    /' >&2
    exit 1
  fi
  read -r u sy <"$LOGS/$name.time"
  awk -v u="$u" -v s="$sy" 'BEGIN { printf "%.0f\n", (u + s) * 1e9 }' >"$LOGS/$name.cpu"
  echo $(( t1 - t0 ))
}
# timed NAME OUT CMD...: run_ns, sampling wall time into NAME and CPU time into NAME_cpu.
timed() {
  local ns
  ns=$(run_ns "$@")
  sample "$1" "$ns"
  sample "$1_cpu" "$(cat "$LOGS/$1.cpu")"
}
sample() { S[$1]="${S[$1]:-} $2"; }   # sample NAME NS
has() { [[ -n ${S[$1]:-} ]]; }
last_ms() { fmt_ms "$(echo "${S[$1]}" | awk '{ print $NF }')"; }  # the latest sample of NAME
stat_of() {  # stat_of NAME median|min -> ms with 1 decimal
  # shellcheck disable=SC2086
  printf '%s\n' ${S[$1]:-} | sort -n | awk -v what="$2" '
    NF { v[++n] = $1 }
    END {
      if (n == 0) { print "n/a"; exit }
      if (what == "min") x = v[1]
      else x = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%.1f", x / 1e6
    }'
}
ratio() {  # a b (ms) -> a/b with 2 decimals
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "n/a" }'
}
fmt_ms() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }
fmt_int() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }  # 1000000 -> 1,000,000
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
below() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x ~ /^[0-9.]+$/ && x < t) }'; }
verdict() { below "$1" "$2" && echo PASS || echo MISS; }
db_bytes() {  # a database with its WAL
  local total=0 f
  for f in "$1" "$1-wal"; do [[ -f $f ]] && total=$(( total + $(stat -c %s "$f") )); done
  echo "$total"
}
# The run id of a `keel run` from its output ("run 12: finished").
run_id_of() {
  local id
  id=$(sed -n 's/^run \([0-9][0-9]*\): finished$/\1/p' "$1" | tail -n 1)
  [[ -n $id ]] || die "no 'run N: finished' line in the output of keel run ($1): $(tail -n 3 "$1" | tr '\n' ' ')"
  echo "$id"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
log "scratch: $SCRATCH ($(findmnt -no FSTYPE -T "$SCRATCH" 2>/dev/null || echo '?') filesystem)"
log "keel: $KEEL"
log "helper: $POPULATE"

# ---------------------------------------------------------------- python baselines
# The naive tracker: one row per value. Usage: NAIVE_INGEST DB EVENTS RUN_ID
# LIMIT batch|commit NORMAL|FULL; prints "values NS" (in-process, from
# before connect to after close).
NAIVE_INGEST='
import json, sqlite3, sys, time
db, events, run_id, limit, mode, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
t0 = time.perf_counter_ns()
con = sqlite3.connect(db, isolation_level=None)  # autocommit unless BEGIN
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=" + sync)
con.execute("CREATE TABLE IF NOT EXISTS metrics (run_id INTEGER NOT NULL, key TEXT NOT NULL,"
            " step INTEGER NOT NULL, timestamp INTEGER NOT NULL, value REAL,"
            " PRIMARY KEY (run_id, key, step))")
insert = "INSERT INTO metrics (run_id, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?)"
n = 0
if mode == "batch":
    con.execute("BEGIN")
with open(events) as f:
    for line in f:
        if n == limit:
            break
        e = json.loads(line)
        con.execute(insert, (run_id, e["metric"], e.get("step", 0), int(time.time() * 1000), e["value"]))
        n += 1
if mode == "batch":
    con.execute("COMMIT")
con.close()
print(n, time.perf_counter_ns() - t0)'

# Reads one series of the naive table. Usage: NAIVE_HISTORY DB RUN_ID KEY
# [json]; prints "rows NS" (in-process), or with json writes the series as
# JSON to stdout instead.
NAIVE_HISTORY='
import json, sqlite3, sys, time
db, run_id, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
as_json = len(sys.argv) > 4
t0 = time.perf_counter_ns()
con = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
rows = con.execute("SELECT step, timestamp, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step",
                   (run_id, key)).fetchall()
if as_json:
    sys.stdout.write(json.dumps({"run": run_id, "metric": key, "history":
        [{"step": s, "value": v, "timestamp": t} for s, t, v in rows]}, separators=(",", ":")) + "\n")
else:
    t1 = time.perf_counter_ns()
    print(len(rows), t1 - t0)'

# The list floor: the SQL in $SCRATCH/list.sql (statements separated by
# ";\n") on keel's database. Usage: LIST_FLOOR DB SQL_FILE [ids]; prints
# "runs rows NS" (in-process), or with ids the run ids, one a line.
LIST_FLOOR='
import sqlite3, sys, time
db, sql_file = sys.argv[1], sys.argv[2]
statements = [s for s in open(sql_file).read().split(";\n") if s.strip()]
t0 = time.perf_counter_ns()
con = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
results = [con.execute(s).fetchall() for s in statements]
t1 = time.perf_counter_ns()
if len(sys.argv) > 3:
    print("\n".join(str(r[0]) for r in results[0]))
else:
    print(len(results[0]), sum(len(r) for r in results), t1 - t0)'

# ================================================================ 1. ingest
log "1. ingest: generating $(fmt_int "$N_VALUES") metric events and $(fmt_int "$N_HISTORY") history events"
"$PY" - "$PA" "$HALF" "$N_HISTORY" <<'PY'
import os, random, sys
root, half, history = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
with open(os.path.join(root, "events.jsonl"), "w") as f:
    loss, acc = 2.5, 0.1
    lines = []
    for step in range(half):
        loss = max(1e-4, loss * 0.99999 + rng.gauss(0, 0.002))
        acc = min(1.0, max(0.0, acc + 0.0000017 + rng.gauss(0, 0.001)))
        lines.append(f'{{"metric":"loss","value":{loss!r},"step":{step}}}\n'
                     f'{{"metric":"accuracy","value":{acc!r},"step":{step}}}\n')
        if len(lines) >= 10000:
            f.write("".join(lines)); lines.clear()
    f.write("".join(lines))
with open(os.path.join(root, "history.jsonl"), "w") as f:
    loss = 2.5
    lines = []
    for step in range(history):
        loss = max(1e-4, loss * 0.9999 + rng.gauss(0, 0.002))
        lines.append(f'{{"metric":"loss","value":{loss!r},"step":{step}}}\n')
    f.write("".join(lines))
with open(os.path.join(root, "keel.yaml"), "w") as f:
    f.write("""stages:
  ingest:
    cmd: cat events.jsonl >> "$KEEL_METRICS_FILE"
  fixed:
    cmd: cat events.jsonl > /dev/null
  history:
    cmd: cat history.jsonl >> "$KEEL_METRICS_FILE"
""")
PY
n_lines=$(wc -l <"$PA/events.jsonl")
(( n_lines == N_VALUES )) || die "generated $n_lines events, expected $N_VALUES"
EVENTS_BYTES=$(stat -c %s "$PA/events.jsonl")
RUN_DIR=$PA
run_ns init_a "$LOGS/init_a.log" "$KEEL" init >/dev/null
sync
log "events.jsonl: $(mib "$EVENTS_BYTES") MiB; e.g. $(head -n 1 "$PA/events.jsonl")"

# A first, untimed run: the database's first run and a warm page cache.
run_ns warm_fixed "$LOGS/warm_fixed.log" "$KEEL" run --force fixed >/dev/null
log "1. timing $INGEST_REPS rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
INGEST_ID=
for (( r = 1; r <= INGEST_REPS; r++ )); do
  RUN_DIR=$PA
  timed ingest "$LOGS/ingest.log" "$KEEL" run --force ingest
  INGEST_ID=$(run_id_of "$LOGS/ingest.log")
  if grep -q 'warning' "$LOGS/ingest.log" "$LOGS/ingest.err"; then
    die "keel run --force ingest warned: $(grep -h warning "$LOGS/ingest.log" "$LOGS/ingest.err" | head -n 3)"
  fi
  timed fixed "$LOGS/fixed.log" "$KEEL" run --force fixed
  run_id_of "$LOGS/fixed.log" >/dev/null
  timed naive_batch "$LOGS/naive_batch.log" "$PY" -c "$NAIVE_INGEST" "$NAIVE_DB" events.jsonl "$r" "$N_VALUES" batch NORMAL
  read -r n ns <"$LOGS/naive_batch.log"
  (( n == N_VALUES )) || die "the naive ingest stored $n values, expected $N_VALUES"
  sample naive_batch_in "$ns"
  timed naive_commit "$LOGS/naive_commit.log" "$PY" -c "$NAIVE_INGEST" "$NAIVE_DB" events.jsonl "$(( 1000 + r ))" "$N_COMMIT" commit NORMAL
  read -r n ns <"$LOGS/naive_commit.log"
  sample naive_commit_in "$ns"
  log "  round $r: keel ingest $(last_ms ingest) ms, fixed $(last_ms fixed) ms; python 1 transaction $(last_ms naive_batch) ms, commit per value x$N_COMMIT $(last_ms naive_commit) ms"
done
if (( N_FULLSYNC > 0 )); then
  timed naive_full "$LOGS/naive_full.log" "$PY" -c "$NAIVE_INGEST" "$NAIVE_DB" events.jsonl 2000 "$N_FULLSYNC" commit FULL
  read -r n ns <"$LOGS/naive_full.log"
  sample naive_full_in "$ns"
fi

# Check (untimed): the last ingested run has the whole series.
(cd "$PA" && "$KEEL" --json metrics history "$INGEST_ID" loss) >"$LOGS/check_ingest.json" 2>"$LOGS/check_ingest.err" ||
  { cat "$LOGS/check_ingest.err" >&2; die "keel metrics history $INGEST_ID loss failed"; }
"$PY" - "$LOGS/check_ingest.json" "$HALF" <<'PY' || die "the ingested loss series is not complete (see above)"
import json, sys
h = json.load(open(sys.argv[1]))["history"]
want = int(sys.argv[2])
steps = [p["step"] for p in h]
if len(h) != want or steps != list(range(want)):
    print(f"  {len(h)} points, steps {steps[:3]}...{steps[-3:]}; expected {want}, steps 0..{want - 1}", file=sys.stderr)
    sys.exit(1)
PY
log "checked: run $INGEST_ID has $(fmt_int "$HALF") loss points, steps 0..$(( HALF - 1 ))"
KEEL_DB_A=$(db_bytes "$PA/.keel/keel.db")
NAIVE_DB_BYTES=$(db_bytes "$NAIVE_DB")

# ================================================================ 3 (setup). history
log "3. history: ingesting $(fmt_int "$N_HISTORY") steps through keel run --force history"
RUN_DIR=$PA
hist_ns=$(run_ns history_run "$LOGS/history_run.log" "$KEEL" run --force history)
HIST_ID=$(run_id_of "$LOGS/history_run.log")
run_ns naive_history_load "$LOGS/naive_history_load.log" \
  "$PY" -c "$NAIVE_INGEST" "$NAIVE_DB" history.jsonl 3000 "$N_HISTORY" batch NORMAL >/dev/null
(cd "$PA" && "$KEEL" --json metrics history "$HIST_ID" loss) >"$LOGS/check_history.json" 2>"$LOGS/check_history.err" ||
  { cat "$LOGS/check_history.err" >&2; die "keel metrics history $HIST_ID loss failed"; }
"$PY" - "$LOGS/check_history.json" "$N_HISTORY" "$NAIVE_DB" <<'PY' || die "the history series do not match (see above)"
import json, sqlite3, sys
h = json.load(open(sys.argv[1]))["history"]
want = int(sys.argv[2])
rows = sqlite3.connect(sys.argv[3]).execute(
    "SELECT step, value FROM metrics WHERE run_id = 3000 AND key = 'loss' ORDER BY step").fetchall()
if len(h) != want or len(rows) != want:
    print(f"  keel {len(h)} points, naive table {len(rows)}; expected {want}", file=sys.stderr); sys.exit(1)
bad = [i for i, (p, r) in enumerate(zip(h, rows)) if (p["step"], p["value"]) != r]
if bad:
    print(f"  {len(bad)} points differ, first at index {bad[0]}: keel {h[bad[0]]}, naive {rows[bad[0]]}", file=sys.stderr)
    sys.exit(1)
PY
log "checked: run $HIST_ID has $(fmt_int "$N_HISTORY") loss points, the same steps and values as the naive table"

# ================================================================ 2 (setup). list
log "2. list: keel init and $(fmt_int "$N_RUNS") runs via $(basename "$POPULATE")"
RUN_DIR=$PB
run_ns init_b "$LOGS/init_b.log" "$KEEL" init >/dev/null
pop_ns=$(run_ns populate "$LOGS/populate.log" "$POPULATE" "$PB" "$N_RUNS" 42)
log "populated in $(fmt_ms "$pop_ns") ms: $(cat "$LOGS/populate.log")"
KEEL_DB_B=$(db_bytes "$PB/.keel/keel.db")
# The floor's SQL: the runs the filter selects (newest first, as keel lists
# them), then their params, latest metrics and tags. The CTE repeats per
# statement so that the file also runs as is in the sqlite3 CLI.
SEL="SELECT r.id FROM runs r
  JOIN run_latest_metrics m ON m.run_id = r.id AND m.key_id = (SELECT id FROM metric_keys WHERE name = 'auc')
  JOIN run_params p ON p.run_id = r.id AND p.key = 'train.max_depth'
  WHERE r.deleted = 0 AND m.value > 0.9 AND p.num = 6"
cat >"$SCRATCH/list.sql" <<SQL
WITH sel AS ($SEL)
SELECT r.id, e.name, r.status, r.start_ns, r.end_ns, r.git_commit, r.git_dirty, r.diff_hash, r.host, r.pid,
  r.command, r.note, r.deleted FROM runs r JOIN experiments e ON e.id = r.experiment_id
  WHERE r.id IN sel ORDER BY r.id DESC;
WITH sel AS ($SEL)
SELECT run_id, key, value FROM run_params WHERE run_id IN sel;
WITH sel AS ($SEL)
SELECT m.run_id, k.name, m.value, m.step, m.timestamp_ms FROM run_latest_metrics m
  JOIN metric_keys k ON k.id = m.key_id WHERE m.run_id IN sel;
WITH sel AS ($SEL)
SELECT run_id, key, value FROM run_tags WHERE run_id IN sel;
SQL
(cd "$PB" && "$KEEL" runs list --where "$WHERE" --json) >"$LOGS/check_list.json" 2>"$LOGS/check_list.err" ||
  { cat "$LOGS/check_list.err" >&2; die "keel runs list --where ... --json failed"; }
"$PY" -c "$LIST_FLOOR" "$PB/.keel/keel.db" "$SCRATCH/list.sql" ids >"$LOGS/check_floor.ids"
N_LISTED=$("$PY" - "$LOGS/check_list.json" "$LOGS/check_floor.ids" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
keel = [r["id"] for r in runs]
floor = [int(x) for x in open(sys.argv[2]).read().split()]
if set(keel) != set(floor) or len(keel) != len(floor):
    print(f"keel lists {len(keel)} runs, the SQL {len(floor)}; only keel: {sorted(set(keel) - set(floor))[:10]},"
          f" only the SQL: {sorted(set(floor) - set(keel))[:10]}", file=sys.stderr)
    sys.exit(1)
bad = [r["id"] for r in runs if not (r["metrics"]["auc"]["value"] > 0.9 and float(r["params"]["train.max_depth"]) == 6
                                     and len(r["params"]) == 10 and len(r["metrics"]) == 5 and len(r["tags"]) == 3)]
if bad:
    print(f"runs without the expected params, metrics or tags: {bad[:10]}", file=sys.stderr)
    sys.exit(1)
print(len(keel))
PY
) || die "keel runs list and the SQL disagree (see above)"
(cd "$PB" && "$KEEL" runs list --where "$WHERE") >"$LOGS/check_list.txt" 2>&1 || die "keel runs list --where (text) failed"
N_TEXT=$(( $(wc -l <"$LOGS/check_list.txt") - 1 ))
(( N_TEXT == N_LISTED )) || die "keel runs list (text) printed $N_TEXT rows, --json $N_LISTED runs"
if [[ -n $SQLITE_CLI ]]; then
  "$SQLITE_CLI" -readonly "$PB/.keel/keel.db" <"$SCRATCH/list.sql" >"$LOGS/check_cli.txt" 2>&1 || die "sqlite3 CLI failed on list.sql: $(head -n 3 "$LOGS/check_cli.txt")"
fi
log "checked: keel lists the same $N_LISTED run ids as the SQL (text table: $N_TEXT rows, columns: $(head -n 1 "$LOGS/check_list.txt" | tr -s ' ' | cut -c1-120))"

# ================================================================ rounds of 2 and 3
log "2 and 3: timing $REPS rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
for (( r = 1; r <= REPS; r++ )); do
  RUN_DIR=$PB
  timed list_json /dev/null "$KEEL" runs list --where "$WHERE" --json
  timed list_text /dev/null "$KEEL" runs list --where "$WHERE"
  timed list_py "$LOGS/list_py.log" "$PY" -c "$LIST_FLOOR" "$PB/.keel/keel.db" "$SCRATCH/list.sql"
  read -r runs _rows ns <"$LOGS/list_py.log"
  (( runs == N_LISTED )) || die "the list floor found $runs runs, expected $N_LISTED"
  sample list_py_in "$ns"
  if [[ -n $SQLITE_CLI ]]; then
    timed list_cli /dev/null "$SQLITE_CLI" -readonly "$PB/.keel/keel.db" ".read $SCRATCH/list.sql"
  fi
  timed version /dev/null "$KEEL" version
  timed py_start /dev/null "$PY" -c "import sqlite3, json"

  RUN_DIR=$PA
  timed hist_json /dev/null "$KEEL" metrics history "$HIST_ID" loss --json
  timed hist_text /dev/null "$KEEL" metrics history "$HIST_ID" loss
  timed hist_py "$LOGS/hist_py.log" "$PY" -c "$NAIVE_HISTORY" "$NAIVE_DB" 3000 loss
  read -r n ns <"$LOGS/hist_py.log"
  (( n == N_HISTORY )) || die "the history floor read $n rows, expected $N_HISTORY"
  sample hist_py_in "$ns"
  timed hist_py_json /dev/null "$PY" -c "$NAIVE_HISTORY" "$NAIVE_DB" 3000 loss json
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

# ================================================================ report
row() { printf '%-58s %10s %10s %10s %9s\n' "$@"; }
head_row() {
  row "$1" "median ms" "min ms" "cpu ms" "keel/this"
  row "----------------------------------------------------------" "----------" "----------" "----------" "---------"
}
line() {  # label sample [reference median for the keel/this column: this row is a baseline]
  local med cpu=-; med=$(stat_of "$2" median)
  has "$2_cpu" && cpu=$(stat_of "$2_cpu" median)
  row "$1" "$med" "$(stat_of "$2" min)" "$cpu" "$( [[ -n ${3:-} ]] && ratio "$3" "$med" || echo -)"
}
rate() {  # values ns -> values/s
  awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'
}

INGEST=$(stat_of ingest median); FIXED=$(stat_of fixed median)
BATCH_IN=$(stat_of naive_batch_in median); BATCH=$(stat_of naive_batch median)
# shellcheck disable=SC2086
COMMIT_NS=$(printf '%s\n' ${S[naive_commit_in]} | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
COMMIT_RATE=$(rate "$N_COMMIT" "$COMMIT_NS")
COMMIT_PROJ_MS=$(awk -v n="$N_VALUES" -v r="$COMMIT_RATE" 'BEGIN { printf "%.1f", n / r * 1000 }')
LJ=$(stat_of list_json median)
LPY_IN=$(stat_of list_py_in median); LPY=$(stat_of list_py median); LCLI=$(stat_of list_cli median)
HJ=$(stat_of hist_json median)
HPY_IN=$(stat_of hist_py_in median); HPY=$(stat_of hist_py median); HPYJ=$(stat_of hist_py_json median)

echo
echo "keel tracking benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), $(findmnt -no FSTYPE -T "$SCRATCH" 2>/dev/null || echo '?') filesystem)"
echo "keel: $KEEL"
echo "python: $PY $("$PY" -c 'import sys, sqlite3; print(sys.version.split()[0], "with SQLite", sqlite3.sqlite_version)')"
echo "sqlite3 CLI: ${SQLITE_CLI:-not installed}$( [[ -n $SQLITE_CLI ]] && echo " ($("$SQLITE_CLI" --version | cut -d' ' -f1))")"
echo "load average at the start / end: $LOAD_START / $LOAD_END"
echo "median, min: wall-clock ms including process start; cpu: median user+sys ms (bash time, all threads and children);"
echo "keel/this: the wall median of the section's first row (keel, --json) over this row's. Page cache warm."

echo
echo "1. Ingest $(fmt_int "$N_VALUES") metric values ($(mib "$EVENTS_BYTES") MiB of JSON lines, 2 metrics x $(fmt_int "$HALF") steps), $INGEST_REPS rounds"
head_row "step"
line "keel run --force ingest (stage + ingestion)" ingest
line "keel run --force fixed (stage reads it to /dev/null)" fixed
line "python: 1 transaction, execute() per value (in-process)" naive_batch_in "$INGEST"
line "python: 1 transaction, execute() per value (wall)" naive_batch "$INGEST"
line "python: commit per value, first $(fmt_int "$N_COMMIT") (in-process)" naive_commit_in
if (( N_FULLSYNC > 0 )); then
  line "python: commit per value, sync=FULL, first $(fmt_int "$N_FULLSYNC"), once" naive_full_in
fi
FULL_RATE=
if (( N_FULLSYNC > 0 )); then FULL_RATE=$(rate "$N_FULLSYNC" "$(echo "${S[naive_full_in]}" | awk '{ print $1 }')"); fi
echo "  keel's ingestion alone (ingest - fixed medians): $(awk -v a="$INGEST" -v b="$FIXED" 'BEGIN { printf "%.1f", a - b }') ms"
echo "  commit per value (synchronous=NORMAL): $(fmt_int "$COMMIT_RATE") values/s -> PROJECTED for $(fmt_int "$N_VALUES"): $COMMIT_PROJ_MS ms (keel/projected $(ratio "$INGEST" "$COMMIT_PROJ_MS"))"
if [[ -n $FULL_RATE ]]; then
  echo "  commit per value (synchronous=FULL): $(fmt_int "$FULL_RATE") values/s -> PROJECTED for $(fmt_int "$N_VALUES"): $(awk -v n="$N_VALUES" -v r="$FULL_RATE" 'BEGIN { printf "%.1f", n / r * 1000 }') ms"
fi
echo "  storage after the rounds (with the WAL): keel.db $(mib "$KEEL_DB_A") MiB for $INGEST_REPS x $(fmt_int "$N_VALUES") values;" \
     "the naive tracker.db $(mib "$NAIVE_DB_BYTES") MiB for $INGEST_REPS x $(fmt_int "$N_VALUES") + $(fmt_int $(( INGEST_REPS * N_COMMIT + N_FULLSYNC ))) values"

echo
echo "2. List with a filter over $(fmt_int "$N_RUNS") runs: --where '$WHERE' -> $N_LISTED runs, $REPS rounds"
head_row "step"
line "keel runs list --where ... --json > /dev/null" list_json
line "keel runs list --where ... (text table) > /dev/null" list_text
line "python: SELECT floor, 4 queries (in-process)" list_py_in "$LJ"
line "python: SELECT floor, 4 queries (wall)" list_py "$LJ"
if [[ -n $SQLITE_CLI ]]; then line "sqlite3 CLI: the same SQL (wall)" list_cli "$LJ"; fi
line "keel version (process start)" version
line "python3 -c 'import sqlite3, json' (process start)" py_start
echo "  populating the store ($(fmt_int "$N_RUNS") runs through RunStore, 6 transactions each): $(fmt_ms "$pop_ns") ms; keel.db $(mib "$KEEL_DB_B") MiB"

echo
echo "3. Read a $(fmt_int "$N_HISTORY")-step history (run $HIST_ID, metric loss), $REPS rounds"
head_row "step"
line "keel metrics history ID loss --json > /dev/null" hist_json
line "keel metrics history ID loss (text) > /dev/null" hist_text
line "python: SELECT ... ORDER BY step, fetchall (in-process)" hist_py_in "$HJ"
line "python: SELECT ... ORDER BY step, fetchall (wall)" hist_py "$HJ"
line "python: the same + json.dumps to /dev/null (wall)" hist_py_json "$HJ"
echo "  ingesting it (keel run --force history, once): $(fmt_ms "$hist_ns") ms"

ALL_MET=1
sumrow() { printf '%-34s %9s %9s %8s  %-6s  %-40s %10s %9s\n' "$@"; }
summary() {  # label keel-sample target-ms baseline-label baseline-ms; an empty label: one more baseline of the row above
  local med; med=$(stat_of "$2" median)
  if [[ -n $1 ]]; then
    local v; v="[$(verdict "$med" "$3")]"
    [[ $v == "[PASS]" ]] || ALL_MET=0
    sumrow "$1" "$med" "$(stat_of "$2_cpu" median)" "< $3" "$v" "$4" "$5" "$(ratio "$med" "$5")"
  else
    sumrow "" "" "" "" "" "$4" "$5" "$(ratio "$med" "$5")"
  fi
}
echo
echo "Summary (medians in ms; keel: wall, the target's measure; keel cpu: user+sys; keel/base: keel wall over the baseline's)"
sumrow "operation" "keel" "keel cpu" "target" "" "baseline" "base" "keel/base"
sumrow "----------------------------------" "---------" "---------" "--------" "------" "----------------------------------------" "----------" "---------"
summary "ingest $(fmt_int "$N_VALUES") values (keel run)" ingest "$TARGET_INGEST_MS" "python, 1 transaction (in-process)" "$BATCH_IN"
summary "" ingest "" "python, 1 transaction (wall)" "$BATCH"
summary "" ingest "" "python, commit per value (PROJECTED)" "$COMMIT_PROJ_MS"
summary "list --where, --json" list_json "$TARGET_LIST_MS" "python SELECT floor (in-process)" "$LPY_IN"
summary "" list_json "" "python SELECT floor (wall)" "$LPY"
if [[ -n $SQLITE_CLI ]]; then summary "" list_json "" "sqlite3 CLI, same SQL (wall)" "$LCLI"; fi
summary "list --where, text table" list_text "$TARGET_LIST_MS" "python SELECT floor (wall)" "$LPY"
summary "history $(fmt_int "$N_HISTORY") steps, --json" hist_json "$TARGET_HISTORY_MS" "python SELECT fetchall (in-process)" "$HPY_IN"
summary "" hist_json "" "python SELECT fetchall (wall)" "$HPY"
summary "" hist_json "" "python SELECT + json.dumps (wall)" "$HPYJ"
summary "history $(fmt_int "$N_HISTORY") steps, text" hist_text "$TARGET_HISTORY_MS" "python SELECT fetchall (wall)" "$HPY"
echo "process start alone (median wall / cpu): keel version $(stat_of version median) / $(stat_of version_cpu median) ms;" \
     "python3 -c 'import sqlite3, json' $(stat_of py_start median) / $(stat_of py_start_cpu median) ms"
if (( N_VALUES != 1000000 || N_RUNS != 10000 || N_HISTORY != 100000 )); then
  echo "(the targets are defined for 1,000,000 values, 10,000 runs and 100,000 steps; this run used $N_VALUES, $N_RUNS and $N_HISTORY)"
fi
if [[ $STRICT == 1 ]] && (( ! ALL_MET )); then
  exit 1
fi
exit 0
