#!/bin/sh
# Per-class row counts of the training set.
# usage: stats.sh TRAIN_CSV OUT_CSV
set -eu
{
  echo "income,rows"
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "income") y = i; next } { n[$y]++ }
    END { for (c in n) print c "," n[c] }' "$1" | sort
} > "$2"
cat "$2"
