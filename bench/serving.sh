#!/usr/bin/env bash
# bench/serving.sh: keel's model server (`keel serve`, the V2 Open Inference
# Protocol over HTTP) beside what users would otherwise pick, on the same
# model, the same requests and the same machine, in one invocation.
#
# Model: `keel train xgboost` (100 trees, max_depth 6, seed 1, keel's default
# 80/20 split, so 455 training rows) on
# /work/shared/datasets/sklearn_toy/breast_cancer.csv (569 rows, 30 numeric
# features, binary `target`; `target_name` excluded), registered as bc@1 in
# a scratch keel project that is deleted at the end with every server.
#
# Targets, each on its own free 127.0.0.1 port, each ready when its
# GET /v2/health/ready answers 200:
#   keel     keel serve --model bc@1 (its default threads: one per CPU it
#            may run on)
#   fastapi  bench/serving/fastapi_app.py: FastAPI on uvicorn, 2 worker
#            processes, xgboost.Booster(nthread=1).inplace_predict per request,
#            as Debian's packages run it: python3-fastapi's python3-uvicorn
#            neither depends on nor recommends httptools and uvloop, so it
#            speaks HTTP with h11 on asyncio's loop. gunicorn manages the
#            uvicorn workers (-k uvicorn.workers.UvicornH11Worker: h11 and
#            asyncio, whatever else is installed); `uvicorn --workers 2`
#            would leave Nagle's algorithm on for accepted connections (it
#            binds the socket with proto 0, so asyncio skips TCP_NODELAY;
#            uvicorn issue #3149), which costs every keep-alive request
#            ~43 ms on Linux. Target (b)'s baseline.
#   fastapi-uvloop  the same app with httptools and uvloop (what
#            `pip install "uvicorn[standard]"` brings; Debian:
#            python3-httptools, python3-uvloop), -k
#            uvicorn.workers.UvicornWorker: the fastest FastAPI setup,
#            reported beside the targets without one of its own.
#   flask    bench/serving/flask_app.py: Flask on gunicorn (its default sync
#            workers: no keep-alive, one connection per request), 2 worker
#            processes, the same prediction code
#   nginx    bench/serving/nginx.conf (a worker process per CPU it may run
#            on, as `worker_processes auto` would count them): answers the
#            infer path with a fixed body, keel's own reply to the same
#            request (or, without keel, one of its shape and size): the
#            machine's HTTP ceiling, no JSON and no model
# The Python servers' access logs are off, as nginx's.
#
# 1. Check: the request bodies are the first 1 and 64 rows of the data set
#    as a V2 infer request, {"inputs":[{"name":"input-0","shape":[N,30],
#    "datatype":"FP32","data":[...]}]}, the CSV's numbers as they are. Every
#    model server's reply to both must have the V2 response shape, outputs
#    "probability" (FP32) within 1e-6 of python3-xgboost's Booster.predict on
#    the same model.json and rows (float32), and "prediction" (BYTES) the
#    same labels (>= 0.5: "1"); nginx must return its body byte for byte.
# 2. Time: wrk (bench/serving/post.lua, one static POST request) per target,
#    batch size (1, 64) and concurrency (1, 8, 64 connections; wrk threads: 1
#    for c1, 2 otherwise), KEEL_BENCH_SECONDS each after a
#    KEEL_BENCH_WARMUP-second run that is thrown away, KEEL_BENCH_REPS rounds.
#    The order within a round interleaves the targets so that noise from
#    other work on the machine spreads over all of them. A run counts only
#    with zero HTTP responses >= 400 and zero socket errors (connect, read,
#    write, timeout after wrk's 2 s); otherwise its cell is marked FAILED.
#    wrk shares the machine's cores with the server it loads.
# 3. Time the latency apart (with 2 CPUs or more): in each round each
#    server runs alone, confined to all CPUs but the last (taskset; keel's
#    I/O threads and nginx's workers follow the CPUs left, the Python
#    servers keep their 2 workers), its predictions checked again; wrk runs
#    one thread pinned to the last CPU, at c8, batch 1 and 64, the same
#    rounds and runs. On shared cores a p99 also holds the time a wrk
#    thread whose answer has arrived waits for a core that the server or
#    wrk's other thread holds (up to a scheduler tick, 4 ms), for every
#    server alike; here it holds the server's answer and the kernel's
#    loopback. Alone, because even idle servers beside it are not: with
#    the Python servers idle on its CPU keel's p99 was 0.8-1.4 ms, alone
#    0.16-0.18 ms.
#
# It prints per cell the medians over the rounds of req/s (requests / wrk's
# duration), rows/s (req/s x batch) and wrk's p50 and p99 latency in ms, then
# keel's targets with PASS or MISS:
#   (a) keel's req/s >= 60% of nginx's at batch 1, c64;
#   (b) keel's rows/s >= 10x FastAPI's (Debian's stack) at batch 64, each
#       server at its own best concurrency of c1/c8/c64 (the c8 and c64
#       ratios printed too; fastapi-uvloop's and Flask's printed without a
#       target);
#   (c) keel's p99 < 2 ms at c8, at batch 1 and at batch 64: measured in
#       step 3 (step 2's p99s printed beside it), or in step 2 with 1 CPU.
# With the defaults a run takes about 5 x 2 x (3 + 1) x 3 x 12 s, 24 minutes.
#
# Usage: bench/serving.sh [BUILD_DIR]
#   BUILD_DIR                       holds keel (default: bench/../build; built
#                                   there with ninja when missing)
#   KEEL_BENCH_SECONDS=10           seconds per timed wrk run
#   KEEL_BENCH_WARMUP=2             seconds of the discarded run before each
#   KEEL_BENCH_REPS=3               rounds
#   KEEL_BENCH_TARGETS="keel fastapi fastapi-uvloop flask nginx"   which to run (a subset)
#   KEEL_BENCH_DIR=/tmp             parent of the scratch folder
#   KEEL_BENCH_STRICT=1             exit 1 when keel misses a target
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
HERE=$SCRIPT_DIR/serving
BUILD=${1:-$REPO/build}
DURATION=${KEEL_BENCH_SECONDS:-10}
WARMUP=${KEEL_BENCH_WARMUP:-2}
REPS=${KEEL_BENCH_REPS:-3}
TARGETS=${KEEL_BENCH_TARGETS:-keel fastapi fastapi-uvloop flask nginx}
STRICT=${KEEL_BENCH_STRICT:-0}
DATASET=/work/shared/datasets/sklearn_toy/breast_cancer.csv
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in bench/serving/
PY_WORKERS=2
BATCHES=(1 64)
CONCURRENCY=(1 8 64)

usage_error() { echo "serving.sh: $*" >&2; exit 2; }
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || usage_error "KEEL_BENCH_SECONDS must be a positive integer, got '$DURATION'"
[[ $REPS =~ ^[1-9][0-9]*$ ]] || usage_error "KEEL_BENCH_REPS must be a positive integer, got '$REPS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || usage_error "KEEL_BENCH_WARMUP must be an integer, got '$WARMUP'"
read -r -a TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
  [[ $t =~ ^(keel|fastapi|fastapi-uvloop|flask|nginx)$ ]] ||
    usage_error "unknown target '$t' (keel fastapi fastapi-uvloop flask nginx)"
done
((${#TARGET_LIST[@]} > 0)) || usage_error "KEEL_BENCH_TARGETS is empty"
wants() { [[ " ${TARGET_LIST[*]} " == *" $1 "* ]]; }
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "serving.sh: $*" >&2; exit 1; }

"$REPO/scripts/setup" --bench
# The CPUs this script may run on (its affinity, which `nproc` would also
# narrow by OMP_NUM_THREADS), in order.
mapfile -t CPU_IDS < <("$PY" -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")')
CPUS=${#CPU_IDS[@]}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -f $DATASET ]] || die "no data set at $DATASET"
KEEL=$BUILD/keel
if [[ ! -x $KEEL ]]; then
  [[ -f $BUILD/build.ninja ]] || cmake -S "$REPO" -B "$BUILD" -G Ninja >/dev/null
  log "building keel in $BUILD"
  ninja -C "$BUILD" --quiet keel
fi
if wants keel && ! "$KEEL" serve --help 2>&1 | grep -q 'Usage: keel serve'; then
  die "$KEEL has no 'serve' command; measure the others with KEEL_BENCH_TARGETS=\"fastapi fastapi-uvloop flask nginx\""
fi

SCRATCH=$(mktemp -d "${KEEL_BENCH_DIR:-/tmp}/keel-bench-serving.XXXXXX")
declare -A PID  # target -> server pid
# Stops the servers (TERM, then KILL after 10 s), with their worker processes,
# which a master stopped by KILL would leave behind.
stop_servers() {
  local pid all=()
  for pid in "${PID[@]}"; do
    # shellcheck disable=SC2207
    all+=("$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null || true))
  done
  for pid in "${PID[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${all[@]}"; do
    for _ in {1..100}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  PID=()
}
cleanup() {
  stop_servers
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- model
PROJECT=$SCRATCH/project
MODEL=$PROJECT/model
mkdir "$PROJECT"
log "training bc@1 in $PROJECT: keel train xgboost, 100 trees, max_depth 6"
(
  cd "$PROJECT"
  "$KEEL" init
  "$KEEL" train xgboost --train "$DATASET" --target target --exclude target_name \
    --task binary --seed 1 --param n_estimators=100 --param max_depth=6 --out model
  "$KEEL" model register bc --from model
) >"$SCRATCH/train.log" 2>&1 || die "training failed: $(tail -n 5 "$SCRATCH/train.log")"
"$PY" "$HERE/tool.py" bodies "$DATASET" "$MODEL" "$SCRATCH" "${BATCHES[@]}"

# ---------------------------------------------------------------- servers
declare -A PORT URL
mapfile -t FREE < <("$PY" "$HERE/tool.py" ports 6)
PORT=([keel]=${FREE[0]} [fastapi]=${FREE[1]} [flask]=${FREE[2]} [nginx1]=${FREE[3]} [nginx64]=${FREE[4]}
  [fastapi-uvloop]=${FREE[5]})
for t in keel fastapi fastapi-uvloop flask; do
  URL[$t,1]=http://127.0.0.1:${PORT[$t]}/v2/models/bc/infer
  URL[$t,64]=${URL[$t,1]}
done
URL[nginx,1]=http://127.0.0.1:${PORT[nginx1]}/v2/models/bc/infer
URL[nginx,64]=http://127.0.0.1:${PORT[nginx64]}/v2/models/bc/infer
ready_url() { echo "${1%/v2/models/bc/infer}/v2/health/ready"; }

# start NAME CMD...: runs CMD in the background, its output in NAME.log.
start() {
  local name=$1; shift
  "$@" >"$SCRATCH/$name.log" 2>&1 &
  PID[$name]=$!
}
wait_ready() {  # NAME URL
  "$PY" "$HERE/tool.py" wait "$(ready_url "$2")" 60 "${PID[$1]}" ||
    die "$1 did not start: $(tail -n 5 "$SCRATCH/$1.log")"
}

# The Python servers: one XGBoost thread per worker process (nthread=1 in
# the apps; OpenMP told too). keel keeps its defaults (one I/O thread per
# core it may run on).
PY_ENV=(env KEEL_BENCH_MODEL_DIR="$MODEL" OMP_NUM_THREADS=1)
if wants fastapi-uvloop && ! "$PY" -c 'import httptools, uvloop' 2>/dev/null; then
  die "fastapi-uvloop needs python3-httptools and python3-uvloop"
fi
# launch TARGET [PREFIX...]: starts TARGET's server with PREFIX before its
# command (taskset for step 3); nginx only once its bodies exist.
launch() {
  local t=$1; shift
  case $t in
    keel)
      (cd "$PROJECT" && exec "$@" "$KEEL" serve --model bc@1 --host 127.0.0.1 --port "${PORT[keel]}") \
        >"$SCRATCH/keel.log" 2>&1 &
      PID[keel]=$!
      ;;
    fastapi)
      start fastapi "$@" "${PY_ENV[@]}" "$PY" -m gunicorn --worker-class uvicorn.workers.UvicornH11Worker \
        --chdir "$HERE" --bind "127.0.0.1:${PORT[fastapi]}" --workers "$PY_WORKERS" \
        --log-level warning fastapi_app:app
      ;;
    fastapi-uvloop)
      start fastapi-uvloop "$@" "${PY_ENV[@]}" "$PY" -m gunicorn --worker-class uvicorn.workers.UvicornWorker \
        --chdir "$HERE" --bind "127.0.0.1:${PORT[fastapi-uvloop]}" --workers "$PY_WORKERS" \
        --log-level warning fastapi_app:app
      ;;
    flask)
      start flask "$@" "${PY_ENV[@]}" "$PY" -m gunicorn --chdir "$HERE" --bind "127.0.0.1:${PORT[flask]}" \
        --workers "$PY_WORKERS" --log-level warning flask_app:app
      ;;
    nginx)
      start nginx "$@" "$NGINX" -p "$SCRATCH/nginx" -c "$SCRATCH/nginx/nginx.conf" -e "$SCRATCH/nginx/error.log"
      ;;
  esac
}
# nginx_conf WORKERS: writes nginx's configuration with WORKERS processes.
nginx_conf() {
  "$PY" "$HERE/tool.py" nginx-conf "$HERE/nginx.conf" "$SCRATCH/nginx" "$1" \
    "${PORT[nginx1]}" "$SCRATCH/nginx-1.json" "${PORT[nginx64]}" "$SCRATCH/nginx-64.json"
}
# ready_all TARGET...: waits until each answers its readiness check.
ready_all() {
  local t b
  for t in "$@"; do
    if [[ $t == nginx ]]; then
      for b in "${BATCHES[@]}"; do wait_ready nginx "${URL[nginx,$b]}"; done
    else
      wait_ready "$t" "${URL[$t,1]}"
    fi
  done
}
# check_models [TARGET...]: the model servers' predictions (of TARGETs, by
# default of every one measured) against xgboost's.
check_models() {
  local t b servers=()
  (($# > 0)) || set -- keel fastapi fastapi-uvloop flask
  for t in "$@"; do
    [[ $t != nginx ]] && wants "$t" && servers+=("$t=${URL[$t,1]}")
  done
  ((${#servers[@]} > 0)) || return 0
  for b in "${BATCHES[@]}"; do
    "$PY" "$HERE/tool.py" check "$MODEL" "$SCRATCH" "$b" "${servers[@]}" >&2 ||
      die "a server's predictions differ from xgboost's (above)"
  done
}
MODEL_TARGETS=()
for t in keel fastapi fastapi-uvloop flask; do
  if wants "$t"; then
    launch "$t"
    MODEL_TARGETS+=("$t")
  fi
done
((${#MODEL_TARGETS[@]} == 0)) || ready_all "${MODEL_TARGETS[@]}"

# ---------------------------------------------------------------- check
check_models
if wants nginx; then
  # nginx's fixed body: keel's reply, or a reply of its shape without keel.
  for b in "${BATCHES[@]}"; do
    if wants keel; then cp "$SCRATCH/reply-keel-$b.json" "$SCRATCH/nginx-$b.json"
    else cp "$SCRATCH/shaped-$b.json" "$SCRATCH/nginx-$b.json"; fi
  done
  mkdir -p "$SCRATCH/nginx"
  nginx_conf "$CPUS"
  launch nginx
  ready_all nginx
  for b in "${BATCHES[@]}"; do
    "$PY" "$HERE/tool.py" same "${URL[nginx,$b]}" "$SCRATCH/body-$b.json" "$SCRATCH/nginx-$b.json" ||
      die "nginx does not return its fixed body"
    log "nginx: batch $b: its fixed body, $(stat -c %s "$SCRATCH/nginx-$b.json") bytes"
  done
fi

# ---------------------------------------------------------------- timing
# wrk_run TARGET BATCH CONC SECONDS THREADS [PREFIX...]: prints wrk's result
# line ("" on failure).
wrk_run() {
  local t=$1 b=$2 c=$3 seconds=$4 threads=$5
  shift 5
  "$@" wrk -t "$threads" -c "$c" -d "${seconds}s" -s "$HERE/post.lua" "${URL[$t,$b]}" -- \
    "$SCRATCH/body-$b.json" 2>&1 | tee "$SCRATCH/wrk.out" | grep '^wrk-result ' || true
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
# measure RESULTS ROUND TARGET BATCH CONC THREADS [PREFIX...]: one warm-up
# and one timed wrk run, the timed one's line appended to RESULTS.
measure() {
  local results=$1 r=$2 t=$3 b=$4 c=$5 threads=$6 line n us http sock rps
  shift 6
  ((WARMUP > 0)) && wrk_run "$t" "$b" "$c" "$WARMUP" "$threads" "$@" >/dev/null
  line=$(wrk_run "$t" "$b" "$c" "$DURATION" "$threads" "$@")
  if [[ -z $line ]]; then
    log "round $r: $t batch $b c$c: wrk failed: $(tail -n 3 "$SCRATCH/wrk.out" | tr '\n' ' ')"
    echo "$t $b $c $r -1 1 0 0 0 0" >>"$results"
    return
  fi
  n=$(field requests "$line") us=$(field duration_us "$line") http=$(field status "$line")
  sock=$(($(field connect "$line") + $(field read "$line") + $(field write "$line") + $(field timeout "$line")))
  echo "$t $b $c $r $n $us $http $sock $(field p50_us "$line") $(field p99_us "$line")" >>"$results"
  rps=$(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", n / us * 1e6 }')
  log "round $r: $t batch $b c$c: $rps req/s, p50 $(field p50_us "$line") us," \
    "p99 $(field p99_us "$line") us, $http HTTP errors, $sock socket errors"
}

# Step 2: every cell, wrk and the servers on all cores.
RESULTS=$SCRATCH/results.txt
: >"$RESULTS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "timing ${TARGET_LIST[*]}: $REPS rounds of ${DURATION} s runs after ${WARMUP} s warm-ups (load average $LOAD_START)"
for ((r = 1; r <= REPS; r++)); do
  for b in "${BATCHES[@]}"; do
    for c in "${CONCURRENCY[@]}"; do
      threads=2
      ((c == 1)) && threads=1
      for t in "${TARGET_LIST[@]}"; do measure "$RESULTS" "$r" "$t" "$b" "$c" "$threads"; done
    done
  done
done

# Step 3: the c8 latency with wrk on a core of its own. Each server is
# restarted confined to the other cores (taskset; its own defaults then
# see that many cores), and wrk runs one thread on the last core: no
# thread of wrk waits for the server's, or for wrk's other thread, to give
# up a core, which is what a p99 measured on shared cores includes.
APART=$SCRATCH/results-apart.txt
: >"$APART"
if ((CPUS >= 2)); then
  WRK_CPU=${CPU_IDS[-1]}
  SERVER_CPUS=$(IFS=,; echo "${CPU_IDS[*]:0:CPUS-1}")
  stop_servers
  wants nginx && nginx_conf $((CPUS - 1))
  log "step 3: each server alone on CPU $SERVER_CPUS, wrk (1 thread) on CPU $WRK_CPU"
  for ((r = 1; r <= REPS; r++)); do
    for t in "${TARGET_LIST[@]}"; do
      launch "$t" taskset -c "$SERVER_CPUS"
      ready_all "$t"
      check_models "$t"
      for b in "${BATCHES[@]}"; do
        measure "$APART" "$r" "$t" "$b" 8 1 taskset -c "$WRK_CPU"
      done
      stop_servers
    done
  done
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
version() { "$@" 2>&1 | head -n 1 || true; }
echo
echo "keel serving benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $CPUS CPUs, $(uname -r))"
echo "model: bc@1, XGBoost binary, 100 trees, max_depth 6, 30 features; requests: the first 1 / 64 rows of $DATASET"
echo "keel: $(version "$KEEL" version) ($KEEL); python $("$PY" -c 'import sys; print(sys.version.split()[0])'), xgboost $("$PY" -c 'import xgboost; print(xgboost.__version__)')"
echo "fastapi $("$PY" -c 'import fastapi; print(fastapi.__version__)') on uvicorn $("$PY" -c 'import uvicorn; print(uvicorn.__version__)') workers (fastapi: h11, asyncio; fastapi-uvloop: httptools, uvloop), flask $("$PY" -c 'import flask; print(flask.__version__)') on sync workers; gunicorn $("$PY" -c 'import gunicorn; print(gunicorn.__version__)') with $PY_WORKERS workers each"
echo "$(version "$NGINX" -v), $(version wrk -v | cut -d' ' -f1-2)"
echo "load average at the start / end: $LOAD_START / $LOAD_END; $REPS rounds of ${DURATION} s per cell, medians"
echo
"$PY" "$HERE/report.py" "$RESULTS" "$STRICT" "$APART" "${SERVER_CPUS:-}" "${WRK_CPU:-}"
