# safetensors reader/writer: round trips, strict rejections, atomic writes, mutation smoke test.
niti_add_test_exe(test_safetensors ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c)
add_test(NAME safetensors COMMAND test_safetensors ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(safetensors PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}")
