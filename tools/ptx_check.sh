#!/usr/bin/env bash
# Static check of the GPU kernels for NVIDIA targets, for machines without an NVIDIA GPU: the
# program niti builds (cl/*.cl in the runtime's order: common.cl and philox.cl first) is compiled
# by clang for nvptx64, linked with libclc's nvptx64 builtins, lowered to PTX by llc and assembled
# by NVIDIA's ptxas, with the options of each GEMM path a GPU can take (tiled, dp4a) and each
# tile configuration. This proves that the OpenCL C and the dp4a inline PTX are accepted by an
# NVPTX compiler and by ptxas for the given architectures; it does not run anything (the OpenCL
# compiler of NVIDIA's driver is another front end, and no result is checked).
#   tools/ptx_check.sh [OUTDIR]        # default: a temporary folder
# Needs clang-N, llvm-link-N, opt-N and llc-N of one LLVM version N that can read libclc's
# nvptx64--nvidiacl.bc, i.e. the version libclc was built with or a newer one (Debian: libclc-15
# with clang-15 llvm-15; an older llvm-link, such as 14 for a libclc of LLVM 15, cannot read it),
# and ptxas (a CUDA toolkit, on PATH or in /usr/local/cuda/bin). Exit 77 when something is missing
# (CTest: skipped), with the reason.
# NITI_PTX_LLVM: the LLVM versions to try, newest first (default "19 18 17 16 15 14").
# NITI_PTX_ARCHS: the ptxas architectures (default "sm_61 sm_75 sm_80 sm_90"; those this ptxas
# does not know, such as sm_61 in CUDA 13, are reported and left out; at least one must remain).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "ptx_check: skipped: $*"; exit 77; }
PTXAS=$(command -v ptxas || true)
[ -z "$PTXAS" ] && [ -x /usr/local/cuda/bin/ptxas ] && PTXAS=/usr/local/cuda/bin/ptxas
[ -n "$PTXAS" ] || skip "no ptxas (CUDA toolkit) on PATH or in /usr/local/cuda/bin"
clcs=""
for d in /usr/lib/clc /usr/share/clc /usr/lib/llvm-*/lib/clc; do
  [ -f "$d/nvptx64--nvidiacl.bc" ] && clcs="$clcs $d/nvptx64--nvidiacl.bc"
done
[ -n "$clcs" ] || skip "no libclc nvptx64--nvidiacl.bc (Debian: apt-get install libclc-15)"
# The LLVM that built each libclc (its llvm.ident, e.g. "clang version 15.0.6"), for the messages.
clc_llvm() { grep -a -o -m1 'clang version [0-9][0-9.]*' "$1" | head -1 | sed 's/clang version //'; }
# The newest LLVM version with all four tools whose llvm-link reads a libclc: bitcode is read by
# its own LLVM version and newer ones only, so tools older than libclc's LLVM are never used.
V="" CLC="" why=""
for n in ${NITI_PTX_LLVM:-19 18 17 16 15 14}; do
  missing=""
  for t in clang llvm-link opt llc; do command -v $t-$n >/dev/null || missing="$missing $t-$n"; done
  if [ -n "$missing" ]; then why="$why; LLVM $n: no$missing"; continue; fi
  for c in $clcs; do
    if llvm-link-$n "$c" -o /dev/null 2>/dev/null; then V=$n CLC=$c; break 2; fi
    why="$why; LLVM $n cannot read $c (built by LLVM $(clc_llvm "$c"))"
  done
done
[ -n "$V" ] || skip "no LLVM toolchain matches libclc${why} (install clang-N, llvm-N for the LLVM N of libclc; Debian: clang-15 llvm-15 libclc-15)"

out=${1:-}
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
prog="$out/program.cl"
cat cl/common.cl cl/philox.cl >"$prog"
for f in cl/*.cl; do
  case "$f" in cl/common.cl | cl/philox.cl) ;; *) cat "$f" >>"$prog" ;; esac
done

printf '.version 6.0\n.target sm_61\n.address_size 64\n' >"$out/probe.ptx"
archs=""
for a in ${NITI_PTX_ARCHS:-sm_61 sm_75 sm_80 sm_90}; do
  msg=$("$PTXAS" -arch="$a" -c "$out/probe.ptx" -o "$out/probe.o" 2>&1 || true)
  if [[ "$msg" == *"not defined for option"* ]]; then
    echo "ptx_check: this ptxas does not know $a: left out"
  else
    archs="$archs $a"
  fi
done
[ -n "$archs" ] || skip "this ptxas knows none of the architectures"
echo "ptx_check: LLVM $V, $CLC (built by LLVM $(clc_llvm "$CLC")), $("$PTXAS" --version | tail -1)"

# the tile configurations that ocl_build_tiles (src/backends/opencl/gemm_tiled.c) tries, read
# from its table so the two cannot drift apart: one "TM TN TK RM RN" per line
readarray -t tiles < <(sed -n 's/.*niti_cl_tiles configs\[\] = {\(.*\)};.*/\1/p' src/backends/opencl/gemm_tiled.c |
  grep -o '{[0-9, ]*}' | tr -d '{},')
if [ "${#tiles[@]}" -eq 0 ]; then
  echo "FAIL: no tile configurations found in src/backends/opencl/gemm_tiled.c (niti_cl_tiles configs[])"
  exit 1
fi

fail=0
for path in tiled dp4a; do
  popt=""
  [ "$path" = dp4a ] && popt="-DNITI_DOT_DP4A=1"
  for t in "${tiles[@]}"; do
    set -- $t
    tag="$path-$1x$2"
    opts="-cl-std=CL1.2 -DNITI_TM=$1 -DNITI_TN=$2 -DNITI_TK=$3 -DNITI_RM=$4 -DNITI_RN=$5 -DNITI_RED_WG=256 $popt"
    if ! clang-$V -x cl -Xclang -finclude-default-header -target nvptx64-nvidia-nvcl -O2 $opts \
           -emit-llvm -c -o "$out/$tag.bc" "$prog" 2>"$out/$tag.log" ||
       ! llvm-link-$V --only-needed "$out/$tag.bc" "$CLC" -o "$out/$tag.l.bc" 2>>"$out/$tag.log" ||
       ! opt-$V -O2 "$out/$tag.l.bc" -o "$out/$tag.o.bc" 2>>"$out/$tag.log" ||
       ! llc-$V -mcpu=sm_61 -mattr=+ptx60 "$out/$tag.o.bc" -o "$out/$tag.ptx" 2>>"$out/$tag.log"; then
      echo "FAIL $tag: compile ($opts)"; grep -v "different target triples" "$out/$tag.log" | head -20
      fail=1; continue
    fi
    entries=$(grep -c '^\.entry' "$out/$tag.ptx" || true)
    dots=$(grep -c 'dp4a\.s32\.s32' "$out/$tag.ptx" || true)
    if [ "$path" = dp4a ] && [ "$dots" -eq 0 ]; then
      echo "FAIL $tag: no dp4a instruction in the PTX"; fail=1; continue
    fi
    if [ "$path" = tiled ] && [ "$dots" -ne 0 ]; then
      echo "FAIL $tag: dp4a in the tiled path's PTX"; fail=1; continue
    fi
    for a in $archs; do
      if ! "$PTXAS" -arch="$a" -c "$out/$tag.ptx" -o "$out/$tag.$a.o" 2>"$out/$tag.$a.log"; then
        echo "FAIL $tag: ptxas -arch=$a"; head -20 "$out/$tag.$a.log"; fail=1; continue
      fi
      echo "ok   $tag $a: $entries kernels, $dots dp4a"
    done
  done
done
[ $fail = 0 ] && echo "ptx_check: all passed" || echo "ptx_check: FAILED"
exit $fail
