#!/bin/sh
# A rules baseline: per value of one feature column, predict the majority
# income class seen in training; values seen fewer than MIN_COUNT times
# fall back to the overall majority.
# usage: train.sh TRAIN_CSV MODEL_DIR (train.feature, train.min_count from params.yaml)
set -eu
feature=$(sed -n "s/^  feature: //p" params.yaml)
min_count=$(sed -n "s/^  min_count: //p" params.yaml)
mkdir -p "$2"
awk -F, -v feature="$feature" -v min="$min_count" '
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; f = col[feature]; y = col["income"]
            if (!f) { print "no column " feature > "/dev/stderr"; exit 2 } next }
  { n[$f]++; if ($y ~ />50K/) pos[$f]++; total++; if ($y ~ />50K/) allpos++ }
  END {
    default = (allpos * 2 > total) ? ">50K" : "<=50K"
    print "value,prediction"
    print "*," default
    for (v in n) if (n[v] >= min) print v "," ((pos[v] * 2 > n[v]) ? ">50K" : "<=50K")
  }
' "$1" | sort > "$2/rules.csv"
echo "$feature: $(($(wc -l < "$2/rules.csv") - 2)) rules"
