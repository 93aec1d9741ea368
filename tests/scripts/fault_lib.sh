# Helpers shared by the fault_*.sh tests (sourced).
fail() { echo "FAIL: $*"; exit 1; }
# expect_fail NAME REGEX CMD...: CMD must exit non-zero and print (stdout+stderr) REGEX (grep -E).
expect_fail() {
  name=$1 re=$2; shift 2
  rc=0; out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" | sed "s/^/  [$name] /"
  [ "$rc" -ne 0 ] || fail "$name: exit status 0, expected a failure"
  printf '%s\n' "$out" | grep -Eq -- "$re" || fail "$name: output does not match: $re"
  echo "ok: $name (exit $rc)"
}
