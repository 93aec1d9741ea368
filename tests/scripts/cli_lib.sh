# Helpers of the cli_*.sh tests (sourced): small synthetic datasets in the real file formats, and
# checks that an option was honoured (the run did what it says) or refused (clear error, non-zero
# exit, nothing loaded or trained).
fail() { echo "FAIL: $*"; exit 1; }

# 4 bytes, big-endian
be32() {
  printf "\\$(printf %03o $((($1 >> 24) & 255)))\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 8) & 255)))\\$(printf %03o $(($1 & 255)))"
}
# labels N: N bytes 0,1,...,9,0,1,...
labels() {
  i=0
  while [ "$i" -lt "$1" ]; do printf "\\$(printf %03o $((i % 10)))"; i=$((i + 1)); done
}
# idx_set DIR PREFIX N: DIR/PREFIX-images-idx3-ubyte and -labels-idx1-ubyte with N random images
idx_set() {
  { printf '\0\0\10\3'; be32 "$3"; be32 28; be32 28; head -c $(($3 * 784)) /dev/urandom; } >"$1/$2-images-idx3-ubyte"
  { printf '\0\0\10\1'; be32 "$3"; labels "$3"; } >"$1/$2-labels-idx1-ubyte"
}
# cifar_batch FILE N: N records (label, 3072 random bytes)
cifar_batch() {
  : >"$1"
  i=0
  while [ "$i" -lt "$2" ]; do
    { printf "\\$(printf %03o $((i % 10)))"; head -c 3072 /dev/urandom; } >>"$1"
    i=$((i + 1))
  done
}
# make_data DIR: DIR/mnist and DIR/fashion-mnist (96 training, 40 test images each) and
# DIR/cifar10 (5 x 8 training, 16 test records)
make_data() {
  for s in mnist fashion-mnist; do
    mkdir -p "$1/$s"
    idx_set "$1/$s" train 96
    idx_set "$1/$s" t10k 40
  done
  mkdir -p "$1/cifar10"
  for b in 1 2 3 4 5; do cifar_batch "$1/cifar10/data_batch_$b.bin" 8; done
  cifar_batch "$1/cifar10/test_batch.bin" 16
}

# run_out CMD...: runs CMD, its stdout+stderr in $out and its exit status in $rc
run_out() { rc=0; out=$("$@" 2>&1) || rc=$?; }
show() { printf '%s\n' "$out" | sed "s/^/  [$1] /"; }
# refused NAME REGEX CMD...: exit status 2, the message matches REGEX (grep -E), and no work was
# done (no "loading" line: refusals come before the data, the device and training)
refused() {
  name=$1 re=$2; shift 2
  run_out "$@"
  show "$name"
  [ "$rc" -eq 2 ] || fail "$name: exit status $rc, expected 2 (refused)"
  printf '%s\n' "$out" | grep -Eq -- "$re" || fail "$name: the message does not match: $re"
  printf '%s\n' "$out" | grep -Eq '^(loading |compiling kernels|epoch )' && fail "$name: refused only after work had started"
  echo "ok: $name refused"
}
# honoured NAME REGEX CMD...: exit status 0 and the output (or, with REGEX starting "log:", the
# last start record of $log) matches REGEX
honoured() {
  name=$1 re=$2; shift 2
  run_out "$@"
  show "$name"
  [ "$rc" -eq 0 ] || fail "$name: exit status $rc, expected 0 (honoured)"
  case "$re" in
  log:*) grep '"event":"start"' "$log" | tail -n 1 | grep -Eq -- "${re#log:}" || fail "$name: the log's start record does not match: ${re#log:}" ;;
  *) printf '%s\n' "$out" | grep -Eq -- "$re" || fail "$name: the output does not match: $re" ;;
  esac
  echo "ok: $name honoured"
}

# A CLI test's work folder: made afresh and entered, the environment cleared, synthetic data in
# D (make_data) and two specs, lin.spec (28x28x1) and lin32.spec (32x32x3).
cli_workdir() {
  rm -rf "$1"; mkdir -p "$1"; cd "$1"
  unset NITI_DATA NITI_DEVICE NITI_GEMM NITI_DOT_EMULATE
  make_data D
  printf 'input 28x28x1; flatten; linear 10\n' >lin.spec
  printf 'input 32x32x3; flatten; linear 10\n' >lin32.spec
}
