# Model specs: parser, presets, shape inference (test_model) and `niti info`.
niti_add_test_exe(test_model ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c)
add_test(NAME model_parse COMMAND test_model)

add_test(NAME model_cli_info_lenet COMMAND niti info lenet)
set_tests_properties(model_cli_info_lenet PROPERTIES PASS_REGULAR_EXPRESSION "total: +430500 parameters")

add_test(NAME model_cli_info_list COMMAND niti info --list)
set_tests_properties(model_cli_info_list PROPERTIES PASS_REGULAR_EXPRESSION "vgg-small-9.*vgg16")

add_test(NAME model_cli_info_help COMMAND niti info --help)
set_tests_properties(model_cli_info_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: niti info")

add_test(NAME model_cli_info_inline COMMAND niti info --spec "input 8x8x3 ;conv 8 k3 p1;relu;maxpool 2;flatten;linear 10")
set_tests_properties(model_cli_info_inline PROPERTIES
  PASS_REGULAR_EXPRESSION "^input 8x8x3; conv 8 k3 p1; relu; maxpool 2; flatten; linear 10\n$")

# A spec whose conv leaves no output: exit status 2 and a line/column message on stderr.
add_test(NAME model_cli_info_bad COMMAND sh -c
  "out=$(\"$0\" info 'input 2x2x1; conv 3 k5 p0; linear 10' 2>&1 >/dev/null); rc=$?; echo \"$out\"; [ $rc -eq 2 ] && echo \"$out\" | grep -q 'line 1, column 14'"
  $<TARGET_FILE:niti>)
