# Sourced by the scripts that run `niti conformance` on a device (port_oclgrind.sh,
# port_rusticl.sh, conformance_on_path.sh): one check of its output for all of them.
# conformance_ok OUT DEVICE_RE: OUT's "device:" line matches "^device: DEVICE_RE" (grep -E; the
# device name and the "[gemm: PATH]" it ran on), no golden case printed FAIL, and the output
# holds the summary "N passed, 0 failed". Prints the reason and returns 1 otherwise.
conformance_ok() {
  printf '%s\n' "$1" | grep -Eq "^device: $2" ||
    { echo "FAIL: not run where wanted (no 'device:' line matching '$2')"; return 1; }
  if printf '%s\n' "$1" | grep -q '^FAIL '; then echo "FAIL: golden cases failed"; return 1; fi
  printf '%s\n' "$1" | grep -Eq '^[0-9]+ passed, 0 failed$' || { echo "FAIL: no summary"; return 1; }
}
