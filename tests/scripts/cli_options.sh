#!/bin/sh
# Issue #20: every option of `niti train`, combined with --resume, --init, --precision fp32 or
# NITI_GEMM, is either honoured (the run shows it took effect) or refused (a clear error, exit
# status 2, before any data is read or any device opened); nothing is dropped silently.
# Synthetic datasets in the real formats keep each run to a fraction of a second on ref.
#   usage: cli_options.sh NITI WORK resume|init|fp32|gemm
set -eu
niti=$1 work=$2 ctx=$3
. "$(dirname "$0")/cli_lib.sh"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
unset NITI_DATA NITI_DEVICE NITI_GEMM NITI_DOT_EMULATE
make_data D
mkdir D2; cp -r D/mnist D2/
printf 'input 28x28x1; flatten; linear 10\n' >lin.spec
printf 'input 28x28x1; flatten; linear 12\n' >lin12.spec
base="--device ref --dataset mnist --data D --model lin.spec --train-limit 64 --test-limit 32 --batch 16"
log=run.jsonl
n="$niti"

case $ctx in
resume)
  # a run stopped mid-epoch (4 batches per epoch; after step 3) with everything recorded
  $n train $base --epochs 2 --seed 5 --label L --run-id R --max-steps 3 --save ck.st --log run.jsonl >/dev/null 2>&1
  cp ck.st ck.orig; cp run.jsonl run.orig
  reset() { cp ck.orig ck.st; cp run.orig run.jsonl; rm -f other.st other.jsonl; }
  R="$n train --resume ck.st"
  # alone: continues where, and as, it stopped
  reset; honoured alone "resuming custom on mnist from .*/D/mnist \(64 images, batch 16, int8\) on ref .*epochs 1\.\.2.*from step 3" $R
  grep -q '"event":"end","run":"R"' run.jsonl || fail "alone: the log was not continued"
  $n info ck.st | grep -q "after epoch 2, step 8" || fail "alone: ck.st was not saved at the end"
  # the original command line plus --resume
  reset; honoured original "epoch 2/2" $n train $base --epochs 2 --seed 5 --label L --run-id R --max-steps 8 --save ck.st --log run.jsonl --resume ck.st
  # what may change
  reset; honoured epochs "epoch 3/3" $R --epochs 3
  reset; refused epochs_zero "--epochs must be a whole number" $R --epochs 0
  reset; honoured device "on ref" $R --device ref
  reset; refused device_missing "nosuchdevice" $R --device nosuchdevice
  reset; honoured niti_device "on ref" env NITI_DEVICE=ref $R
  reset; refused niti_device_missing "nosuchdevice" env NITI_DEVICE=nosuchdevice $R
  reset; honoured data "reading mnist from .*/D2/mnist \(--data\); the run used .*/D/mnist" $R --data D2
  reset; refused data_missing "/nonexistent" $R --data /nonexistent
  reset; honoured niti_data "reading mnist from .*/D2/mnist \(NITI_DATA\)" env NITI_DATA="$work/D2" $R
  reset; honoured save "saved checkpoint .*/other\.st: after epoch 2" $R --save other.st
  [ -f other.st ] && cmp -s ck.st ck.orig || fail "save: other.st missing, or ck.st was written"
  reset; honoured log "checkpoints: .*, log: .*/other\.jsonl" $R --log other.jsonl
  grep -q '"event":"start","run":"R"' other.jsonl || fail "log: other.jsonl has no start record of run R"
  reset; honoured train_limit "--train-limit 96 replaces the run's 64" $R --train-limit 96
  printf '%s\n' "$out" | grep -q "(96 images" || fail "train_limit: not used"
  reset; refused train_limit_short "stopped after batch 3 of its epoch; --train-limit 48" $R --train-limit 48
  reset; honoured test_limit "--test-limit 16 replaces the run's 32" $R --test-limit 16
  printf '%s\n' "$out" | grep -q "test accuracy: .*/16)" || fail "test_limit: not used"
  reset; honoured eval_every "--eval-every 0 replaces the run's 1" $R --eval-every 0
  reset; honoured max_steps "stopped in epoch 2 at step 5" $R --max-steps 5
  reset; refused max_steps_past "--max-steps 2: the run is already at step 3" $R --max-steps 2
  reset; honoured quiet "^test accuracy" $R --quiet
  printf '%s\n' "$out" | grep -q "^epoch 2/2: .*img/s ETA" && fail "quiet: progress was shown"
  # the run's settings: equal values are accepted, different ones refused by name
  for opt in "--model lin.spec" "--dataset mnist" "--batch 16" "--seed 5" "--precision int8" \
             "--rule niti21" "--act-round round" "--err-round round" "--mu 4,3:3,4:2" "--label L" "--run-id R"; do
    reset; honoured "same ${opt%% *}" "test accuracy" $R $opt
  done
  reset; refused model "--model 'input 28x28x1; flatten; linear 12'" $R --model lin12.spec
  reset; refused dataset "--dataset fashion-mnist \(the run's: mnist\)" $R --dataset fashion-mnist
  reset; refused batch "--batch 32 \(the run's: 16\)" $R --batch 32
  reset; refused seed "--seed 6 \(the run's: 5\)" $R --seed 6
  reset; refused precision "--precision fp32 \(the run's: int8\)" $R --precision fp32
  reset; refused rule "--rule niti20 \(the run's: niti21\)" $R --rule niti20
  reset; refused act_round "--act-round psr \(the run's: round\)" $R --act-round psr
  reset; refused err_round "--err-round psr \(the run's: round\)" $R --err-round psr
  reset; refused mu "--mu 2 \(the run's: 4,3:3,4:2; a new schedule must keep the mu of the 1 epoch trained so far, and it gives epoch 1 mu 2 instead of 4\)" $R --mu 2
  # a new tail for the schedule: epoch 1 (in progress) keeps mu 4
  reset; honoured mu_tail "--mu 4,1:2 replaces the run's 4,3:3,4:2 from epoch 2 on" $R --mu 4,1:2
  $n info ck.st | grep -q "^mu:         4,1:2" || fail "mu_tail: the checkpoint does not hold the new schedule"
  reset; refused weight_decay "--weight-decay \(the run has no weight decay\)" $R --weight-decay
  reset; refused master "--master-weights 16 \(the run has no master weights\)" $R --master-weights 16
  reset; refused label "--label 'M' \(the run's: 'L'\)" $R --label M
  reset; refused run_id "--run-id S \(the run's: R\)" $R --run-id S
  reset; refused lr "--lr, --momentum, --wd and --lr-steps are for --precision fp32" $R --lr 0.1
  reset; refused momentum "are for --precision fp32" $R --momentum 0.9
  reset; refused wd "are for --precision fp32" $R --wd 0.001
  reset; refused lr_steps "are for --precision fp32" $R --lr-steps 5
  reset; refused init "--resume and --init cannot be combined" $R --init ck.st
  reset; refused several "these options differ from it: --batch 32 .*; --seed 6 .*; --mu 2 " $R --batch 32 --seed 6 --mu 2
  reset; refused gemm "NITI_GEMM=portable is set, but --device ref" env NITI_GEMM=portable $R
  ;;
init)
  $n train $base --epochs 1 --seed 5 --save ck.st --quiet >/dev/null
  I="$n train --init ck.st --device ref --data D --train-limit 32 --test-limit 16 --epochs 1 --log run.jsonl"
  honoured alone "training custom on mnist .*starting from the weights in ck\.st" $I
  grep '"event":"start"' run.jsonl | tail -n 1 | grep -q '"spec":"input 28x28x1; flatten; linear 10"' || fail "alone: model not taken from the checkpoint"
  honoured model_same "log:\"spec\":\"input 28x28x1; flatten; linear 10\"" $I --model lin.spec
  refused model "--init: the checkpoint's model \(input 28x28x1; flatten; linear 10\) is not --model \(input 28x28x1; flatten; linear 12\); omit --model" $I --model lin12.spec
  honoured dataset "log:\"dataset\":\"fashion-mnist\",\"data\":\".*/D/fashion-mnist\"" $I --dataset fashion-mnist
  honoured data "log:\"data\":\".*/D2/mnist\"" $n train --init ck.st --device ref --data D2 --train-limit 32 --test-limit 16 --log run.jsonl
  refused data_missing "/nonexistent" $n train --init ck.st --device ref --data /nonexistent
  honoured epochs "epoch 2/2" $I --epochs 2
  honoured batch "log:\"batch\":8," $I --batch 8
  honoured seed "log:\"seed\":9," $I --seed 9
  refused device "nosuchdevice" $I --device nosuchdevice
  refused precision "--init: ck\.st holds the weights of an int8 run; this run is fp32" $I --precision fp32
  honoured rule "log:\"rule\":\"niti20\",\"act_round\":\"psr\",\"err_round\":\"psr\"" $I --rule niti20
  honoured act_round "log:\"act_round\":\"psr\"" $I --act-round psr
  honoured err_round "log:\"err_round\":\"psr\"" $I --err-round psr
  honoured mu "log:\"mu\":\"2\"" $I --mu 2
  honoured weight_decay "test accuracy" $I --weight-decay --save wd.st
  $n info wd.st | grep -q "weight decay on, master weights none" || fail "weight_decay: not in the checkpoint"
  honoured master "test accuracy" $I --master-weights 16 --save mw.st
  $n info mw.st | grep -q "weight decay off, master weights 16-bit" || fail "master: not in the checkpoint"
  refused lr "are for --precision fp32" $I --lr 0.1
  refused momentum "are for --precision fp32" $I --momentum 0.9
  refused wd "are for --precision fp32" $I --wd 0.001
  refused lr_steps "are for --precision fp32" $I --lr-steps 5
  honoured save "saved checkpoint .*/new\.st" $I --save new.st
  $n info new.st | grep -q "position:   after epoch 1, step 1 " || fail "save: new.st is not a fresh run's checkpoint"
  honoured label "log:\"label\":\"mine\"" $I --label mine
  honoured run_id "log:\"run\":\"X1\"" $I --run-id X1
  honoured eval_every "^epoch 1/2: train loss [0-9.]+ acc [0-9.]+% \| [0-9]+ img/s" $I --eval-every 0 --epochs 2
  honoured train_limit "log:\"train_images\":16," $I --train-limit 16
  honoured test_limit "test accuracy: .*/8\)" $I --test-limit 8
  honoured max_steps "stopped in epoch 1 at step 1" $I --max-steps 1 --batch 8
  honoured quiet "^test accuracy" $I --quiet
  refused gemm "NITI_GEMM=portable is set, but --device ref" env NITI_GEMM=portable $I
  # an fp32 checkpoint starts an fp32 run only
  $n train $base --precision fp32 --epochs 1 --save f.st --quiet >/dev/null
  refused fp32_into_int8 "--init: f\.st holds the weights of an fp32 run; this run is int8 \(add --precision fp32\)" $n train --init f.st --device ref --data D
  honoured fp32_into_fp32 "log:\"precision\":\"fp32\"" $n train --init f.st --precision fp32 --device ref --data D --train-limit 32 --test-limit 16 --log run.jsonl
  ;;
fp32)
  F="$n train $base --precision fp32 --epochs 1 --log run.jsonl"
  honoured alone "log:\"precision\":\"fp32\".*\"lr\":0\.00999999978,\"momentum\":0\.5,\"wd\":0," $F
  for opt in rule:niti20 act-round:psr err-round:psr mu:2 master-weights:16; do
    refused "${opt%%:*}" "--${opt%%:*} is for the integer path; the fp32 baseline trains with SGD" $F --${opt%%:*} ${opt#*:}
  done
  refused weight_decay "--weight-decay is for the integer path" $F --weight-decay
  refused several "--rule, --mu are for the integer path" $F --rule niti21 --mu 0
  honoured lr "log:\"lr\":0\.0500000007," $F --lr 0.05
  refused lr_zero "--lr must be a finite number > 0" $F --lr 0
  refused lr_junk "--lr must be a finite number > 0 \(got '0\.1x'\)" $F --lr 0.1x
  honoured momentum "log:\"momentum\":0\.899999976," $F --momentum 0.9
  honoured wd "log:\"wd\":0\.00100000005," $F --wd 0.001
  honoured lr_steps "log:\"lr_steps\":\"1\"" $F --lr-steps 1 --epochs 2
  grep '"event":"epoch"' run.jsonl | tail -n 1 | grep -q '"lr":0.000999' || fail "lr_steps: epoch 2 did not use lr/10"
  honoured model "log:\"spec\":\"input 28x28x1; flatten; linear 12\"" $F --model lin12.spec
  honoured dataset "log:\"dataset\":\"fashion-mnist\"" $F --dataset fashion-mnist
  honoured data "log:\"data\":\".*/D2/mnist\"" $n train --device ref --dataset mnist --data D2 --model lin.spec --train-limit 32 --test-limit 16 --precision fp32 --log run.jsonl
  refused data_missing "/nonexistent" $F --data /nonexistent
  honoured epochs "epoch 2/2" $F --epochs 2
  honoured batch "log:\"batch\":8," $F --batch 8
  honoured seed "log:\"seed\":9," $F --seed 9
  refused device "nosuchdevice" $F --device nosuchdevice
  honoured label "log:\"label\":\"mine\"" $F --label mine
  honoured run_id "log:\"run\":\"X1\"" $F --run-id X1
  honoured eval_every "^epoch 1/2: train loss [0-9.]+ acc [0-9.]+% \| [0-9]+ img/s" $F --eval-every 0 --epochs 2
  honoured train_limit "log:\"train_images\":32," $F --train-limit 32
  honoured test_limit "test accuracy: .*/8\)" $F --test-limit 8
  honoured quiet "^test accuracy" $F --quiet
  honoured max_steps "stopped in epoch 1 at step 2" $F --max-steps 2 --save f.st
  honoured save_resume "resuming custom on mnist .* fp32\) on ref .*from step 2" $n train --resume f.st
  $n info f.st | grep -q "^precision:  fp32" || fail "save: f.st is not an fp32 checkpoint"
  refused gemm "NITI_GEMM=portable is set, but the fp32 baseline .* has no OpenCL GEMM paths" env NITI_GEMM=portable $F
  refused dot_emulate "NITI_DOT_EMULATE is set, but the fp32 baseline" env NITI_DOT_EMULATE=1 $F
  refused gemm_resume "NITI_GEMM=tiled is set, but the fp32 baseline" env NITI_GEMM=tiled $n train --resume f.st --epochs 2
  ;;
gemm)
  G="$n train --dataset mnist --data D --model lin.spec --train-limit 32 --test-limit 16 --epochs 1"
  refused ref "NITI_GEMM=portable is set, but --device ref \(plain C\) has no OpenCL GEMM paths" env NITI_GEMM=portable $G --device ref
  refused ref_env "NITI_GEMM=portable is set, but --device ref" env NITI_GEMM=portable NITI_DEVICE=ref $G
  refused fp32 "NITI_GEMM=portable is set, but the fp32 baseline" env NITI_GEMM=portable $G --precision fp32
  refused emulate_alone "NITI_DOT_EMULATE=1 only applies with NITI_GEMM=dp4a or NITI_GEMM=khr-dot" env NITI_DOT_EMULATE=1 $G
  refused emulate_portable "NITI_DOT_EMULATE=1 only applies .* \(NITI_GEMM is portable\)" env NITI_GEMM=portable NITI_DOT_EMULATE=1 $G
  honoured auto "test accuracy" env NITI_GEMM=auto $G --device ref
  $n train --device ref --dataset mnist --data D --model lin.spec --train-limit 32 --epochs 1 --save ck.st --quiet >/dev/null
  refused resume_ref "NITI_GEMM=portable is set, but --device ref" env NITI_GEMM=portable $n train --resume ck.st --epochs 2
  refused init_ref "NITI_GEMM=portable is set, but --device ref" env NITI_GEMM=portable $n train --init ck.st --device ref --data D
  # An OpenCL device (where there is one): the forced path is used, or the run is refused.
  if "$n" devices 2>/dev/null | grep -q "type CPU"; then
    # issue #20 (11): with an empty kernel cache the kernels are compiled, and the run says so
    # while it happens; with the cache filled, it says nothing
    honoured cpu_portable "\[gemm: portable\]" env NITI_CACHE_DIR="$work/kcache" NITI_GEMM=portable $G --device cpu
    printf '%s\n' "$out" | grep -q "^compil\(ing\|ed\) kernels for .*pthread" || fail "cpu_portable: no word of compiling kernels"
    honoured cpu_portable_cached "\[gemm: portable\]" env NITI_CACHE_DIR="$work/kcache" NITI_GEMM=portable $G --device cpu
    printf '%s\n' "$out" | grep -q "kernels for" && fail "cpu_portable_cached: compiled again"
    refused fastest "NITI_GEMM=\"fastest\"" env NITI_GEMM=fastest $G --device cpu
  else
    echo "no OpenCL CPU device: the device cases are skipped"
  fi
  # issue #20 (4): a forced path the default device cannot run is an error naming the device,
  # never a fallback to ref as if there were no device
  if "$n" devices 2>/dev/null | grep -q "dp4a no"; then
    run_out env NITI_GEMM=dp4a NITI_DOT_EMULATE= $G
    show default_dp4a
    [ "$rc" -ne 0 ] || fail "default_dp4a: a forced dp4a the device lacks did not fail"
    printf '%s\n' "$out" | grep -q "a forced NITI_GEMM=dp4a cannot run on device " || fail "default_dp4a: no message naming the device"
    printf '%s\n' "$out" | grep -q "plain-C reference" && fail "default_dp4a: fell back to ref"
    echo "ok: default_dp4a refused"
  fi
  ;;
*) fail "unknown context $ctx" ;;
esac
cd /; rm -rf "$work"
echo "PASS: cli options with $ctx"
