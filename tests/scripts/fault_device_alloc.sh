#!/bin/sh
# Fault test (e): a request larger than the OpenCL device's per-buffer limit fails before training
# with a message that names the tensor and its size. The limit is the device's own
# (CL_DEVICE_MAX_MEM_ALLOC_SIZE, the "max buffer" of `niti devices`; POCL allows 2 GiB on some
# machines, 8 GiB on others): with the largest batch (65536), the conv's channel count C is chosen
# so that layer 0's output (65536 x 28x28xC bytes), the first large buffer niti allocates, is just
# over it. The first CPU device is used, addressed by its P:D. Exit 77 (skipped) when there is no
# OpenCL CPU device.
#   usage: fault_device_alloc.sh NITI DATA
set -eu
niti=$1 data=$2
. "$(dirname "$0")/fault_lib.sh"
list=$("$niti" devices 2>&1) || fail "niti devices failed: $list"
# "P:D  platform: name" then "     type CPU, ..., max buffer N bytes"
dev=$(printf '%s\n' "$list" | awk '/^[0-9]+:[0-9]+ /{d=$1} /^ +type CPU,/{if (d != "") {print d; exit}}')
if [ -z "$dev" ]; then echo "SKIP: no OpenCL CPU device"; printf '%s\n' "$list"; exit 77; fi
max=$(printf '%s\n' "$list" | awk -v d="$dev" '$1 == d {f=1; next} f && /max buffer/ {
  sub(/.*max buffer /, ""); print $1; exit}')
case "$max" in '' | *[!0-9]*) fail "no 'max buffer N bytes' for device $dev in niti devices";; esac
[ "$max" -gt 0 ] || fail "device $dev reports a max buffer of 0 bytes"
batch=65536 per=$((batch * 28 * 28)) # bytes of layer 0's output per channel
ch=$((max / per + 1))
want=$((ch * per))
echo "device $dev: max buffer $max bytes; batch $batch, conv $ch -> layer 0 output $want bytes"
rc=0
out=$("$niti" train --device "$dev" --dataset mnist --data "$data" --batch "$batch" --train-limit 64 \
      --epochs 1 --quiet --model "input 28x28x1; conv $ch k3 p1; relu; flatten; linear 10" 2>&1) || rc=$?
echo "$out"
if echo "$out" | grep -Eqi "no OpenCL (platform|device)"; then echo "SKIP: no OpenCL device"; exit 77; fi
[ "$rc" -ne 0 ] || fail "the oversized request succeeded"
echo "$out" | grep -Eq "allocate $want bytes for layer 0 output" ||
  fail "the message does not name the tensor and its size ($want bytes for layer 0 output)"
echo "PASS"
