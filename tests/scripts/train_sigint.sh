#!/bin/sh
# Ctrl-C during training with --save and --log: the run must stop with exit status 130, save a
# checkpoint and print a resume command; that command, run as printed (nothing added), must end
# with a checkpoint byte-identical to an uninterrupted run's, continue the same log series (one
# run id, a second start record) and write the same epoch records (times aside).
#   usage: train_sigint.sh NITI DATA WORK DEVICE
set -eu
niti=$1 data=$2 work=$3 dev=$4
rm -rf "$work"; mkdir -p "$work"; cd "$work"
# the checkpoint keeps its --save and --log paths and run id: both runs use the same ones
common="--device $dev --dataset mnist --data $data --train-limit 512 --test-limit 64 --batch 32 --epochs 2 --seed 3 --run-id sigint --save ck.st --log ck.jsonl"
"$niti" train $common --quiet >/dev/null
mv ck.st full.st; mv ck.jsonl full.jsonl
"$niti" train $common >int.out 2>int.err &
pid=$!
# wait until the first steps have run, then interrupt
i=0
while [ $i -lt 200 ] && ! grep -q "img/s" int.err 2>/dev/null; do sleep 0.05; i=$((i+1)); done
sleep 0.3
kill -INT $pid
rc=0; wait $pid || rc=$?
cat int.err
if [ $rc -eq 0 ]; then echo "the run finished before the interrupt; nothing was tested"; exit 1; fi
if [ $rc -ne 130 ]; then echo "interrupted run exited $rc, expected 130"; exit 1; fi
grep -q "^interrupted in epoch" int.err || { echo "no interruption message"; exit 1; }
[ -f ck.st ] || { echo "no checkpoint saved on SIGINT"; exit 1; }
# the position in the interruption message and in the saved-checkpoint message agree
where=$(sed -n 's/^interrupted //p' int.err)
grep -qF "saved checkpoint $work/ck.st: $where" int.err || { echo "the saved checkpoint's position differs from '$where'"; exit 1; }
hint=$(sed -n 's/^resume with: niti //p' int.err)
[ -n "$hint" ] || { echo "no resume hint"; exit 1; }
echo "resuming with the printed hint: niti $hint"
cd /  # the hint must work from anywhere
eval "\"\$niti\" $hint" >"$work/res.out" 2>"$work/res.err" || { cat "$work/res.err"; echo "the printed hint failed"; exit 1; }
cd "$work"
cmp full.st ck.st
echo "SIGINT checkpoint resumed bit-identically"
# the log: one series (one run id), two start records, the same epoch records as the full run
[ "$(grep -c '"event":"start"' ck.jsonl)" -eq 2 ] || { echo "expected 2 start records"; cat ck.jsonl; exit 1; }
[ "$(grep -c '"event":"stop","run":"sigint","reason":"interrupted"' ck.jsonl)" -eq 1 ] || { echo "no stop record"; exit 1; }
[ "$(grep -vc '"run":"sigint"' ck.jsonl)" -eq 0 ] || { echo "a record without the run id"; exit 1; }
strip() { grep '"event":"epoch"' "$1" | sed 's/"img_per_s":[0-9.]*,"wall_s":[0-9.]*,//'; }
strip full.jsonl >full.epochs; strip ck.jsonl >ck.epochs
cmp full.epochs ck.epochs || { echo "epoch records differ"; diff full.epochs ck.epochs; exit 1; }
echo "log continued: same run id, same epoch records"
