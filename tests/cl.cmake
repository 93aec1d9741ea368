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

# Not a test: rough timings of the conv kernels (tests/cl_bench.c; run by hand).
niti_add_test_exe(cl_bench ${CMAKE_CURRENT_SOURCE_DIR}/cl_bench.c)
