#!/bin/sh
# Splits the census data into train and test sets: every Nth row is a test row.
# usage: prepare.sh INPUT OUTDIR (prepare.test_every from params.yaml)
set -eu
every=$(sed -n "s/^  test_every: //p" params.yaml)
mkdir -p "$2"
awk -F, -v every="$every" -v out="$2" '
  NR == 1 { print > (out "/train.csv"); print > (out "/test.csv"); next }
  { print > (out "/" ((NR % every == 0) ? "test.csv" : "train.csv")) }
' "$1"
echo "train: $(($(wc -l < "$2/train.csv") - 1)) rows, test: $(($(wc -l < "$2/test.csv") - 1)) rows"
