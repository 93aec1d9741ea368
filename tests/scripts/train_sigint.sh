#!/bin/sh
# Ctrl-C during training with --save: the checkpoint written on SIGINT must resume to the same
# final bytes as an uninterrupted run.  usage: train_sigint.sh NITI DATA WORK DEVICE
set -eu
niti=$1 data=$2 work=$3 dev=$4
rm -rf "$work"; mkdir -p "$work"
common="--device $dev --dataset mnist --data $data --train-limit 512 --test-limit 64 --batch 32 --epochs 2 --seed 3"
"$niti" train $common --quiet --save "$work/full.st" >/dev/null
"$niti" train $common --save "$work/int.st" >"$work/int.out" 2>"$work/int.err" &
pid=$!
# wait until the first steps have run, then interrupt
i=0
while [ $i -lt 200 ] && ! grep -q "img/s" "$work/int.err" 2>/dev/null; do sleep 0.05; i=$((i+1)); done
sleep 0.3
kill -INT $pid
rc=0; wait $pid || rc=$?
if [ $rc -eq 0 ]; then echo "the run finished before the interrupt; nothing was tested"; exit 1; fi
if [ $rc -ne 130 ]; then echo "interrupted run exited $rc, expected 130"; cat "$work/int.err"; exit 1; fi
grep -q "interrupted at epoch" "$work/int.err" || { echo "no interruption message"; cat "$work/int.err"; exit 1; }
[ -f "$work/int.st" ] || { echo "no checkpoint saved on SIGINT"; exit 1; }
"$niti" train --resume "$work/int.st" --device $dev --dataset mnist --data $data --train-limit 512 --test-limit 64 --quiet --save "$work/int.st" >/dev/null
cmp "$work/full.st" "$work/int.st"
echo "SIGINT checkpoint resumed bit-identically"
