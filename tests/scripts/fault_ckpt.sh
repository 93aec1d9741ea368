#!/bin/sh
# Fault test (b): damaged checkpoints (bad header, truncated, wrong tensor shape, mismatching
# model spec, flipped weight byte, not a checkpoint) make `niti train --resume bad.st --save bad.st`
# fail with a clear message naming the file, exit non-zero, and leave bad.st byte-identical (and
# no temp file behind); --init with a mismatching --model fails the same way.
#   usage: fault_ckpt.sh NITI DATA WORK FAULT_STEDIT
set -eu
niti=$1 data=$2 work=$3 ed=$4
. "$(dirname "$0")/fault_lib.sh"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
model="input 28x28x1; flatten; linear 10"   # layer 1 is the linear layer: L1.weight [10,784]
lim="--device ref --dataset mnist --data $data --train-limit 128 --test-limit 32 --quiet"
"$niti" train $lim --model "$model" --batch 32 --epochs 1 --save good.st >/dev/null
cp good.st good.orig

# case NAME REGEX: bad.st (made by the caller) must be refused and left as it was
case_resume() {
  cp bad.st bad.orig
  expect_fail "$1" "$2" "$niti" train --resume bad.st $lim --epochs 2 --save bad.st
  printf '%s\n' "$out" | grep -q "bad\.st" || fail "$1: the message does not name bad.st"
  cmp -s bad.st bad.orig || fail "$1: bad.st was modified"
  ls -a | grep -q '^\.bad\.st\.tmp' && fail "$1: a temp file was left behind"
  rm -f bad.st bad.orig
}

"$ed" header good.st bad.st
case_resume bad_header "bad\.st: header length 1099511627776 is larger than the 100000000-byte limit"

head -c 300 good.st >bad.st
case_resume truncated "bad\.st: header length [0-9]+ runs past the end of the 300-byte file"

"$ed" shape good.st bad.st L1.weight 784,10
case_resume wrong_shape "checkpoint bad\.st: tensor 'L1\.weight' is I8 \[784,10\]; the model's layer 1 needs I8 \[10,784\]"

"$ed" meta-resum good.st bad.st model "input 28x28x1; flatten; linear 12"
case_resume model_mismatch "checkpoint bad\.st: tensor 'L1\.weight' is I8 \[10,784\]; the model's layer 1 needs I8 \[12,784\]"

"$ed" meta-resum good.st bad.st model "input 28x28x1; linear 10"
case_resume model_invalid "checkpoint bad\.st: the checkpoint's model spec: .*flatten"

"$ed" flip good.st bad.st 1
case_resume weight_byte "checkpoint bad\.st: checksum mismatch \(file says [0-9a-f]{16}, its content gives [0-9a-f]{16}\): the file is damaged"

"$ed" meta good.st bad.st seed 8
case_resume meta_tampered "checkpoint bad\.st: checksum mismatch \(file says [0-9a-f]{16}, its content gives [0-9a-f]{16}\): the file is damaged"

"$ed" meta-resum good.st bad.st format safetensors
case_resume not_checkpoint "bad\.st is not a niti checkpoint \(its metadata says format 'safetensors'"

"$ed" meta-resum good.st bad.st step -1
case_resume bad_step "checkpoint bad\.st: metadata 'step' = -1 is outside"

"$ed" meta-resum good.st bad.st seed 18446744073709551616
case_resume seed_overflow "checkpoint bad\.st: metadata 'seed' = '18446744073709551616' is not a 64-bit"

# --init from a checkpoint of another model: refused, the --save target untouched
cp good.st target.st
expect_fail init_mismatch "--init: the checkpoint's model \(input 28x28x1; flatten; linear 10\) is not --model \(input 28x28x1; flatten; linear 12\)" \
  "$niti" train $lim --batch 32 --epochs 1 --init good.st --model "input 28x28x1; flatten; linear 12" --save target.st
cmp -s target.st good.orig || fail "init_mismatch: the --save target was modified"

# and the good checkpoint, never touched, still resumes
cmp -s good.st good.orig || fail "good.st changed"
"$niti" train --resume good.st $lim --epochs 2 --save good.st >/dev/null || fail "good.st does not resume"
echo "ok: the undamaged checkpoint resumes"
cd /; rm -rf "$work"
echo "PASS: every damaged checkpoint was refused and left unmodified"
