#!/bin/sh
# Issue #20, case by case: what a new user hit, each a check that failed before the change.
# Synthetic datasets in the real formats (tests/scripts/cli_lib.sh) keep the runs short on ref.
#   usage: cli_cases.sh NITI WORK CASE     (CASE: data fp32_save resume messages not_ckpt info
#                                          log_runs init early_checks eta eval_names)
set -eu
niti=$1 work=$2 case=$3
. "$(dirname "$0")/cli_lib.sh"
cli_workdir "$work"
n="$niti"
small="--device ref --model lin.spec --train-limit 32 --test-limit 16"
log=run.jsonl

case $case in
data) # (1) --data and NITI_DATA are used or refused; the folder used is printed and logged
  refused data "fashion-mnist: .* not found in the given folder; tried /nonexistent/" $n train --data /nonexistent $small
  refused niti_data "not found in the \\\$NITI_DATA folder; tried /nonexistent/" env NITI_DATA=/nonexistent $n train $small
  honoured mnist "training custom on mnist from $work/D/mnist \(" $n train $small --dataset mnist --data D --log run.jsonl
  grep -q "\"data\":\"$work/D/mnist\"" run.jsonl || fail "mnist: the log's start record lacks the folder"
  honoured niti_data_used "training custom on fashion-mnist from $work/D/fashion-mnist \(" env NITI_DATA="$work/D" $n train $small
  honoured cifar "on cifar10 from $work/D/cifar10 \(" $n train $small --model lin32.spec --dataset cifar10 --data D
  if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    mkdir -p empty; cd empty  # no ./data here
    honoured debian "on fashion-mnist from /usr/share/datasets/fashion-mnist \(" $n train --device ref --model ../lin.spec --train-limit 32 --test-limit 16
    cd ..
  fi
  ;;
fp32_save) # (2) --save with --precision fp32 writes a checkpoint that eval, info and --resume take
  f="$small --precision fp32 --dataset mnist --data D --batch 8 --epochs 2 --seed 4 --run-id F"
  honoured save "saved checkpoint $work/ck\.st: after epoch 2, step 8" $n train $f --save ck.st
  mv ck.st full.st
  honoured stop "stopped in epoch 1 at step 3" $n train $f --save ck.st --max-steps 3
  honoured resume "resuming custom on mnist .* fp32\) on ref .*from step 3" $n train --resume ck.st
  cmp full.st ck.st || fail "the resumed fp32 run differs from the uninterrupted one"
  honoured eval "accuracy: " $n eval ck.st --device ref --data D
  honoured info "^precision:  fp32" $n info ck.st
  ;;
resume) # (3) the printed hint alone continues the run: data, limits, --save and --log kept
  r="--device ref --dataset mnist --data D --model lin.spec --train-limit 64 --test-limit 16 --batch 16 --epochs 2 --seed 3"
  run_out $n train $r --max-steps 6 --save ck.st --log run.jsonl
  show stop
  hint=$(printf '%s\n' "$out" | sed -n 's/^resume with: niti //p')
  [ "$hint" = "train --resume $work/ck.st" ] || fail "the hint is '$hint'"
  mkdir -p elsewhere; cd elsewhere
  honoured hint "resuming custom on mnist from $work/D/mnist \(64 images," $n $hint
  cd ..
  printf '%s\n' "$out" | grep -q "saved checkpoint $work/ck.st: after epoch 2, step 8" || fail "the resumed run did not save to ck.st"
  [ "$(grep -c '"event":"epoch"' run.jsonl)" -eq 2 ] || fail "the resumed run did not log"
  grep -q '"event":"end"' run.jsonl || fail "no end record"
  # the original command line plus --resume is accepted; a different value is refused by name
  $n train $r --max-steps 6 --save ck2.st --quiet >/dev/null 2>&1 || true
  honoured original "epoch 2/2" $n train $r --save ck2.st --resume ck2.st
  $n train $r --max-steps 6 --save ck3.st --quiet >/dev/null 2>&1 || true
  refused different "these options differ from it: --batch 32 \(the run's: 16\); --seed 4 \(the run's: 3\)" $n train --resume ck3.st --batch 32 --seed 4
  honoured limit "--train-limit 48 replaces the run's 64" $n train --resume ck3.st --train-limit 48
  ;;
messages) # (5) the stop and the saved checkpoint name the same position
  run_out $n train $small --dataset mnist --data D --batch 8 --epochs 2 --max-steps 5 --save ck.st
  show stop
  printf '%s\n' "$out" | grep -q "^stopped in epoch 2 at step 5, 1 batch into the epoch$" || fail "stop message"
  printf '%s\n' "$out" | grep -q "^saved checkpoint $work/ck.st: in epoch 2 at step 5, 1 batch into the epoch$" || fail "saved message"
  printf '%s\n' "$out" | grep -q "^saved checkpoint $work/ck.st: after epoch 1, step 4$" || fail "epoch-end save message"
  honoured info "position:   in epoch 2 at step 5, 1 batch into the epoch" $n info ck.st
  ;;
not_ckpt) # (6) files that are not checkpoints say so
  $n train $small --dataset mnist --data D --log run.jsonl --quiet >/dev/null
  # a safetensors file from elsewhere: one I8 tensor, metadata without niti's entries
  h='{"__metadata__":{"source":"elsewhere"},"w":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}'
  { printf "\\$(printf %03o ${#h})\\0\\0\\0\\0\\0\\0\\0"; printf '%s' "$h"; printf '\1\2'; } >foreign.safetensors
  for cmd in "eval" "train --resume" "train --init"; do
    refused "$cmd jsonl" "run\.jsonl is not a niti checkpoint \(not a safetensors file: it begins with '\{\"event\":\"start\"" $n $cmd run.jsonl
    refused "$cmd foreign" "foreign\.safetensors is not a niti checkpoint \(a safetensors file without niti's metadata" $n $cmd foreign.safetensors
  done
  refused "info foreign" "foreign\.safetensors is not a niti checkpoint \(a safetensors file without niti's metadata" $n info foreign.safetensors
  refused "info jsonl" "run\.jsonl is neither a model spec nor a niti checkpoint" $n info run.jsonl
  : >empty.st
  refused "eval empty" "empty\.st is not a niti checkpoint \(the file is empty\)" $n eval empty.st
  ;;
info) # (7) niti info CKPT: the layer table and the run's settings
  $n train $small --dataset mnist --data D --batch 8 --seed 9 --mu 2 --rule niti20 --epochs 1 --save ck.st --log run.jsonl --run-id I7 --quiet >/dev/null
  run_out $n info ck.st
  show info
  [ "$rc" -eq 0 ] || fail "info exit status $rc"
  for re in "^checksum:   ok \([0-9a-f]{16}\)" "^precision:  int8" "^position:   after epoch 1, step 4 \(of 1 epoch\)" \
            "^rule:       niti20, activations psr, errors psr" "^mu:         2" "^seed:       9" "^batch:      8" \
            "^dataset:    mnist from $work/D/mnist" "^limits:     training images 32, test images 16, evaluation every epoch" \
            "^device:     ref \(plain C reference\) \(--device ref\)" "^run:        I7" "^saves to:   $work/ck\.st" \
            "^logs to:    $work/run\.jsonl" "^ +1  linear   10 +10 +7840"; do
    printf '%s\n' "$out" | grep -Eq -- "$re" || fail "info: no line matching $re"
  done
  # a damaged copy is still described, with its checksum reported as not matching
  cp ck.st bad.st
  size=$(wc -c <bad.st)
  printf '\177' | dd of=bad.st bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
  honoured damaged "^checksum:   MISMATCH: checksum mismatch" $n info bad.st
  honoured spec "^input 28x28x1; flatten; linear 10$" $n info --spec ck.st
  ;;
log_runs) # (8) each run is its own series in a shared log; a resumed run continues its own
  $n train $small --dataset mnist --data D --log run.jsonl --quiet >/dev/null
  $n train $small --dataset mnist --data D --log run.jsonl --batch 8 --epochs 2 --max-steps 6 --save ck.st --quiet >/dev/null 2>&1
  $n train --resume ck.st --quiet >/dev/null
  [ "$(grep -vc '"run":"' run.jsonl)" -eq 0 ] || fail "a record without a run id"
  ids=$(sed 's/.*"run":"\([^"]*\)".*/\1/' run.jsonl | uniq)
  [ "$(printf '%s\n' "$ids" | wc -l)" -eq 2 ] || { cat run.jsonl; fail "expected two runs, one after the other: $ids"; }
  second=$(printf '%s\n' "$ids" | tail -n 1)
  [ "$(grep -c "\"event\":\"start\",\"run\":\"$second\"" run.jsonl)" -eq 2 ] || fail "the resumed run did not keep its id"
  [ "$(grep -c "\"event\":\"epoch\",\"run\":\"$second\"" run.jsonl)" -eq 2 ] || fail "the second run's epochs"
  echo "ok: run ids $ids"
  ;;
init) # (9) --init takes the model from the checkpoint; a different --model is refused early
  $n train --device ref --dataset mnist --data D --model 'input 28x28x1; conv 4 k3 p1; relu; maxpool 2; flatten; linear 10' \
    --train-limit 32 --test-limit 16 --save ck.st --quiet >/dev/null
  honoured alone "starting from the weights in ck\.st" $n train --init ck.st --device ref --data D --train-limit 32 --test-limit 16 --log run.jsonl
  grep -q '"spec":"input 28x28x1; conv 4 k3 p1; relu; maxpool 2; flatten; linear 10"' run.jsonl || fail "the checkpoint's model was not used"
  refused lenet "--init: the checkpoint's model \(.*\) is not --model \(.*\); omit --model to train the checkpoint's model" \
    $n train --init ck.st --model lenet --device ref --data D
  ;;
early_checks) # (10) checks before the dataset is loaded; a preset is suggested for CIFAR-10
  refused train_limit "--train-limit must be a whole number in 1\.\." $n train --train-limit 0 --device ref --data D --dataset mnist
  refused cifar "the model takes 28x28x1 images but cifar10 has 32x32x3; for CIFAR-10 use a 32x32x3 model, e.g. --model vgg-small-7" \
    $n train --dataset cifar10 --device ref --data D
  refused mnist32 "the model takes 32x32x3 images but mnist has 28x28x1; .* e\.g\. --model lenet" \
    $n train --dataset mnist --model vgg-small-7 --device ref --data D
  refused classes "the model has 4 outputs but mnist has 10 classes" \
    $n train --dataset mnist --model 'input 28x28x1; flatten; linear 4' --device ref --data D
  refused log_dir "cannot open the log file /nonexistent/x\.jsonl" $n train $small --dataset mnist --data D --log /nonexistent/x.jsonl
  ;;
eta) # (11) no rate or ETA from the first batches, which pay for one-time work
  run_out $n train --device ref --dataset mnist --data D --model lin.spec --train-limit 96 --test-limit 16 --batch 8 --epochs 1
  show eta
  first=$(printf '%s\n' "$out" | grep -m1 "^epoch 1/1: ")
  printf '%s\n' "$first" | grep -q "\.\.\. img/s ETA --:--" || fail "the first progress line shows a rate: $first"
  ;;
eval_names) # (12) class names and --json
  $n train $small --dataset fashion-mnist --data D --save fm.st --quiet >/dev/null
  honoured text " 9 Ankle boot " $n eval fm.st --device ref
  honoured json "^\{\"checkpoint\":\"fm\.st\".*\"dataset\":\"fashion-mnist\",\"split\":\"test\",\"data\":\"$work/D/fashion-mnist\",\"images\":40,.*\"name\":\"T-shirt/top\".*\"name\":\"Ankle boot\".*\"confusion\":\[\[" $n eval fm.st --device ref --json
  if command -v python3 >/dev/null; then
    printf '%s\n' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["classes"])==10 and len(d["confusion"])==10 and d["images"]==40, d' || fail "json: not valid"
  fi
  $n train $small --model lin32.spec --dataset cifar10 --data D --save c.st --quiet >/dev/null
  honoured cifar " 0 airplane " $n eval c.st --device ref
  printf '%s\n' "$out" | grep -q " 9 truck " || fail "cifar: no class name truck"
  ;;
*) fail "unknown case $case" ;;
esac
cd /; rm -rf "$work"
echo "PASS: $case"
