#!/usr/bin/env bash
# bench/data.sh: benchmark keel's data versioning against the hashing floor
# (openssl dgst), the copy floor (cp -r), git-lfs and git-annex.
#
# It generates, once per run, into a scratch dir under ${KEEL_BENCH_DIR:-/tmp/keel-bench}:
#   - one big file of random bytes (KEEL_BENCH_BIG_MIB MiB, default 2048)
#   - KEEL_BENCH_SMALL_FILES small files (default 100000) of 1-8 KiB random
#     sizes in nested folders (100 files per leaf folder, 10 leaves per folder:
#     100 x 10 x 100 at the default size)
# then times every tool on its own fresh copy of that same data (its own
# project or repo, so no tool sees another's caches), prints one table and
# checks the targets. All runs are page-cache warm: nothing is dropped from the
# page cache (we can't reliably on a shared machine); `sync` runs before each
# timed step so that earlier writeback is not charged to it.
#
# Usage: bench/data.sh
#   KEEL=path/to/keel            keel binary (default: bench/../build/keel)
#   KEEL_BENCH_DIR=/tmp/x        scratch parent (default /tmp/keel-bench)
#   KEEL_BENCH_SMALL_FILES=2000  number of small files (default 100000)
#   KEEL_BENCH_BIG_MIB=64        size of the big file in MiB (default 2048)
#   KEEL_BENCH_ANNEX_SUBSET=1000 small files that git-annex is timed on
#   KEEL_BENCH_KEEP=1            keep the scratch dir (and logs) at the end
#   KEEL_BENCH_STRICT=1          exit 1 if a target is not met
# If keel is missing the keel columns read n/a (the baselines still run).
set -euo pipefail

N_SMALL=${KEEL_BENCH_SMALL_FILES:-100000}
BIG_MIB=${KEEL_BENCH_BIG_MIB:-2048}
ANNEX_SUBSET_MAX=${KEEL_BENCH_ANNEX_SUBSET:-1000}
BENCH_ROOT=${KEEL_BENCH_DIR:-/tmp/keel-bench}
KEEP=${KEEL_BENCH_KEEP:-0}
STRICT=${KEEL_BENCH_STRICT:-0}

for v in N_SMALL BIG_MIB ANNEX_SUBSET_MAX; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "data.sh: $v must be a positive integer, got '${!v}'" >&2
    exit 2
  fi
done

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KEEL=${KEEL:-$SCRIPT_DIR/../build/keel}
if [[ $KEEL != */* ]] && command -v "$KEEL" >/dev/null 2>&1; then
  KEEL=$(command -v "$KEEL")
fi
KEEL=$(readlink -f -- "$KEEL" 2>/dev/null || echo "$KEEL")
HAVE_KEEL=0
if [[ -x $KEEL && -f $KEEL ]]; then HAVE_KEEL=1; fi

BIG_BYTES=$(( BIG_MIB * 1024 * 1024 ))
ANNEX_SUBSET=$(( N_SMALL < ANNEX_SUBSET_MAX ? N_SMALL : ANNEX_SUBSET_MAX ))

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# git without a configured identity or default branch.
g() {
  git -c user.name=bench -c user.email=bench@localhost \
      -c init.defaultBranch=main -c advice.detachedHead=false "$@"
}

# ---------------------------------------------------------------- tools
need_install=()
command -v git >/dev/null 2>&1 || { echo "data.sh: git is required" >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || { echo "data.sh: openssl is required" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "data.sh: python3 is required" >&2; exit 2; }
git lfs version >/dev/null 2>&1 || need_install+=(git-lfs)
command -v git-annex >/dev/null 2>&1 || need_install+=(git-annex)
if (( ${#need_install[@]} )); then
  log "installing ${need_install[*]} (apt-get)"
  SUDO=()
  if (( EUID != 0 )) && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get install -y -qq git-lfs git-annex >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get update -qq >/dev/null 2>&1 || true
    "${SUDO[@]}" apt-get install -y -qq git-lfs git-annex >/dev/null 2>&1 ||
      log "WARNING: could not install git-lfs/git-annex; their columns will read n/a"
  fi
fi
HAVE_LFS=0; git lfs version >/dev/null 2>&1 && HAVE_LFS=1
HAVE_ANNEX=0; command -v git-annex >/dev/null 2>&1 && HAVE_ANNEX=1

# ---------------------------------------------------------------- scratch
mkdir -p "$BENCH_ROOT"
SCRATCH=$(mktemp -d "$BENCH_ROOT/run.XXXXXX")
SRC=$SCRATCH/src      # the generated data, read (copied) by every tool
LOGS=$SCRATCH/logs
mkdir -p "$SRC" "$LOGS"

rm_tree() {
  # git-annex write-protects its object dirs; make them removable first.
  [[ -e $1 ]] || return 0
  chmod -R u+w "$1" 2>/dev/null || true
  rm -rf "$1"
}
cleanup() {
  local rc=$?
  if [[ $KEEP == 1 ]]; then
    log "kept scratch dir $SCRATCH"
  else
    log "removing scratch dir $SCRATCH (may take a few minutes at full size)"
    rm_tree "$SCRATCH"
    rmdir "$BENCH_ROOT" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Rough disk check: source + one tool's copy + its object store, with slack.
need_kib=$(( (BIG_BYTES * 3 + N_SMALL * 8192 * 4) / 1024 + 1024 * 1024 ))
avail_kib=$(df -Pk "$SCRATCH" | awk 'NR==2 {print $4}')
if (( avail_kib < need_kib )); then
  log "WARNING: ~$(( need_kib / 1024 )) MiB may be needed in $SCRATCH, only $(( avail_kib / 1024 )) MiB free"
fi

# ---------------------------------------------------------------- timing
declare -A T      # step name -> elapsed ns, or FAIL / n/a
FAILURES=()

# timed NAME DIR CMD...: run CMD with cwd DIR, output to $LOGS/NAME.log,
# elapsed wall time (date +%s%N deltas) into T[NAME]. Never aborts the run.
timed() {
  local name=$1 dir=$2; shift 2
  local out=$LOGS/$name.log t0 t1 rc=0
  sync
  t0=$(date +%s%N)
  ( cd "$dir" && "$@" ) >"$out" 2>&1 || rc=$?
  t1=$(date +%s%N)
  if (( rc == 0 )); then
    T[$name]=$(( t1 - t0 ))
    log "$(printf '%-26s %10s s   (%s)' "$name" "$(fmt_s "${T[$name]}")" "$*")"
  else
    T[$name]=FAIL
    FAILURES+=("$name: exit $rc after $(fmt_s $(( t1 - t0 ))) s: (cd $dir && $*)")
    log "FAILED $name (exit $rc): (cd $dir && $*); last lines of its output:"
    tail -n 15 "$out" | sed 's/^/    /' >&2
  fi
}

is_num() { [[ ${1:-} =~ ^[0-9]+$ ]]; }
fmt_s() {  # ns -> seconds with 3 decimals; passes FAIL / n/a through
  if is_num "${1:-}"; then awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e9 }'; else echo "${1:-n/a}"; fi
}
mbps() {   # bytes ns -> MB/s (10^6 bytes per second)
  if is_num "${2:-}" && (( $2 > 0 )); then awk -v b="$1" -v n="$2" 'BEGIN { printf "%.0f", b / (n / 1e9) / 1e6 }'; else echo "n/a"; fi
}
ratio() {  # a b -> a/b with 1 decimal
  if is_num "${1:-}" && is_num "${2:-}" && (( $2 > 0 )); then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; else echo "n/a"; fi
}
get() { echo "${T[$1]:-n/a}"; }
u() { if [[ ${1:-} =~ ^[0-9.]+$ ]]; then echo "$1$2"; else echo "${1:-n/a}"; fi; }  # value + unit, unless n/a

# Untimed: a fresh copy of the generated data for one tool.
fresh_copy() {  # what(big|small|subset) dest
  local what=$1 dest=$2
  mkdir -p "$dest"
  case $what in
    big) cp "$SRC/big.bin" "$dest/big.bin" ;;
    small) cp -r "$SRC/small" "$dest/small" ;;
    subset) (cd "$SRC" && cp --parents -t "$dest" -- "${SUBSET_FILES[@]}") ;;
  esac
}

# Timed helpers (run inside the step's cwd).
hash_small() { find small -type f -print0 | xargs -0 openssl dgst -sha256 >/dev/null; }
lfs_big()    { git lfs track big.bin && g add .gitattributes big.bin; }
lfs_small()  { git lfs track 'small/**' && g add .gitattributes small; }
git_status() { g status --porcelain >/dev/null; }

# ---------------------------------------------------------------- generate
log "scratch: $SCRATCH ($(findmnt -no FSTYPE -T "$SCRATCH" 2>/dev/null || echo '?') filesystem)"
log "keel: $KEEL $( ((HAVE_KEEL)) && echo '' || echo '(MISSING: keel columns will read n/a)')"
log "generating $BIG_MIB MiB big file and $N_SMALL small files (1-8 KiB)"
t0=$(date +%s%N)
head -c "$BIG_BYTES" /dev/urandom >"$SRC/big.bin"
python3 - "$SRC/small" "$N_SMALL" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
sizes = random.Random(20240601)
per_leaf, leaves_per_dir = 100, 10   # 100 dirs x 10 subdirs x 100 files at n=100000
for i in range(n):
    leaf, f = divmod(i, per_leaf)
    d, s = divmod(leaf, leaves_per_dir)
    folder = f"{root}/d{d:03d}/s{s:02d}"
    if f == 0:
        os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/f{f:03d}.bin", "wb") as fh:
        fh.write(os.urandom(sizes.randint(1024, 8192)))
PY
SMALL_BYTES=$(find "$SRC/small" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
mapfile -t SUBSET_FILES < <(cd "$SRC" && find small -type f | LC_ALL=C sort | awk -v n="$ANNEX_SUBSET" 'NR <= n')
sync
log "generated in $(fmt_s $(( $(date +%s%N) - t0 ))) s; small files total $(( SMALL_BYTES / 1024 / 1024 )) MiB"

# ================================================================ big file
log "--- big file ($BIG_MIB MiB) ---"
timed openssl_big "$SRC" openssl dgst -sha256 big.bin

d=$SCRATCH/cp-big; mkdir -p "$d"
timed cp_big "$d" cp -r "$SRC/big.bin" "$d/big.bin"
rm_tree "$d"

if ((HAVE_KEEL)); then
  d=$SCRATCH/keel-big; fresh_copy big "$d"
  (cd "$d" && g init -q)   # a git repo, like the git-lfs and git-annex runs
  timed keel_init_big "$d" "$KEEL" init
  [[ $(get keel_init_big) == FAIL ]] || timed keel_add_big "$d" "$KEEL" data add big.bin
  if is_num "$(get keel_add_big)"; then
    [[ -f $d/big.bin.keel ]] || log "WARNING: keel data add big.bin wrote no big.bin.keel"
    timed keel_status_big "$d" "$KEEL" data status
    [[ $(get keel_status_big) == FAIL ]] || { log "keel data status output (first lines):"; head -n 5 "$LOGS/keel_status_big.log" | sed 's/^/    /' >&2; }
  fi
  rm_tree "$d"

  # The same with hardlinks chosen explicitly: keel's default for non-root
  # users. As root the default copies (read-only modes do not stop root from
  # writing through a hardlink into the stored version).
  d=$SCRATCH/keel-big-hl; fresh_copy big "$d"
  (cd "$d" && g init -q)
  timed keel_init_big_hl "$d" "$KEEL" init
  printf 'cache:\n  type: reflink,hardlink,copy\n' > "$d/.keel/config"
  [[ $(get keel_init_big_hl) == FAIL ]] || timed keel_add_big_hl "$d" "$KEEL" data add big.bin
  rm_tree "$d"
fi

if ((HAVE_LFS)); then
  d=$SCRATCH/lfs-big; fresh_copy big "$d"
  (cd "$d" && g init -q && git lfs install --local >/dev/null)
  timed lfs_add_big "$d" lfs_big
  is_num "$(get lfs_add_big)" && timed lfs_status_big "$d" git_status
  rm_tree "$d"
fi

if ((HAVE_ANNEX)); then
  d=$SCRATCH/annex-big; fresh_copy big "$d"
  (cd "$d" && g init -q)
  timed annex_init_big "$d" g annex init -q bench
  [[ $(get annex_init_big) == FAIL ]] || timed annex_add_big "$d" g annex add -q big.bin
  is_num "$(get annex_add_big)" && timed annex_status_big "$d" git_status
  rm_tree "$d"
fi

# ================================================================ small files
# The small-file trees (and their object stores) are left in place until the
# final cleanup: deleting a few hundred thousand files takes minutes and
# would delay the report (they take ~3 GiB at the default size).
log "--- $N_SMALL small files ---"
timed openssl_small "$SRC" hash_small

d=$SCRATCH/cp-small; mkdir -p "$d"
timed cp_small "$d" cp -r "$SRC/small" "$d/small"

if ((HAVE_KEEL)); then
  d=$SCRATCH/keel-small; fresh_copy small "$d"
  (cd "$d" && g init -q)   # a git repo, like the git-lfs and git-annex runs
  timed keel_init_small "$d" "$KEEL" init
  [[ $(get keel_init_small) == FAIL ]] || timed keel_add_small "$d" "$KEEL" data add small
  if is_num "$(get keel_add_small)"; then
    [[ -f $d/small.keel ]] || log "WARNING: keel data add small wrote no small.keel"
    timed keel_status_small "$d" "$KEEL" data status
    [[ $(get keel_status_small) == FAIL ]] || { log "keel data status output (first lines):"; head -n 5 "$LOGS/keel_status_small.log" | sed 's/^/    /' >&2; }
  fi
fi

if ((HAVE_LFS)); then
  d=$SCRATCH/lfs-small; fresh_copy small "$d"
  (cd "$d" && g init -q && git lfs install --local >/dev/null)
  timed lfs_add_small "$d" lfs_small
  is_num "$(get lfs_add_small)" && timed lfs_status_small "$d" git_status
fi

if ((HAVE_ANNEX)); then
  d=$SCRATCH/annex-small; fresh_copy subset "$d"
  (cd "$d" && g init -q)
  timed annex_init_small "$d" g annex init -q bench
  [[ $(get annex_init_small) == FAIL ]] || timed annex_add_subset "$d" g annex add -q small
  is_num "$(get annex_add_subset)" && timed annex_status_subset "$d" git_status
  # Linear extrapolation from the subset to all N_SMALL files.
  for k in add status; do
    v=$(get "annex_${k}_subset")
    if is_num "$v"; then T[annex_${k}_small]=$(( v * N_SMALL / ANNEX_SUBSET )); else T[annex_${k}_small]=$v; fi
  done
fi

# ================================================================ report
kb=$(get keel_add_big); ob=$(get openssl_big)
ks=$(get keel_add_small)
keel_mbps=$(mbps "$BIG_BYTES" "$kb"); openssl_mbps=$(mbps "$BIG_BYTES" "$ob")
keel_pct=n/a
keel_hl_pct=n/a
if is_num "$(get keel_add_big_hl)" && is_num "$ob"; then
  keel_hl_pct=$(awk -v k="$(get keel_add_big_hl)" -v o="$ob" 'BEGIN { printf "%.0f", 100 * o / k }')
fi
if is_num "$kb" && is_num "$ob" && (( kb > 0 )); then
  keel_pct=$(awk -v k="$kb" -v o="$ob" 'BEGIN { printf "%.0f", 100 * o / k }')
fi
lfs_x=$(ratio "$(get lfs_add_small)" "$ks")
annex_x=$(ratio "$(get annex_add_small)" "$ks")
ann=''; (( ANNEX_SUBSET < N_SMALL )) && ann='*'
cell() { local v; v=$(fmt_s "$(get "$1")"); echo "$v${2:-}"; }

row() { printf '%-34s %10s %10s %10s %10s %11s  %s\n' "$@"; }
echo
echo "keel data versioning benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r))"
echo "big file: $BIG_MIB MiB random; small files: $N_SMALL files of 1-8 KiB ($(( SMALL_BYTES / 1024 / 1024 )) MiB total) in nested folders"
echo "keel: $KEEL$( ((HAVE_KEEL)) || echo ' (missing)')"
echo "$(openssl version | cut -d' ' -f1-2); $(git --version); $( ((HAVE_LFS)) && git lfs version | cut -d' ' -f1 || echo 'git-lfs missing'); git-annex $( ((HAVE_ANNEX)) && git annex version --raw 2>/dev/null || echo missing)"
echo "All runs are page-cache warm (nothing dropped from the page cache); every tool reads its own fresh copy of the same generated data; times are wall-clock seconds."
echo
row "operation" "keel s" "openssl s" "cp -r s" "git-lfs s" "git-annex s" "ratios"
row "----------------------------------" "----------" "----------" "----------" "----------" "-----------" "------"
row "big file add ($BIG_MIB MiB)" "$(cell keel_add_big)" "$(cell openssl_big)" "$(cell cp_big)" "$(cell lfs_add_big)" "$(cell annex_add_big)" \
    "keel throughput = $(u "$keel_pct" %) of openssl"
row "big file add, cache.type hardlink" "$(cell keel_add_big_hl)" "$(cell openssl_big)" "-" "-" "-" \
    "keel throughput = $(u "$keel_hl_pct" %) of openssl"
row "small files add ($N_SMALL files)" "$(cell keel_add_small)" "$(cell openssl_small)" "$(cell cp_small)" "$(cell lfs_add_small)" "$(cell annex_add_small "$ann")" \
    "git-lfs/keel = $(u "$lfs_x" x), git-annex/keel = $(u "$annex_x" x)"
row "small files no-op status" "$(cell keel_status_small)" "-" "-" "$(cell lfs_status_small)" "$(cell annex_status_small "$ann")" \
    "git-lfs/keel = $(u "$(ratio "$(get lfs_status_small)" "$(get keel_status_small)")" x)"
row "big file no-op status" "$(cell keel_status_big)" "-" "-" "$(cell lfs_status_big)" "$(cell annex_status_big)" \
    "git-lfs/keel = $(u "$(ratio "$(get lfs_status_big)" "$(get keel_status_big)")" x)"
echo
echo "big-file hashing: keel data add $(u "$keel_mbps" " MB/s"), openssl dgst -sha256 $(u "$openssl_mbps" " MB/s") (cp -r $(u "$(mbps "$BIG_BYTES" "$(get cp_big)")" " MB/s"), git-lfs $(u "$(mbps "$BIG_BYTES" "$(get lfs_add_big)")" " MB/s"), git-annex $(u "$(mbps "$BIG_BYTES" "$(get annex_add_big)")" " MB/s"))"
echo "Notes:"
echo "  keel s = \`keel data add PATH\` in a fresh git repo (keel init before it: big $(cell keel_init_big) s, small $(cell keel_init_small) s) and \`keel data status\` right after the add."
echo "  openssl s = \`openssl dgst -sha256\` (small files: find -print0 | xargs -0 openssl dgst -sha256), the hashing floor; cp -r s = copy floor, same filesystem."
echo "  git-lfs s = \`git lfs track\` + \`git add\` in a fresh repo (after \`git lfs install --local\`); git-annex s = \`git annex add\` (git annex init before it: big $(cell annex_init_big) s, small $(cell annex_init_small) s)."
echo "  status rows: git-lfs / git-annex columns are \`git status --porcelain\` in that tool's repo right after its add."
if [[ -n $ann ]]; then
  echo "  * git-annex small-file times are EXTRAPOLATED from $ANNEX_SUBSET files to $N_SMALL (add: $(cell annex_add_subset) s for $ANNEX_SUBSET files, $(awk -v n="$(get annex_add_subset)" -v c="$ANNEX_SUBSET" 'BEGIN { if (n ~ /^[0-9]+$/) printf "%.1f", n / 1e6 / c; else printf "n/a" }') ms/file; status: $(cell annex_status_subset) s)."
fi

# ---------------------------------------------------------------- targets
verdict() {  # value-or-n/a condition-result(1/0) [keel step whose failure explains n/a]
  if [[ $1 == n/a && $(get "${3:-none}") == FAIL ]]; then echo "[FAILED] "; elif [[ $1 == n/a ]]; then echo "[N/A]    "; elif (( $2 )); then echo "[MET]    "; else echo "[NOT MET]"; fi
}
ALL_MET=1
t1v=n/a; t1ok=0
if [[ $keel_pct != n/a ]]; then t1v=$keel_pct; t1ok=$(( keel_pct >= 80 )); fi
t2v=n/a; t2ok=0
if [[ $lfs_x != n/a ]]; then t2v=$lfs_x; t2ok=$(awk -v x="$lfs_x" 'BEGIN { print (x >= 10) ? 1 : 0 }'); fi
t3v=$(get keel_status_small); t3ok=0
if is_num "$t3v"; then t3ok=$(( t3v < 1000000000 )); t3v=$(fmt_s "$t3v"); else t3v=n/a; fi
(( t1ok && t2ok && t3ok )) || ALL_MET=0
echo
echo "Targets:"
echo "  $(verdict "$t1v" "$t1ok" keel_add_big) big file add throughput >= 80% of openssl dgst's: keel $(u "$keel_mbps" " MB/s") = $(u "$t1v" %) of openssl's $openssl_mbps MB/s"
t1h=n/a; t1hok=0
if [[ $keel_hl_pct != n/a ]]; then t1h=$keel_hl_pct; t1hok=$(( keel_hl_pct >= 80 )); fi
echo "  $(verdict "$t1h" "$t1hok" keel_add_big_hl) the same with cache.type reflink,hardlink,copy (the non-root default): $(u "$t1h" %) of openssl's"
echo "  $(verdict "$t2v" "$t2ok" keel_add_small) $N_SMALL small files added >= 10x faster than git-lfs: git-lfs $(cell lfs_add_small) s / keel $(cell keel_add_small) s = $(u "$t2v" x)"
echo "  $(verdict "$t3v" "$t3ok" "$( [[ $(get keel_add_small) == FAIL ]] && echo keel_add_small || echo keel_status_small)") no-op \`keel data status\` over $N_SMALL files < 1 s: $(u "$t3v" " s")"
if (( N_SMALL != 100000 || BIG_MIB != 2048 )); then
  echo "  (targets are defined for 100,000 small files and a 2 GiB file; this run used $N_SMALL files and $BIG_MIB MiB)"
fi
if (( ${#FAILURES[@]} )); then
  echo
  echo "Failed steps:"
  printf '  %s\n' "${FAILURES[@]}"
fi
if [[ $STRICT == 1 ]] && { (( ! ALL_MET )) || (( ${#FAILURES[@]} )); }; then
  exit 1
fi
exit 0
