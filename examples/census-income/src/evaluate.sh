#!/bin/sh
# Applies the rules to the test set and writes accuracy and row counts.
# Under `keel run`, also logs the running accuracy every 1,000 rows as a
# metric series (one JSON line per value to $KEEL_METRICS_FILE).
# usage: evaluate.sh TEST_CSV MODEL_DIR METRICS_JSON (train.feature from params.yaml)
set -eu
feature=$(sed -n "s/^  feature: //p" params.yaml)
awk -F, -v feature="$feature" -v events="${KEEL_METRICS_FILE:-}" '
  FNR == NR { if (FNR > 1) rule[$1] = $2; next }
  FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; f = col[feature]; y = col["income"]; next }
  { p = ($f in rule) ? rule[$f] : rule["*"]; gold = ($y ~ />50K/) ? ">50K" : "<=50K"
    rows++; if (p == gold) right++
    if (events != "" && rows % 1000 == 0)
      printf "{\"metric\": \"running_accuracy\", \"value\": %.4f, \"step\": %d}\n", right / rows, rows >> events }
  END { printf "{\"accuracy\": %.4f, \"rows\": %d}\n", right / rows, rows }
' "$2/rules.csv" "$1" > "$3"
cat "$3"
