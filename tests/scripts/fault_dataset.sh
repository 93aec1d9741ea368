#!/bin/sh
# Fault test (a): damaged MNIST copies (truncated gzip, corrupted gzip, truncated raw file, wrong
# magic, label out of range) make `niti train --data DIR` fail with a message that names the
# damaged file and the problem.   usage: fault_dataset.sh NITI DATA WORK [unused]
set -eu
niti=$1 data=$2 work=$3
. "$(dirname "$0")/fault_lib.sh"
rm -rf "$work"; mkdir -p "$work"
src=$data/mnist
run() { "$niti" train --device ref --dataset mnist --data "$1" --model "input 28x28x1; flatten; linear 10" --train-limit 64 --test-limit 64 --epochs 1 --quiet; }
fresh() { # fresh DIR: a good copy of MNIST (gzip files as shipped) in DIR/mnist
  mkdir -p "$work/$1/mnist"; cp "$src"/*.gz "$work/$1/mnist/"; chmod u+w "$work/$1/mnist"/*
}
# the undamaged copy trains
fresh good
run "$work/good" >/dev/null || fail "the undamaged copy does not train"
echo "ok: undamaged copy"

fresh trunc_gz; f=$work/trunc_gz/mnist/train-images-idx3-ubyte.gz
head -c 4000000 "$f" >"$f.part" && mv "$f.part" "$f"
expect_fail truncated_gzip "train-images-idx3-ubyte\.gz: .*truncated" run "$work/trunc_gz"

fresh corrupt_gz; f=$work/corrupt_gz/mnist/train-images-idx3-ubyte.gz
head -c 64 /dev/zero | tr '\000' '\377' | dd of="$f" bs=1 seek=2000000 conv=notrunc 2>/dev/null
expect_fail corrupt_gzip "train-images-idx3-ubyte\.gz: .*(corrupt|invalid|incorrect)" run "$work/corrupt_gz"

fresh crc_gz; f=$work/crc_gz/mnist/t10k-labels-idx1-ubyte.gz   # CRC-32 of the trailer
n=$(wc -c <"$f"); printf '\125' | dd of="$f" bs=1 seek=$((n - 8)) conv=notrunc 2>/dev/null
expect_fail gzip_crc "t10k-labels-idx1-ubyte\.gz: .*(corrupt|incorrect|check)" run "$work/crc_gz"

fresh trunc_raw; d=$work/trunc_raw/mnist
gzip -dc "$d/t10k-labels-idx1-ubyte.gz" | head -c 5000 >"$d/t10k-labels-idx1-ubyte"; rm "$d/t10k-labels-idx1-ubyte.gz"
expect_fail truncated_raw "t10k-labels-idx1-ubyte: file is truncated: expected 10008 bytes .* found 5000" run "$work/trunc_raw"

fresh magic; d=$work/magic/mnist
gzip -dc "$d/train-labels-idx1-ubyte.gz" >"$d/train-labels-idx1-ubyte"; rm "$d/train-labels-idx1-ubyte.gz"
printf '\003' | dd of="$d/train-labels-idx1-ubyte" bs=1 seek=3 conv=notrunc 2>/dev/null
expect_fail bad_magic "train-labels-idx1-ubyte: bad magic 0x00000803.*this is an images file" run "$work/magic"

fresh label; d=$work/label/mnist
gzip -dc "$d/train-labels-idx1-ubyte.gz" >"$d/train-labels-idx1-ubyte"; rm "$d/train-labels-idx1-ubyte.gz"
printf '\014' | dd of="$d/train-labels-idx1-ubyte" bs=1 seek=1007 conv=notrunc 2>/dev/null
expect_fail label_range "train-labels-idx1-ubyte: label 12 of image 999 is out of range 0\.\.9" run "$work/label"

fresh empty; : >"$work/empty/mnist/t10k-images-idx3-ubyte"; rm "$work/empty/mnist/t10k-images-idx3-ubyte.gz"
expect_fail empty_file "t10k-images-idx3-ubyte: 0 bytes, shorter than the 16-byte IDX image header" run "$work/empty"

rm -rf "$work"
echo "PASS: every damaged dataset file was reported by name"
