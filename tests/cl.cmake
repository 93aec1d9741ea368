# OpenCL backend tests: every op against the reference, the runtime (cache, build log, device
# choice) and the golden vectors on POCL. Exit code 77 means "no OpenCL device": skipped.
niti_add_test_exe(test_cl_ops ${CMAKE_CURRENT_SOURCE_DIR}/test_cl_ops.c)
add_test(NAME cl_ops COMMAND test_cl_ops)
set_tests_properties(cl_ops PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77
                     TIMEOUT 900)

niti_add_test_exe(test_cl_runtime ${CMAKE_CURRENT_SOURCE_DIR}/cl_runtime.c)
target_include_directories(test_cl_runtime PRIVATE ${PROJECT_BINARY_DIR}/generated)
target_compile_definitions(test_cl_runtime PRIVATE CL_TARGET_OPENCL_VERSION=120)
target_link_libraries(test_cl_runtime PRIVATE OpenCL::OpenCL)
add_test(NAME cl_runtime COMMAND test_cl_runtime)
set_tests_properties(cl_runtime PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77
                     TIMEOUT 600)

add_test(NAME cli_devices COMMAND niti devices)
set_tests_properties(cli_devices PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}"
                     PASS_REGULAR_EXPRESSION "ref +plain-C reference")

# The golden vectors on the OpenCL CPU device (POCL here and in CI).
add_test(NAME conformance_pocl COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(conformance_pocl PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}"
                     PASS_REGULAR_EXPRESSION "[^0-9]0 failed" FAIL_REGULAR_EXPRESSION "FAIL ")

# Every conv/linear GEMM path this machine supports, forced with NITI_GEMM: the ops byte for byte
# against ref and the golden vectors. vnni only where the host CPU has avx512_vnni (the backend
# also runs a probe kernel; a forced vnni that cannot run is an error, so the test fails loudly).
# The GPU dot-product paths of the tiled kernels, dp4a and khr-dot, cannot run on POCL for real:
# NITI_DOT_EMULATE=1 (a testing aid) swaps the instruction for a portable function of the same
# semantics and skips the capability check (the probe kernel still runs), so their packed kernels
# are checked here all the same, and the device name must say "emulated".
set(NITI_CL_GEMM_PATHS portable tiled dp4a khr-dot)
if(EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo NITI_CPUINFO)
  if(NITI_CPUINFO MATCHES "avx512_vnni")
    list(INSERT NITI_CL_GEMM_PATHS 0 vnni)
  endif()
endif()
foreach(path ${NITI_CL_GEMM_PATHS})
  set(env "${NITI_TEST_ENV};NITI_GEMM=${path}")
  set(name_re "gemm: ${path}")
  if(path STREQUAL "dp4a" OR path STREQUAL "khr-dot")
    string(APPEND env ";NITI_DOT_EMULATE=1")
    set(name_re "gemm: ${path}, emulated\\]")
  endif()
  add_test(NAME cl_ops_${path} COMMAND test_cl_ops)
  set_tests_properties(cl_ops_${path} PROPERTIES ENVIRONMENT "${env};NITI_TEST_QUICK=1"
                       SKIP_RETURN_CODE 77 TIMEOUT 900)
  add_test(NAME conformance_pocl_${path}
           COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
  set_tests_properties(conformance_pocl_${path} PROPERTIES ENVIRONMENT "${env}"
                       PASS_REGULAR_EXPRESSION "${name_re}.*[^0-9]0 failed"
                       FAIL_REGULAR_EXPRESSION "FAIL ")
endforeach()
# Without the emulation, forcing them on the CPU device is a clear error. dp4a is NVIDIA's; a CPU
# device that does report cl_khr_integer_dot_product (newer POCL) must pass the golden cases.
add_test(NAME cl_gemm_dp4a_unavailable
         COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(cl_gemm_dp4a_unavailable PROPERTIES
                     ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=dp4a;NITI_DOT_EMULATE="
                     PASS_REGULAR_EXPRESSION
                     "NITI_GEMM=dp4a cannot run on this device: the device does not report cl_nv_device_attribute_query")
add_test(NAME cl_gemm_khr-dot_unavailable
         COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(cl_gemm_khr-dot_unavailable PROPERTIES
                     ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=khr-dot;NITI_DOT_EMULATE="
                     PASS_REGULAR_EXPRESSION
                     "NITI_GEMM=khr-dot cannot run on this device: the device does not report cl_khr_integer_dot_product|gemm: khr-dot\\].*[^0-9]0 failed"
                     FAIL_REGULAR_EXPRESSION "FAIL ")
# A forced path that cannot run is a clear error, never a silent fallback.
add_test(NAME cl_gemm_bad_name COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(cl_gemm_bad_name PROPERTIES ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=fastest"
                     PASS_REGULAR_EXPRESSION "NITI_GEMM=\"fastest\"")

# Not a test: rough timings of the conv kernels (tests/cl_bench.c; run by hand).
niti_add_test_exe(cl_bench ${CMAKE_CURRENT_SOURCE_DIR}/cl_bench.c)

# The GPU paths' kernels compiled for NVIDIA targets without a GPU (tools/ptx_check.sh): the
# program with the tiled and dp4a options, through clang/libclc to PTX and NVIDIA's ptxas.
# Skipped where LLVM's tools, libclc or ptxas are missing.
add_test(NAME ptx_nvidia COMMAND bash ${PROJECT_SOURCE_DIR}/tools/ptx_check.sh)
set_tests_properties(ptx_nvidia PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS cl)
