#!/usr/bin/env bash
# Data-parallel training (mpirun -np R niti train) against one process, and its faults.
#   mpi_train.sh MODE NITI MPIEXEC DATA WORK [DEVICE]
# MODE:
#   same NP ARGS...   NP processes and one process train with ARGS (plus --save); the saved
#                     weights must be byte for byte the same (and a different seed must not be)
#   everystep         the weights after each of the first 6 steps, 3 processes against one
#   resume            a run split over 2, then 3 processes, then one, equals one process's
#   kill              a rank killed with SIGKILL ends the job, non-zero, within a time limit, and
#                     the last checkpoint is intact
#   mismatch          ranks started with different options stop with an error naming the rank
#   baddevice         a rank whose device does not open stops the job, naming the rank
#   baddata           a rank without its data folder, or with other data, stops the job
# Every process runs one POCL thread (the machine's cores are shared by the ranks).
set -euo pipefail
mode=$1 niti=$2 mpiexec=$3 data=$4 work=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
export POCL_MAX_PTHREAD_COUNT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_orte_base_help_aggregate=0 # Open MPI 4's aggregated help messages garble aborts
rm -rf "$work"
mkdir -p "$work"
cd "$work"
mpi() { "$mpiexec" --oversubscribe "$@"; }
same() { python3 "$here/st_same_weights.py" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
lenet=(train --dataset mnist --data "$data" --train-limit 300 --test-limit 100 --batch 50 --quiet
       --run-id mpi-test)

case $mode in
same)
  np=$1
  shift
  "$niti" "$@" --save "$work/one.st" > one.out
  mpi -np "$np" "$niti" "$@" --save "$work/many.st" > many.out
  same one.st many.st || fail "$np processes saved other weights than one process"
  # the last line (test accuracy) must agree too, and only rank 0 prints
  [ "$(grep -c 'test accuracy' many.out)" = 1 ] || fail "expected one 'test accuracy' line: $(cat many.out)"
  [ "$(tail -1 one.out | sed 's/, [0-9.]* s on .*//')" = "$(tail -1 many.out | sed 's/, [0-9.]* s on .*//')" ] ||
    fail "different results: $(tail -1 one.out) / $(tail -1 many.out)"
  # negative control: the comparison can fail
  mpi -np "$np" "$niti" "$@" --seed 99 --save "$work/other.st" > /dev/null
  if same one.st other.st > /dev/null; then fail "seed 99 gave the same weights"; fi
  echo "ok: $np processes = one process ($*)"
  ;;
resume)
  dev=$1
  args=("${lenet[@]}" --device "$dev" --epochs 2)
  "$niti" "${args[@]}" --save "$work/full.st" > /dev/null
  mpi -np 2 "$niti" "${args[@]}" --save "$work/split.st" --max-steps 3 > /dev/null 2>&1
  mpi -np 3 "$niti" train --resume "$work/split.st" --max-steps 8 --quiet > /dev/null 2>&1
  "$niti" train --resume "$work/split.st" --quiet > /dev/null 2>&1
  same full.st split.st || fail "a run resumed over 2 -> 3 -> 1 processes differs"
  echo "ok: resumed across 2, 3 and 1 processes"
  ;;
everystep)
  # the weights after each step 1..6 of an epoch (the last batch is short), 3 processes vs one
  dev=$1
  for k in 1 2 3 4 5 6; do
    "$niti" "${lenet[@]}" --mu 3 --device "$dev" --max-steps $k --save "$work/one$k.st" > /dev/null 2>&1
    mpi -np 3 "$niti" "${lenet[@]}" --mu 3 --device "$dev" --max-steps $k --save "$work/many$k.st" \
        > /dev/null 2>&1
    same "one$k.st" "many$k.st" || fail "the weights differ after step $k"
  done
  echo "ok: the same weights after every step"
  ;;
kill)
  dev=$1
  # many short epochs; a checkpoint after each
  "$mpiexec" --oversubscribe -np 2 "$niti" train --dataset mnist --data "$data" --train-limit 100 --test-limit 20 \
      --batch 50 --epochs 1000 --device "$dev" --save "$work/k.st" > kill.out 2>&1 &
  job=$!
  for _ in $(seq 600); do [ -f k.st ] && break; sleep 0.1; done
  [ -f k.st ] || { kill -9 $job; fail "no checkpoint appeared: $(cat kill.out)"; }
  sleep 1
  victim=
  for p in $(pgrep -P $job); do
    if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
  done
  [ -n "$victim" ] || { kill -9 $job; fail "rank 1 not found among the children of mpirun"; }
  kill -9 "$victim"
  t0=$(date +%s)
  for _ in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then kill -9 $job; fail "the job still runs 30 s after rank 1 was killed"; fi
  set +e; wait $job; rc=$?; set -e
  [ $rc != 0 ] || fail "the job exited 0 after rank 1 was killed"
  grep -q "rank 1" kill.out || fail "no message names rank 1: $(cat kill.out)"
  # no rank may outlive the job (give the system a moment to reap them)
  for _ in $(seq 50); do
    leftover=$(pgrep -f -- "--save $work/k.st" || true)
    [ -z "$leftover" ] && break
    sleep 0.1
  done
  if [ -n "$leftover" ]; then
    ps -o pid,stat,etime,args -p $leftover >&2 || true
    kill -9 $leftover 2>/dev/null || true
    fail "processes left running: $leftover"
  fi
  "$niti" info k.st > info.out || fail "the last checkpoint is not intact: $(cat info.out)"
  echo "ok: killed rank 1; the job ended with $rc in $(( $(date +%s) - t0 )) s; checkpoint intact"
  ;;
mismatch)
  args=("${lenet[@]}" --device ref)
  set +e
  timeout 60 "$mpiexec" --oversubscribe -np 1 "$niti" "${args[@]}" : -np 1 "$niti" "${args[@]}" --batch 40 > mm.out 2>&1
  rc=$?
  set -e
  [ $rc != 0 ] && [ $rc != 124 ] || fail "exit $rc: $(cat mm.out)"
  grep -q "rank 1's model or options" mm.out || fail "no clear message: $(cat mm.out)"
  echo "ok: different options refused ($(grep -m1 "rank 1's" mm.out))"
  ;;
baddevice)
  args=("${lenet[@]}")
  set +e
  timeout 60 "$mpiexec" --oversubscribe -np 1 "$niti" "${args[@]}" --device ref : \
      -np 1 "$niti" "${args[@]}" --device no-such-device > bd.out 2>&1
  rc=$?
  set -e
  [ $rc != 0 ] && [ $rc != 124 ] || fail "exit $rc: $(cat bd.out)"
  grep -q "niti: rank 1: error: .*no-such-device" bd.out || fail "no message naming rank 1: $(cat bd.out)"
  echo "ok: a rank without its device ends the job ($(grep -m1 'rank 1: error' bd.out | cut -c1-100)...)"
  ;;
baddata)
  # rank 1 without its data folder: an error naming rank 1
  args=("${lenet[@]}" --device ref)
  set +e
  timeout 60 "$mpiexec" --oversubscribe -np 1 "$niti" "${args[@]}" : \
      -np 1 "$niti" "${args[@]}" --data "$work/no-such-folder" > nd.out 2>&1
  rc=$?
  set -e
  [ $rc != 0 ] && [ $rc != 124 ] || fail "exit $rc: $(cat nd.out)"
  grep -q "niti: rank 1: error: .*no-such-folder" nd.out || fail "no message naming rank 1: $(cat nd.out)"
  # rank 1 with a copy of MNIST whose first training label differs: the start-up check
  mkdir -p other/mnist
  cp "$data"/mnist/t10k-* "$data"/mnist/train-images-idx3-ubyte.gz other/mnist/
  python3 - "$data/mnist/train-labels-idx1-ubyte.gz" other/mnist/train-labels-idx1-ubyte.gz <<'PY'
import gzip, sys
b = bytearray(gzip.open(sys.argv[1]).read())
b[8] = (b[8] + 1) % 10
gzip.open(sys.argv[2], "wb").write(bytes(b))
PY
  set +e
  timeout 60 "$mpiexec" --oversubscribe -np 1 "$niti" "${args[@]}" : \
      -np 1 "$niti" "${args[@]}" --data "$work/other" > dd.out 2>&1
  rc=$?
  set -e
  [ $rc != 0 ] && [ $rc != 124 ] || fail "exit $rc: $(cat dd.out)"
  grep -q "rank 1's dataset .* differs from rank 0's" dd.out || fail "no clear message: $(cat dd.out)"
  echo "ok: a rank without its data, and a rank with other data, stop the job"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
