#!/bin/sh
# Fault test (c): SIGKILL in the middle of a checkpoint write. The write goes to a temp file in
# the target's folder (.NAME.tmpXXXXXX, mkstemp) that is renamed over the target only when
# complete, so the previous checkpoint must stay byte-identical and resume (to the same bytes as a
# run that was never interrupted), and no partial target may exist. The test-only hook
# NITI_TEST_WRITE_PAUSE_MS (src/safetensors.c) makes the writer sleep after half of the temp file.
# A killed writer leaves its temp file behind; a later save neither uses nor removes it (this
# test checks that it is still there, and that it never becomes the checkpoint).
#   usage: fault_kill_write.sh NITI DATA WORK [unused]
set -eu
niti=$1 data=$2 work=$3
. "$(dirname "$0")/fault_lib.sh"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
model="input 28x28x1; flatten; linear 10"
lim="--device ref --dataset mnist --data $data --train-limit 128 --test-limit 32 --quiet"
# The checkpoint keeps the run's --save path and id: both runs save to ck.st with one id.
"$niti" train $lim --model "$model" --batch 32 --seed 5 --epochs 2 --run-id kw --save ck.st >/dev/null
mv ck.st full.st
"$niti" train $lim --model "$model" --batch 32 --seed 5 --epochs 1 --run-id kw --save ck.st >/dev/null
cp ck.st ck.orig

NITI_TEST_WRITE_PAUSE_MS=60000 "$niti" train --resume ck.st $lim --epochs 2 --save ck.st \
  >out.txt 2>err.txt &
pid=$!
i=0
while [ $i -lt 600 ] && ! grep -q "test hook: paused" err.txt 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
grep -q "test hook: paused" err.txt || { kill -9 $pid 2>/dev/null; cat err.txt; fail "the writer never paused"; }
kill -9 $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 137 ] || fail "expected death by SIGKILL (137), got exit status $rc"
cat err.txt
tmp=$(sed -n 's/.*test hook: paused .* writing \(.*\)$/\1/p' err.txt)
[ -n "$tmp" ] && [ -f "$tmp" ] || fail "the temp file named by the hook ($tmp) does not exist"
case "$(basename "$tmp")" in .ck.st.tmp??????) ;; *) fail "unexpected temp file name $tmp" ;; esac
tsize=$(wc -c <"$tmp"); fsize=$(wc -c <ck.orig)
[ "$tsize" -lt "$fsize" ] || fail "the temp file is not partial ($tsize of $fsize bytes)"
echo "ok: killed mid-write; partial temp file $tmp ($tsize of about $fsize bytes)"
cmp ck.st ck.orig || fail "the previous checkpoint was modified"
ls -a | grep -v -E '^(\.|\.\.|ck\.st|ck\.orig|full\.st|out\.txt|err\.txt|\.ck\.st\.tmp......)$' && fail "unexpected files"
echo "ok: previous checkpoint intact, no partial target"

# it loads and resumes, bit-identically to the run that was never interrupted
"$niti" train --resume ck.st $lim --epochs 2 --save ck.st >/dev/null || fail "the old checkpoint does not resume"
cmp ck.st full.st || fail "resumed checkpoint differs from the uninterrupted run"
[ -f "$tmp" ] || fail "expected the stray temp file to remain (the next save does not remove it)"
n=$(ls -a | grep -c '^\.ck\.st\.tmp' || true)
echo "ok: resumed bit-identically; stray temp files left: $n ($tmp, not removed by the next save)"
cd /; rm -rf "$work"
echo "PASS"
