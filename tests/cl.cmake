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
set(NITI_CL_GEMM_PATHS portable tiled)
if(EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo NITI_CPUINFO)
  if(NITI_CPUINFO MATCHES "avx512_vnni")
    list(INSERT NITI_CL_GEMM_PATHS 0 vnni)
  endif()
endif()
foreach(path ${NITI_CL_GEMM_PATHS})
  add_test(NAME cl_ops_${path} COMMAND test_cl_ops)
  set_tests_properties(cl_ops_${path} PROPERTIES
                       ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=${path};NITI_TEST_QUICK=1"
                       SKIP_RETURN_CODE 77 TIMEOUT 900)
  add_test(NAME conformance_pocl_${path}
           COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
  set_tests_properties(conformance_pocl_${path} PROPERTIES
                       ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=${path}"
                       PASS_REGULAR_EXPRESSION "gemm: ${path}.*[^0-9]0 failed"
                       FAIL_REGULAR_EXPRESSION "FAIL ")
endforeach()
# A forced path that cannot run is a clear error, never a silent fallback.
add_test(NAME cl_gemm_bad_name COMMAND $<TARGET_FILE:niti> conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(cl_gemm_bad_name PROPERTIES ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=fastest"
                     PASS_REGULAR_EXPRESSION "NITI_GEMM=\"fastest\"")

# Not a test: rough timings of the conv kernels (tests/cl_bench.c; run by hand).
niti_add_test_exe(cl_bench ${CMAKE_CURRENT_SOURCE_DIR}/cl_bench.c)
