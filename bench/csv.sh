#!/usr/bin/env bash
# bench/csv.sh: time keel's CSV reader (src/table/csv.h, ReadCsv) beside
# pandas.read_csv on the same file, in one invocation.
#
# Input: /work/shared/datasets/adult/adult.csv (UCI Adult, 48,842 rows, 15
# columns: 6 integer, 9 text) with its header once and its data rows
# repeated until the file reaches KEEL_BENCH_CSV_MB MiB (default 1024: 1 GiB,
# about 10 million rows; whole rows, so a few bytes less), written to a
# scratch folder that is deleted at the end. The page cache is warm for
# every timed run.
#
# 1. Check: keel_bench_csv_read (bench/csv_read.cc: ReadCsv with default
#    options, "" and "NA" missing, types inferred) and pandas.read_csv(FILE,
#    keep_default_na=False, na_values=["", "NA"]) (the same missing values)
#    must agree: the same row and column counts, the same column types
#    (keel numeric = a pandas numeric dtype), the same sums of the numeric
#    columns to a relative 1e-6 (keel sums its float32 values as double) and
#    the same numbers of categories and of missing values.
# 2. Time KEEL_BENCH_REPS rounds (default 3), alternating:
#      keel:   keel_bench_csv_read FILE > /dev/null
#      pandas: /usr/bin/python3 -c 'import pandas; pandas.read_csv(FILE)'
#              (pandas' plain defaults, as a user would call it: its default
#              missing values differ from the check's, which changes
#              nothing on this file)
#    and, once per round, python3 -c 'import pandas' (the baseline's start).
#    Wall-clock time (date +%s%N) includes process start, reading and
#    parsing, and for keel freeing the table at exit.
#
# It prints medians and minima of wall-clock seconds, median CPU seconds
# (user + sys, bash's `time`, all threads), throughput in MB/s (10^6 bytes
# of file per median wall second) and keel's speed over pandas', with PASS
# or MISS against keel's target of 200 MB/s.
#
# Usage: bench/csv.sh [BUILD_DIR]
#   BUILD_DIR                       holds keel_bench_csv_read (default: bench/../build;
#                                   built there with ninja when missing)
#   KEEL_BENCH_CSV_MB=1024          input size in MiB (e.g. 50 for a quick run)
#   KEEL_BENCH_REPS=3               timed rounds
#   KEEL_BENCH_DIR=/tmp             parent of the scratch folder
#   KEEL_BENCH_ADULT=path           the source CSV (default the shared Adult copy)
#   KEEL_BENCH_STRICT=1             exit 1 when keel misses its target
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$SCRIPT_DIR/../build}
SIZE_MB=${KEEL_BENCH_CSV_MB:-1024}
REPS=${KEEL_BENCH_REPS:-3}
ADULT=${KEEL_BENCH_ADULT:-/work/shared/datasets/adult/adult.csv}
STRICT=${KEEL_BENCH_STRICT:-0}
TARGET_MBS=200
PY=/usr/bin/python3

for v in SIZE_MB REPS; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "csv.sh: $v must be a positive integer, got '${!v}'" >&2
    exit 2
  fi
done
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "csv.sh: $*" >&2; exit 1; }

[[ -x $PY ]] || die "$PY is required (Debian's python3 with python3-pandas)"
"$PY" -c 'import pandas' 2>/dev/null || die "$PY cannot import pandas (apt install python3-pandas)"
[[ -f $ADULT ]] || die "no input CSV at $ADULT"
DRIVER=$BUILD/keel_bench_csv_read
if [[ ! -x $DRIVER ]]; then
  [[ -f $BUILD/build.ninja ]] || die "no $DRIVER and no build.ninja in $BUILD to build it"
  log "building keel_bench_csv_read in $BUILD"
  ninja -C "$BUILD" --quiet keel_bench_csv_read
fi

SCRATCH=$(mktemp -d "${KEEL_BENCH_DIR:-/tmp}/keel-bench-csv.XXXXXX")
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
FILE=$SCRATCH/adult.csv

# ---------------------------------------------------------------- input
log "writing $FILE: $ADULT's data rows repeated to $SIZE_MB MiB"
"$PY" - "$ADULT" "$FILE" "$SIZE_MB" <<'PY'
import sys
src, dst, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
cut = data.index(b"\n") + 1
header, rows = data[:cut], data[cut:]
if not rows.endswith(b"\n"):
    rows += b"\n"
target = mb << 20
with open(dst, "wb") as f:
    f.write(header)
    size = len(header)
    while size + len(rows) <= target:
        f.write(rows)
        size += len(rows)
    rest = rows[: target - size]
    f.write(rest[: rest.rfind(b"\n") + 1])
PY
BYTES=$(stat -c %s "$FILE")
cat "$FILE" >/dev/null  # warm the page cache

# ---------------------------------------------------------------- check
# Prints the driver's format: rows, columns, then per column
# "numeric NAME SUM MISSING" or "categorical NAME CATEGORIES MISSING".
PANDAS_SUMMARY='
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], keep_default_na=False, na_values=["", "NA"])
print("rows", len(df))
print("columns", len(df.columns))
for name in df.columns:
    s = df[name]
    missing = int(s.isna().sum())
    if pd.api.types.is_numeric_dtype(s):
        print("numeric", name, repr(float(s.sum())), missing)
    else:
        print("categorical", name, int(s.nunique(dropna=True)), missing)
'
COMPARE='
import sys
def read(path):
    out = []
    for line in open(path):
        kind, rest = line.rstrip("\n").split(" ", 1)
        if kind in ("rows", "columns"):
            out.append((kind, "", rest, ""))
        else:
            name, a, b = rest.rsplit(" ", 2)
            out.append((kind, name, a, b))
    return out
keel, pandas = read(sys.argv[1]), read(sys.argv[2])
bad = []
if len(keel) != len(pandas):
    bad.append(f"{len(keel)} lines from keel, {len(pandas)} from pandas")
for k, p in zip(keel, pandas):
    if k[0] == "numeric" and p[0] == "numeric" and k[1] == p[1] and k[3] == p[3]:
        a, b = float(k[2]), float(p[2])
        if abs(a - b) <= 1e-6 * max(abs(a), abs(b)):
            continue
    elif k == p:
        continue
    bad.append(f"keel {k} != pandas {p}")
for line in bad:
    print(line, file=sys.stderr)
sys.exit(1 if bad else 0)
'
log "check: keel and pandas (keep_default_na=False, na_values=[\"\", \"NA\"]) on $BYTES bytes"
"$DRIVER" "$FILE" >"$SCRATCH/keel.txt" || die "keel_bench_csv_read failed"
"$PY" -c "$PANDAS_SUMMARY" "$FILE" >"$SCRATCH/pandas.txt" || die "the pandas summary failed"
"$PY" -c "$COMPARE" "$SCRATCH/keel.txt" "$SCRATCH/pandas.txt" || die "keel and pandas disagree (above)"
ROWS=$(sed -n 's/^rows //p' "$SCRATCH/keel.txt")
log "checked: $ROWS rows, $(sed -n 's/^columns //p' "$SCRATCH/keel.txt") columns, the same sums, categories and missing counts"

# ---------------------------------------------------------------- timing
declare -A S  # sample name -> space-separated values
# timed NAME CMD...: runs CMD with stdout to /dev/null; samples wall and CPU ns.
timed() {
  local name=$1 t0 t1 u s TIMEFORMAT='%3U %3S'; shift
  t0=$(date +%s%N)
  { time "$@" >/dev/null 2>"$SCRATCH/$name.err"; } 2>"$SCRATCH/$name.time" ||
    die "$name failed: $(tail -n 3 "$SCRATCH/$name.err")"
  t1=$(date +%s%N)
  read -r u s <"$SCRATCH/$name.time"
  S[$name]="${S[$name]:-} $(( t1 - t0 ))"
  S[${name}_cpu]="${S[${name}_cpu]:-} $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.0f", (u + s) * 1e9 }')"
}
stat_of() {  # NAME median|min -> seconds, 3 decimals
  # shellcheck disable=SC2086
  printf '%s\n' ${S[$1]} | sort -n | awk -v what="$2" '
    { v[++n] = $1 }
    END {
      x = (what == "min") ? v[1] : ((n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
      printf "%.3f", x / 1e9
    }'
}
mbs() { awk -v b="$BYTES" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "timing $REPS rounds (load average $LOAD_START)"
for (( r = 1; r <= REPS; r++ )); do
  timed keel "$DRIVER" "$FILE"
  timed pandas "$PY" -c 'import sys, pandas; pandas.read_csv(sys.argv[1])' "$FILE"
  timed py_start "$PY" -c 'import pandas'
  log "round $r: keel $(echo "${S[keel]}" | awk '{ printf "%.3f", $NF / 1e9 }') s, pandas $(echo "${S[pandas]}" | awk '{ printf "%.3f", $NF / 1e9 }') s"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
KEEL_MED=$(stat_of keel median)
PANDAS_MED=$(stat_of pandas median)
KEEL_MBS=$(mbs "$KEEL_MED")
PANDAS_MBS=$(mbs "$PANDAS_MED")
RATIO=$(awk -v a="$PANDAS_MED" -v b="$KEEL_MED" 'BEGIN { printf "%.1f", a / b }')
VERDICT=$(awk -v x="$KEEL_MBS" -v t="$TARGET_MBS" 'BEGIN { print (x >= t) ? "PASS" : "MISS" }')
row() { printf '%-52s %9s %9s %9s %9s %10s\n' "$@"; }
echo
echo "keel CSV read benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r))"
echo "input: $(mbs 1) MB ($BYTES bytes), $ROWS rows x 15 columns: $ADULT's data rows repeated"
echo "pandas $("$PY" -c 'import pandas; print(pandas.__version__)') on $("$PY" -c 'import sys; print(sys.version.split()[0])'); keel: $DRIVER"
echo "load average at the start / end: $LOAD_START / $LOAD_END; $REPS rounds, page cache warm"
echo
row "" "median s" "min s" "cpu s" "MB/s" "keel speed"
row "----------------------------------------------------" "---------" "---------" "---------" "---------" "----------"
row "keel_bench_csv_read FILE (ReadCsv)" "$KEEL_MED" "$(stat_of keel min)" "$(stat_of keel_cpu median)" "$KEEL_MBS" "-"
row "python3 -c 'pandas.read_csv(FILE)'" "$PANDAS_MED" "$(stat_of pandas min)" "$(stat_of pandas_cpu median)" "$PANDAS_MBS" "${RATIO}x"
row "python3 -c 'import pandas' (the baseline's start)" "$(stat_of py_start median)" "$(stat_of py_start min)" "$(stat_of py_start_cpu median)" "-" "-"
echo
echo "keel: $KEEL_MBS MB/s, pandas: $PANDAS_MBS MB/s, keel/pandas speed: ${RATIO}x; target >= $TARGET_MBS MB/s: $VERDICT"
if (( SIZE_MB != 1024 )); then
  echo "(the target is defined for 1024 MiB; this run used $SIZE_MB MiB)"
fi
if [[ $STRICT == 1 && $VERDICT != PASS ]]; then
  exit 1
fi
exit 0
