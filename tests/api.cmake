# The C API example, on the reference backend and on the default device.
add_test(NAME api_example_ref COMMAND train_api_example ref ${CMAKE_CURRENT_BINARY_DIR}/api_ref.st)
add_test(NAME install_and_link
         COMMAND ${CMAKE_COMMAND} -D BUILD=${PROJECT_BINARY_DIR} -D SRC=${PROJECT_SOURCE_DIR}
                 -D WORK=${CMAKE_CURRENT_BINARY_DIR}/work/install
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/install.cmake)
set_tests_properties(api_example_ref install_and_link PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}")
