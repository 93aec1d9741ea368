# The fp32 baseline: sgemm/conv/dropout/init units and a finite-difference gradient check on the
# plain-C path, CLBlast against ref (77 = no OpenCL device: skipped), and a short LeNet run on
# real MNIST (skipped if the data folder is absent).
niti_add_test_exe(test_fp32 ${CMAKE_CURRENT_SOURCE_DIR}/test_fp32.c)
add_test(NAME fp32_unit COMMAND test_fp32 unit)
add_test(NAME fp32_grad COMMAND test_fp32 grad)
set_tests_properties(fp32_unit fp32_grad PROPERTIES LABELS fp32 TIMEOUT 300)
add_test(NAME fp32_cl COMMAND test_fp32 cl)
set_tests_properties(fp32_cl PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77
                     LABELS fp32 TIMEOUT 900)
if(EXISTS ${NITI_DATA_DIR}/mnist)
  add_test(NAME fp32_mnist_ref COMMAND test_fp32 mnist ${NITI_DATA_DIR} ref)
  set_tests_properties(fp32_mnist_ref PROPERTIES SKIP_RETURN_CODE 77 LABELS "fp32;train"
                       TIMEOUT 900)
endif()
