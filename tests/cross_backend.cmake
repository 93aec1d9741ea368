# ref vs the OpenCL CPU device (POCL in CI), step by step on real data: identical bytes.
# NITI_CROSS_DEVICE selects another device (e.g. "gpu") when configuring.
set(NITI_CROSS_DEVICE "cpu" CACHE STRING "OpenCL device compared with ref by the cross-backend tests")
niti_add_test_exe(test_cross_backend test_cross_backend.c)
if(EXISTS ${NITI_DATA_DIR}/mnist)
  add_test(NAME cross_backend_lenet_mnist
           COMMAND test_cross_backend ${NITI_CROSS_DEVICE} mnist ${NITI_DATA_DIR} 20 64 niti21 - lenet)
  add_test(NAME cross_backend_lenet_niti20_master_decay
           COMMAND test_cross_backend ${NITI_CROSS_DEVICE} mnist ${NITI_DATA_DIR} 6 32 niti20 master16,decay lenet)
  set_tests_properties(cross_backend_lenet_mnist cross_backend_lenet_niti20_master_decay
                       PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77 LABELS cl)
endif()
if(EXISTS ${NITI_DATA_DIR}/cifar10)
  add_test(NAME cross_backend_cifar_dropout_psr
           COMMAND test_cross_backend ${NITI_CROSS_DEVICE} cifar10 ${NITI_DATA_DIR} 6 16 niti21 psr
                   ${CMAKE_CURRENT_SOURCE_DIR}/data/cifar_small.spec)
  add_test(NAME cross_backend_cifar_grad_in_acc
           COMMAND test_cross_backend ${NITI_CROSS_DEVICE} cifar10 ${NITI_DATA_DIR} 6 32 niti21 -
                   ${CMAKE_CURRENT_SOURCE_DIR}/data/cifar_convs.spec)
  set_tests_properties(cross_backend_cifar_dropout_psr cross_backend_cifar_grad_in_acc
                       PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77 LABELS cl)
endif()
