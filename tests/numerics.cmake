niti_add_test_exe(test_numerics test_numerics.c)
add_test(NAME numerics COMMAND test_numerics)
