niti_add_test_exe(test_checkpoint test_checkpoint.c)
add_test(NAME checkpoint_unit COMMAND test_checkpoint ${CMAKE_CURRENT_BINARY_DIR})
