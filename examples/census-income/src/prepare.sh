#!/bin/sh
# Splits the census data into train, valid and holdout sets. Each row's set
# is decided by a hash of its row number and the seed, so the split is the
# same on every machine and changes with prepare.seed.
# usage: prepare.sh INPUT OUTDIR (prepare.* from params.yaml)
set -eu
param() { sed -n "/^prepare:/,/^[^ ]/s/^  $1: //p" params.yaml; }
seed=$(param seed)
valid=$(param valid_percent)
holdout=$(param holdout_percent)
mkdir -p "$2"
awk -F, -v seed="$seed" -v valid="$valid" -v holdout="$holdout" -v out="$2" '
  NR == 1 { print > (out "/train.csv"); print > (out "/valid.csv"); print > (out "/holdout.csv"); next }
  { h = (NR * 2654435761 + seed * 40503) % 4294967296 % 100
    print > (out "/" (h < holdout ? "holdout.csv" : (h < holdout + valid ? "valid.csv" : "train.csv"))) }
' "$1"
for set in train valid holdout; do
  printf '%s: %d rows\n' "$set" $(($(wc -l < "$2/$set.csv") - 1))
done
