# Training-log plots (src/plot.c, `niti plot`): the library (test_plot unit), figures written by
# the CLI and checked by test_plot, and bad inputs (exit status 2 and the message).
niti_add_test_exe(test_plot ${CMAKE_CURRENT_SOURCE_DIR}/test_plot.c)
target_link_libraries(test_plot PRIVATE ZLIB::ZLIB)

set(NITI_PLOT_DATA ${CMAKE_CURRENT_SOURCE_DIR}/data)
set(NITI_PLOT_OUT ${CMAKE_CURRENT_BINARY_DIR}/plot-out)
file(MAKE_DIRECTORY ${NITI_PLOT_OUT} ${NITI_PLOT_OUT}/unit)
set(NITI_PLOT_LOGS ${NITI_PLOT_DATA}/plot_int8.jsonl ${NITI_PLOT_DATA}/plot_fp32.jsonl)

# unit gets a folder of its own: it checks that no temporary file stays behind there.
add_test(NAME plot_unit COMMAND test_plot unit ${NITI_PLOT_DATA} ${NITI_PLOT_OUT}/unit)

# SVG: both labels (from the start events), well formed enough.
add_test(NAME plot_cli_svg COMMAND niti plot ${NITI_PLOT_LOGS} -o ${NITI_PLOT_OUT}/runs.svg
  --title "LeNet on MNIST: int8 vs fp32")
add_test(NAME plot_cli_svg_check COMMAND test_plot svg ${NITI_PLOT_OUT}/runs.svg
  "int8 lenet mnist" "fp32 lenet mnist" "LeNet on MNIST: int8 vs fp32")
set_tests_properties(plot_cli_svg PROPERTIES FIXTURES_SETUP plot_svg)
set_tests_properties(plot_cli_svg_check PROPERTIES FIXTURES_REQUIRED plot_svg)

# --labels overrides the start events' labels.
add_test(NAME plot_cli_labels COMMAND niti plot ${NITI_PLOT_LOGS} -o ${NITI_PLOT_OUT}/labels.svg
  --labels "integer,float")
add_test(NAME plot_cli_labels_check COMMAND test_plot svg ${NITI_PLOT_OUT}/labels.svg
  ">integer<" ">float<")
set_tests_properties(plot_cli_labels PROPERTIES FIXTURES_SETUP plot_labels)
set_tests_properties(plot_cli_labels_check PROPERTIES FIXTURES_REQUIRED plot_labels)

# PNG: signature, IHDR size, chunk CRCs; default size and --size.
add_test(NAME plot_cli_png COMMAND niti plot ${NITI_PLOT_LOGS} -o ${NITI_PLOT_OUT}/runs.png)
add_test(NAME plot_cli_png_check COMMAND test_plot png ${NITI_PLOT_OUT}/runs.png 1200 500)
set_tests_properties(plot_cli_png PROPERTIES FIXTURES_SETUP plot_png)
set_tests_properties(plot_cli_png_check PROPERTIES FIXTURES_REQUIRED plot_png)
add_test(NAME plot_cli_png_size COMMAND niti plot ${NITI_PLOT_LOGS} -o ${NITI_PLOT_OUT}/small.PNG
  --size 800x400)
add_test(NAME plot_cli_png_size_check COMMAND test_plot png ${NITI_PLOT_OUT}/small.PNG 800 400)
set_tests_properties(plot_cli_png_size PROPERTIES FIXTURES_SETUP plot_png_size)
set_tests_properties(plot_cli_png_size_check PROPERTIES FIXTURES_REQUIRED plot_png_size)

add_test(NAME plot_cli_help COMMAND niti plot --help)
set_tests_properties(plot_cli_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: niti plot LOG")

# niti plot ARGS... must exit with status RC and print PATTERN (grep -E) on stderr; the output
# file must not exist afterwards.
function(niti_plot_expect name rc pattern out)
  add_test(NAME ${name} COMMAND sh -c
    "rm -f \"$1\"; out=$(\"$0\" plot -o \"$@\" 2>&1 >/dev/null); rc=$?; echo \"$out\"; \
[ $rc -eq ${rc} ] && echo \"$out\" | grep -Eq -- '${pattern}' && [ ! -e \"$1\" ]"
    $<TARGET_FILE:niti> ${out} ${ARGN})
endfunction()

niti_plot_expect(plot_err_missing 2 "no_such_log\\.jsonl: cannot open" ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_DATA}/plot_int8.jsonl ${NITI_PLOT_DATA}/no_such_log.jsonl)
niti_plot_expect(plot_err_json 2 "plot_bad_json\\.jsonl:2: not valid JSON" ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_DATA}/plot_bad_json.jsonl)
niti_plot_expect(plot_err_no_epochs 2 "plot_no_epochs\\.jsonl: no epoch records"
  ${NITI_PLOT_OUT}/err.png ${NITI_PLOT_DATA}/plot_no_epochs.jsonl)
niti_plot_expect(plot_err_extension 2 "unknown output format" ${NITI_PLOT_OUT}/err.pdf
  ${NITI_PLOT_LOGS})
niti_plot_expect(plot_err_labels 2 "--labels has 3 entries but 2 LOGs" ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_LOGS} --labels a,b,c)
niti_plot_expect(plot_err_no_log 2 "no LOG given" ${NITI_PLOT_OUT}/err.svg)
niti_plot_expect(plot_err_option 2 "unknown option .--colour." ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_LOGS} --colour red)
niti_plot_expect(plot_err_size 2 "--size .10x10.: expected WxH" ${NITI_PLOT_OUT}/err.png
  ${NITI_PLOT_LOGS} --size 10x10)
# A folder that does not exist: the write fails (exit 1) and leaves nothing.
niti_plot_expect(plot_err_write 1 "cannot create a temporary file" ${NITI_PLOT_OUT}/none/err.svg
  ${NITI_PLOT_LOGS})

set_tests_properties(plot_unit plot_cli_svg plot_cli_svg_check plot_cli_labels
  plot_cli_labels_check plot_cli_png plot_cli_png_check plot_cli_png_size plot_cli_png_size_check
  plot_cli_help plot_err_missing plot_err_json plot_err_no_epochs plot_err_extension
  plot_err_labels plot_err_no_log plot_err_option plot_err_size plot_err_write
  PROPERTIES LABELS plot TIMEOUT 60)
