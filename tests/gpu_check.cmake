# tools/gpu_check.sh, the check prepared for a machine with a GPU, run here on the POCL CPU device
# with two paths and a short benchmark: device minutes are few, so the script itself must work.
if(EXISTS ${NITI_GOLDEN_DIR} AND EXISTS ${NITI_DATA_DIR}/mnist)
  add_test(NAME gpu_check_script
    COMMAND bash -c "out=$(mktemp -d) && ${PROJECT_SOURCE_DIR}/tools/gpu_check.sh $out/r && grep -q '\"tiled\":{\"status\":\"pass\"' $out/r/report.json && grep -q '\"dp4a\":{\"status\":\"unsupported\"' $out/r/report.json && grep -q '\"cross_backend\":\"pass\"' $out/r/report.json && grep -q '\"bench\":{' $out/r/report.json; r=$?; rm -rf $out; exit $r")
  set_tests_properties(gpu_check_script PROPERTIES LABELS "cl" TIMEOUT 900
    ENVIRONMENT "${NITI_TEST_ENV};NITI_GPU_DEVICE=cpu;NITI_GPU_CHECK_NO_BUILD=1;BUILD_DIR=${PROJECT_BINARY_DIR};SHARED=${NITI_SHARED_DIR};GPU_CHECK_PATHS=tiled dp4a;GPU_CHECK_BENCH_ARGS=--model lenet --repeats 1 --warmup 0 --steps 1")
endif()
