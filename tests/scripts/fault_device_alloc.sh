#!/bin/sh
# Fault test (e): a request larger than the OpenCL device's per-buffer limit (batch 65536 of a
# 28x28x64 activation: 3.3 GB; POCL allows 2 GiB here) fails before training with a message that
# names the tensor and its size. Exit 77 (skipped) when there is no OpenCL device.
#   usage: fault_device_alloc.sh NITI DATA
set -eu
niti=$1 data=$2
. "$(dirname "$0")/fault_lib.sh"
rc=0
out=$("$niti" train --device cpu --dataset mnist --data "$data" --batch 65536 --train-limit 64 \
      --epochs 1 --quiet --model "input 28x28x1; conv 64 k3 p1; relu; flatten; linear 10" 2>&1) || rc=$?
echo "$out"
if echo "$out" | grep -Eqi "no OpenCL (platform|device)"; then echo "SKIP: no OpenCL device"; exit 77; fi
[ "$rc" -ne 0 ] || fail "the oversized request succeeded"
echo "$out" | grep -Eq "allocate 3288334336 bytes for layer 0 output" || fail "the message does not name the tensor and its size"
echo "PASS"
