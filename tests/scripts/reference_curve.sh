#!/bin/sh
# tools/reference_to_jsonl.py on the authors' VGG-small-7 log, then niti plot of it next to a log
# of ours (tests/plot.cmake).  usage: reference_curve.sh PYTHON TOOL TSV NITI OUTDIR OUR_LOG
set -eu
py=$1 tool=$2 tsv=$3 niti=$4 out=$5 ours=$6
rm -f "$out/ref7.jsonl" "$out/ref7.svg"
"$py" "$tool" "$tsv" -o "$out/ref7.jsonl"
n=$(grep -c '"event": "epoch"' "$out/ref7.jsonl")
[ "$n" -eq 200 ] || { echo "FAIL: $n epoch records, want 200"; exit 1; }
# the last line of the published log: epoch 199 (ours 200), 99.216 / 0.023 / 89.160 / 0.578
grep -q '"epoch": 200, "train_loss": 0.023, "train_acc": 0.99216, "test_loss": 0.578, "test_acc": 0.8916}' \
  "$out/ref7.jsonl" || { echo "FAIL: epoch 200 is not the published last epoch"; exit 1; }
"$niti" plot "$out/ref7.jsonl" "$ours" -o "$out/ref7.svg"
"$py" -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$out/ref7.svg"
echo "PASS"
