#!/bin/sh
# niti train --augment MODE and --val N (issue #19), on synthetic datasets in the real formats
# (tests/scripts/cli_lib.sh: 96 training and 40 test images for mnist and fashion-mnist, 40 and
# 16 for cifar10) on ref.
#   usage: cli_augment_val.sh NITI WORK CASE ST_SAME_WEIGHTS_PY
#   CASE: refused   bad modes, a mirror for mnist, --val out of range: refused before any work
#                   (--val >= the training images: once the data is loaded, before training)
#         defaults  the default per dataset is today's behaviour, bit for bit; other modes
#                   change the run; the log's start record, niti info, --list, --help
#         val       the held-out images never reach training (a run with --val N trains exactly
#                   as one on a file without its last N images), val_acc in the log and output
#                   and equal to niti eval on those images
#         resume    interrupted + resumed = uninterrupted with --augment/--val; a changed one is
#                   refused; --resume alone keeps them; --init takes the new options; a
#                   checkpoint from before the options loads as default / 0
#         mpi       (with $NITI_MPIEXEC, an MPI build) several processes train as one
set -eu
niti=$1 work=$2 case=$3 same_py=$4
. "$(dirname "$0")/cli_lib.sh"
cli_workdir "$work"
n="$niti"
fm="--device ref --model lin.spec --dataset fashion-mnist --data D --test-limit 16"
mn="--device ref --model lin.spec --dataset mnist --data D --test-limit 16"
cf="--device ref --model lin32.spec --dataset cifar10 --data D"
log=run.jsonl

same() { python3 "$same_py" "$@" >same.out 2>&1; }
# weights A B: the two checkpoints hold the same weights (and position), else fail
weights_same() { same "$1" "$2" || { cat same.out; fail "$3: $1 and $2 hold different weights"; }; echo "ok: $3"; }
weights_differ() { same "$1" "$2" && fail "$3: $1 and $2 hold the same weights"; echo "ok: $3"; }
# last record of an event in a log
record() { grep "\"event\":\"$2\"" "$1" | tail -n 1; }
has() { printf '%s\n' "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match $2"; }

case $case in
refused)
  for m in crop9 crop0 cropx crop crop10 crop04 crop4-flop crop4flip flip-crop4 NONE ""; do
    refused "augment '$m'" "--augment: .*(1\.\.8)" $n train $fm --augment "$m"
  done
  refused "mnist flip" "--augment: augmentation 'flip' mirrors images.*a mirrored digit is a different digit" \
    $n train $mn --augment flip
  refused "mnist crop2-flip" "augmentation 'crop2-flip' mirrors images.*mirrored digit" $n train $mn --augment crop2-flip
  # the default dataset of a 28x28x1 model is fashion-mnist, where a flip is fine; a 28x28 model
  # trained on mnist from an --init checkpoint is still refused
  $n train $mn --train-limit 16 --save m.st --quiet >/dev/null
  refused "init mnist flip" "mirrored digit" $n train --init m.st --device ref --data D --augment flip
  refused "val -1" "--val must be a whole number in 0\.\." $n train $fm --val -1
  refused "val x" "--val must be a whole number in 0\.\." $n train $fm --val x
  # --val >= the training images: known once the files are read, refused before training, no
  # checkpoint saved and nothing logged
  for v in 96 500; do
    run_out $n train $fm --val $v --save v.st --log v.jsonl
    show "val $v"
    [ "$rc" -eq 2 ] || fail "val $v: exit status $rc, expected 2"
    has "$out" "--val $v: the fashion-mnist training set in $work/D/fashion-mnist has 96 images, so at most 95 can be held out" "val $v"
    printf '%s\n' "$out" | grep -Eq '^(epoch |saved checkpoint|training )' && fail "val $v: refused only after training had started"
    [ ! -e v.st ] || fail "val $v: a checkpoint was saved"
    [ ! -s v.jsonl ] || fail "val $v: something was logged"
    echo "ok: val $v refused"
  done
  honoured "val 95" "validation accuracy: [0-9.]+% \([0-9]+/95\)" $n train $fm --val 95 --batch 1
  honoured "fashion flip" "augment flip" $n train $fm --augment flip
  ;;

defaults)
  # cifar10 without --augment is crop4-flip, bit for bit; none and crop4 are other runs
  c="$cf --batch 8 --epochs 2 --seed 4 --run-id C --quiet"
  $n train $c --save c_def.st --log c.jsonl >/dev/null
  has "$(record c.jsonl start)" '"augment":"crop4-flip","val":0,' "cifar start record"
  $n train $c --save c_c4f.st --augment crop4-flip >/dev/null
  $n train $c --save c_none.st --augment none >/dev/null
  $n train $c --save c_c4.st --augment crop4 >/dev/null
  weights_same c_def.st c_c4f.st "cifar10's default is crop4-flip"
  weights_differ c_def.st c_none.st "cifar10 --augment none changes the run"
  weights_differ c_def.st c_c4.st "cifar10 --augment crop4 changes the run"
  weights_differ c_none.st c_c4.st "crop4 is not none"
  # mnist / fashion-mnist without --augment is none
  f="$fm --batch 16 --epochs 2 --seed 4 --run-id F --quiet"
  $n train $f --save f_def.st --log f.jsonl >/dev/null
  has "$(record f.jsonl start)" '"augment":"none","val":0,' "fashion start record"
  $n train $f --save f_none.st --augment none >/dev/null
  $n train $f --save f_c2.st --augment crop2 --log f.jsonl >/dev/null
  has "$(record f.jsonl start)" '"augment":"crop2","val":0,' "crop2 start record"
  $n train $f --save f_c2f.st --augment crop2-flip >/dev/null
  $n train $f --save f_flip.st --augment flip >/dev/null
  weights_same f_def.st f_none.st "fashion-mnist's default is none"
  weights_differ f_def.st f_c2.st "crop2 changes the run"
  weights_differ f_c2.st f_c2f.st "crop2-flip is not crop2"
  weights_differ f_def.st f_flip.st "flip changes the run"
  m="$mn --batch 16 --seed 4 --run-id M --quiet"
  $n train $m --save m_def.st >/dev/null
  $n train $m --save m_none.st --augment none >/dev/null
  $n train $m --save m_c1.st --augment crop1 >/dev/null
  weights_same m_def.st m_none.st "mnist's default is none"
  weights_differ m_def.st m_c1.st "mnist crop1 changes the run"
  # niti info: the mode of the run
  honoured "info default" "^augment:    crop4-flip \(the dataset's default\)" $n info c_def.st
  has "$out" "^validation: none" "info default"
  honoured "info none" "^augment:    none$" $n info c_none.st
  honoured "info crop2" "^augment:    crop2$" $n info f_c2.st
  honoured "info fashion default" "^augment:    none \(the dataset's default\)" $n info f_def.st
  # the list and the help
  honoured list "^augmentations " $n info --list
  for re in "^  none +no augmentation: the default for mnist and fashion-mnist" "^  cropP +random crop.*1\.\.8" \
            "^  cropP-flip +.*mirror.*crop4-flip: the default for cifar10" "^  flip +a random left-right mirror" \
            "mirror is refused for mnist"; do
    has "$out" "$re" "--list"
  done
  honoured help "--augment MODE +training augmentation: none \| cropP \| cropP-flip \| flip" $n train --help
  has "$out" "--val N +hold out the last N training images" "help"
  ;;

val)
  # E: the first 80 training images of D (the same test set); F: a test set made of D's last 16
  # training images
  for s in mnist fashion-mnist; do
    mkdir -p "E/$s" "F/$s"
    { printf '\0\0\10\3'; be32 80; be32 28; be32 28; tail -c +17 "D/$s/train-images-idx3-ubyte" | head -c $((80 * 784)); } >"E/$s/train-images-idx3-ubyte"
    { printf '\0\0\10\1'; be32 80; tail -c +9 "D/$s/train-labels-idx1-ubyte" | head -c 80; } >"E/$s/train-labels-idx1-ubyte"
    cp "D/$s/t10k-images-idx3-ubyte" "D/$s/t10k-labels-idx1-ubyte" "E/$s/"
    cp "D/$s/train-images-idx3-ubyte" "D/$s/train-labels-idx1-ubyte" "F/$s/"
    { printf '\0\0\10\3'; be32 16; be32 28; be32 28; tail -c $((16 * 784)) "D/$s/train-images-idx3-ubyte"; } >"F/$s/t10k-images-idx3-ubyte"
    { printf '\0\0\10\1'; be32 16; tail -c 16 "D/$s/train-labels-idx1-ubyte"; } >"F/$s/t10k-labels-idx1-ubyte"
  done
  v="--device ref --model lin.spec --dataset fashion-mnist --test-limit 16 --batch 16 --epochs 2 --seed 3 --run-id V"
  honoured "val 16" "validation accuracy: [0-9.]+% \([0-9]+/16\)" $n train $v --data D --val 16 --save a.st --log a.jsonl
  has "$out" "^epoch 1/2: train loss .* \| test loss [0-9.]+ acc [0-9.]+% \| val loss [0-9.]+ acc [0-9.]+% \|" "epoch line"
  has "$out" "80 images, batch 16, int8\) on .*, 16 held out for validation" "start line"
  val_count=$(printf '%s\n' "$out" | sed -n 's/.*validation accuracy: [0-9.]*% (\([0-9]*\)\/16).*/\1/p')
  has "$(record a.jsonl start)" '"train_images":80,.*"augment":"none","val":16,' "start record"
  [ "$(grep '"event":"epoch"' a.jsonl | grep -c '"test_loss":[0-9.]*,"test_acc":[0-9.]*,"val_loss":[0-9.]*,"val_acc":[0-9.]*,')" -eq 2 ] || { cat a.jsonl; fail "epoch records without val_loss and val_acc"; }
  has "$(record a.jsonl end)" '"test_acc":[0-9.]+,"val_acc":[0-9.]+,"wall_s"' "end record"
  # the held-out images never reached training: the run is the one on E (no --val), weight for
  # weight, and not the one on all of D
  $n train $v --data E --save b.st --quiet >/dev/null
  $n train $v --data D --save c.st --log c.jsonl --quiet >/dev/null
  weights_same a.st b.st "--val 16 trains as the file without its last 16 images"
  weights_differ a.st c.st "--val 16 is not a run on all 96 images"
  # without --val: output and log as before
  ! grep -q '"val_acc"\|"val_loss"' c.jsonl || fail "val_acc logged without --val"
  # the validation accuracy is that of the held-out images (niti eval on F, whose test set they are)
  honoured "eval held-out" "accuracy: +[0-9.]+% \($val_count/16\)" $n eval a.st --device ref --data F --batch 16
  # --train-limit counts from the training part; --eval-every 0 evaluates (both sets) at the end
  honoured "limit" "validation accuracy: [0-9.]+% \([0-9]+/16\)" \
    $n train $v --data D --val 16 --train-limit 32 --eval-every 0 --log d.jsonl
  has "$(record d.jsonl start)" '"train_images":32,' "limit start record"
  [ "$(grep '"event":"epoch"' d.jsonl | grep -c '"val_acc"')" -eq 1 ] || fail "--eval-every 0: val_acc in other than the last epoch"
  # mnist, and the fp32 baseline (same data pipeline)
  honoured mnist "validation accuracy: [0-9.]+% \([0-9]+/30\)" $n train $v --dataset mnist --data D --val 30
  honoured fp32 "validation accuracy: [0-9.]+% \([0-9]+/10\)" $n train $v --data D --val 10 --precision fp32 --log e.jsonl
  has "$(record e.jsonl epoch)" '"val_loss":[0-9.]+,"val_acc":[0-9.]+' "fp32 epoch record"
  ;;

resume)
  # fashion-mnist, crop2-flip, 16 held out: 80 images, 10 steps per epoch
  r="$fm --augment crop2-flip --val 16 --batch 8 --epochs 2 --seed 9 --run-id R --quiet"
  $n train $r --save ck.st >/dev/null
  mv ck.st full.st
  $n train $r --save ck.st --max-steps 5 >/dev/null 2>&1
  honoured "info resumable" "^augment:    crop2-flip$" $n info ck.st
  has "$out" "^validation: the last 16 training images, held out" "info"
  $n train --resume ck.st >/dev/null 2>&1 || fail "--resume alone failed"
  cmp full.st ck.st || fail "interrupted at step 5 and resumed alone: not the uninterrupted run"
  echo "ok: resumed alone (mid-epoch) = uninterrupted"
  $n train $r --save ck.st --max-steps 13 >/dev/null 2>&1
  refused "changed augment" "these options differ from it: --augment crop3 \(the run's: crop2-flip\); --val 8 \(the run's: 16\)" \
    $n train --resume ck.st --augment crop3 --val 8
  refused "changed val" "this option differs from it: --val 0 \(the run's: 16\)" $n train --resume ck.st --val 0
  refused "dropped augment" "--augment none \(the run's: crop2-flip\)" $n train --resume ck.st --augment none
  $n train --resume ck.st $r --save ck.st >/dev/null 2>&1 || fail "resume with the original options failed"
  cmp full.st ck.st || fail "interrupted at step 13 and resumed with the original options: not the uninterrupted run"
  echo "ok: resumed with the original options = uninterrupted"
  # a different mode cannot pass for the same run (the comparison can fail)
  $n train $fm --augment crop2 --val 16 --batch 8 --epochs 2 --seed 9 --run-id R --quiet --save ck.st >/dev/null
  weights_differ full.st ck.st "crop2 is not crop2-flip"
  # cifar10: the default mode may be named when resuming; another is refused
  $n train $cf --batch 8 --epochs 2 --seed 2 --save cc.st --max-steps 3 --quiet >/dev/null 2>&1
  refused "cifar none" "--augment none \(the run's: crop4-flip, its dataset's default\)" $n train --resume cc.st --augment none
  honoured "cifar default named" "test accuracy" $n train --resume cc.st --augment crop4-flip
  # --init: a new run with the new options, not the checkpoint's
  honoured "init options" "augment crop1, 8 held out for validation" \
    $n train --init full.st --device ref --data D --test-limit 16 --augment crop1 --val 8 --save i.st
  honoured "init info" "^augment:    crop1$" $n info i.st
  has "$out" "^validation: the last 8 training images, held out" "init info"
  $n train --init full.st --device ref --data D --test-limit 16 --save j.st --quiet >/dev/null
  honoured "init fresh" "^augment:    none \(the dataset's default\)" $n info j.st
  has "$out" "^validation: none" "init fresh info"
  # a checkpoint from before --augment and --val (no such metadata) loads as default / 0
  $n train $fm --batch 8 --epochs 2 --seed 9 --run-id O --quiet --save o_full.st >/dev/null
  $n train $fm --batch 8 --epochs 2 --seed 9 --run-id O --quiet --save o.st --max-steps 5 >/dev/null 2>&1
  python3 - o.st <<'PY'
# drop the metadata 'augment' and 'val' and recompute the checksum (src/io/checkpoint.c: FNV-1a
# 64 over each tensor's name, dtype code and bytes in file order, then over the metadata but the
# checksum, sorted by key)
import json, struct, sys
path = sys.argv[1]
data = open(path, "rb").read()
(n,) = struct.unpack_from("<Q", data, 0)
head = json.loads(data[8:8 + n])
body = data[8 + n:]
meta = head.pop("__metadata__")
assert "augment" in meta and "val" in meta, meta
del meta["augment"], meta["val"]
codes = {"I8": 0, "U8": 1, "I16": 2, "I32": 3, "I64": 4, "F32": 5}
def fnv(h, b):
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h
h = 0xcbf29ce484222325
for name, t in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    a, b = t["data_offsets"]
    h = fnv(h, name.encode() + b"\0")
    h = fnv(h, bytes([codes[t["dtype"]]]))
    h = fnv(h, body[a:b])
for k in sorted(k for k in meta if k != "checksum"):
    h = fnv(h, k.encode() + b"\0")
    h = fnv(h, meta[k].encode() + b"\0")
meta["checksum"] = "%016x" % h
head["__metadata__"] = meta
hb = json.dumps(head, separators=(",", ":")).encode()
hb += b" " * (-len(hb) % 8)
open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + body)
PY
  honoured "old checkpoint info" "^checksum:   ok" $n info o.st
  has "$out" "^augment:    none \(the dataset's default\)" "old checkpoint info"
  has "$out" "^validation: none" "old checkpoint info"
  $n train --resume o.st >/dev/null 2>&1 || fail "resuming a checkpoint without augment/val failed"
  weights_same o_full.st o.st "a checkpoint without augment/val resumes as the default run"
  ;;
mpi) # several processes (mpirun, $NITI_MPIEXEC): the same held-out split and augmentation in every
  # rank, so the weights are those of one process, also across a resume with another count; a
  # rank with another --augment is refused
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 POCL_MAX_PTHREAD_COUNT=1
  mpi="$NITI_MPIEXEC --oversubscribe"
  c="$fm --augment crop3-flip --val 20 --batch 12 --epochs 2 --seed 5 --run-id P --quiet"
  $n train $c --save one.st --log one.jsonl >/dev/null
  $mpi -np 2 $n train $c --save two.st --log two.jsonl >/dev/null 2>&1 || fail "mpirun -np 2 failed"
  weights_same one.st two.st "2 processes = 1 process"
  [ "$(grep -o '"val_acc":[0-9.]*' one.jsonl)" = "$(grep -o '"val_acc":[0-9.]*' two.jsonl)" ] || fail "val_acc differs between 1 and 2 processes"
  $mpi -np 3 $n train $c --save three.st --max-steps 7 >/dev/null 2>&1 || fail "mpirun -np 3 failed"
  $mpi -np 2 $n train --resume three.st >/dev/null 2>&1 || fail "mpirun -np 2 --resume failed"
  weights_same one.st three.st "3 processes, resumed on 2 = 1 process"
  $n train $c --augment crop2 --save other.st >/dev/null
  weights_differ one.st other.st "crop2 is not crop3-flip"
  run_out $mpi -np 1 $n train $c : -np 1 $n train $c --augment crop2
  [ "$rc" -ne 0 ] || fail "ranks with different --augment trained"
  has "$out" "rank 1's model or options .*--augment, --val.* differ from rank 0's" "mismatch"
  echo "ok: a rank with another --augment is refused"
  ;;
*) fail "unknown case $case" ;;
esac
echo "PASS: $case"
