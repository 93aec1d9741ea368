# The source layout (README, "How it works"): includes point down the layers of src/.
add_test(NAME layers COMMAND bash ${PROJECT_SOURCE_DIR}/tools/check_layers.sh ${PROJECT_SOURCE_DIR}/src)
set_tests_properties(layers PROPERTIES LABELS "host")
# The check can fail: a copy of core/ with one upward include (core -> cli) must be refused.
add_test(NAME layers_detects_upward
  COMMAND bash -c "d=$(mktemp -d); mkdir -p $d/core; printf '#include \"cli/cli.h\"\\n' > $d/core/x.c; bash ${PROJECT_SOURCE_DIR}/tools/check_layers.sh $d; r=$?; rm -rf $d; test $r = 1")
set_tests_properties(layers_detects_upward PROPERTIES LABELS "host")
