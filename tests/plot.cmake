# Training-log plots (src/tools/plot.c, `niti plot`): the library (test_plot unit), figures in
# each format written by the CLI and checked for real (the PNG decoded by cairo, the SVG parsed
# as XML by python3, the PDF's structure by test_plot and, where poppler-utils is installed, by
# pdfinfo and pdftotext), logs holding several runs, and bad inputs (exit status and message).
niti_add_test_exe(test_plot ${CMAKE_CURRENT_SOURCE_DIR}/test_plot.c)
target_link_libraries(test_plot PRIVATE PkgConfig::CAIRO)

find_program(NITI_PYTHON3 python3)
find_program(NITI_PDFINFO pdfinfo)
find_program(NITI_PDFTOTEXT pdftotext)

set(NITI_PLOT_DATA ${CMAKE_CURRENT_SOURCE_DIR}/data)
set(NITI_PLOT_OUT ${CMAKE_CURRENT_BINARY_DIR}/plot-out)
file(MAKE_DIRECTORY ${NITI_PLOT_OUT} ${NITI_PLOT_OUT}/unit)
set(NITI_PLOT_LOGS ${NITI_PLOT_DATA}/plot_int8.jsonl ${NITI_PLOT_DATA}/plot_fp32.jsonl)
# Three series: a log holding two runs appended one after the other, then a log of one run.
set(NITI_PLOT_MULTI ${NITI_PLOT_DATA}/plot_two_runs.jsonl ${NITI_PLOT_DATA}/plot_int8.jsonl)
set(NITI_PLOT_TESTS "")

# unit gets a folder of its own: it checks that no temporary file stays behind there.
add_test(NAME plot_unit COMMAND test_plot unit ${NITI_PLOT_DATA} ${NITI_PLOT_OUT}/unit)
list(APPEND NITI_PLOT_TESTS plot_unit)

# niti_plot_figure(NAME OUT ARGS... CHECK <command...>): `niti plot ARGS -o OUT` as test NAME,
# then the check command as NAME_check, which needs NAME to have run.
function(niti_plot_figure name out)
  cmake_parse_arguments(PARSE_ARGV 2 F "" "" "ARGS;CHECK")
  add_test(NAME ${name} COMMAND sh -c "out=$1; shift; rm -f \"$out\" && exec \"$@\"" sh ${out}
    $<TARGET_FILE:niti> plot ${F_ARGS} -o ${out})
  add_test(NAME ${name}_check COMMAND ${F_CHECK})
  set_tests_properties(${name} PROPERTIES FIXTURES_SETUP ${name})
  set_tests_properties(${name}_check PROPERTIES FIXTURES_REQUIRED ${name})
  set(NITI_PLOT_TESTS ${NITI_PLOT_TESTS} ${name} ${name}_check PARENT_SCOPE)
endfunction()

# PNG: decodes at the requested size (default and --size, any case of the extension), each
# log's line drawn in both panels in its colour, no further series.
niti_plot_figure(plot_cli_png ${NITI_PLOT_OUT}/runs.png ARGS ${NITI_PLOT_LOGS}
  CHECK test_plot png ${NITI_PLOT_OUT}/runs.png 1200 500 2)
niti_plot_figure(plot_cli_png_size ${NITI_PLOT_OUT}/small.PNG ARGS ${NITI_PLOT_LOGS} --size 800x400
  CHECK test_plot png ${NITI_PLOT_OUT}/small.PNG 800 400 2)
niti_plot_figure(plot_cli_png_runs ${NITI_PLOT_OUT}/multi.png ARGS ${NITI_PLOT_MULTI}
  CHECK test_plot png ${NITI_PLOT_OUT}/multi.png 1200 500 3)

# PDF: its structure (header, xref offsets, %%EOF, one page of W x H points).
niti_plot_figure(plot_cli_pdf ${NITI_PLOT_OUT}/runs.pdf ARGS ${NITI_PLOT_LOGS}
  --title "LeNet on MNIST: int8 vs fp32" CHECK test_plot pdf ${NITI_PLOT_OUT}/runs.pdf 1200 500)
niti_plot_figure(plot_cli_pdf_size ${NITI_PLOT_OUT}/size.pdf ARGS ${NITI_PLOT_LOGS} --size 640x300
  CHECK test_plot pdf ${NITI_PLOT_OUT}/size.pdf 640 300)

# SVG: well-formed XML with one data line per series and panel.
if(NITI_PYTHON3)
  set(svg_check ${NITI_PYTHON3} ${NITI_PLOT_DATA}/plot_svg_check.py)
  niti_plot_figure(plot_cli_svg ${NITI_PLOT_OUT}/runs.svg ARGS ${NITI_PLOT_LOGS}
    --title "LeNet on MNIST: int8 vs fp32" CHECK ${svg_check} ${NITI_PLOT_OUT}/runs.svg 2 1200 500)
  niti_plot_figure(plot_cli_svg_runs ${NITI_PLOT_OUT}/multi.svg ARGS ${NITI_PLOT_MULTI}
    CHECK ${svg_check} ${NITI_PLOT_OUT}/multi.svg 3 1200 500)
  # Run ids: a run resumed after another one in the same log stays one series.
  niti_plot_figure(plot_cli_svg_run_ids ${NITI_PLOT_OUT}/run_ids.svg
    ARGS ${NITI_PLOT_DATA}/plot_run_ids.jsonl ${NITI_PLOT_DATA}/plot_resumed.jsonl --size 900x450
    CHECK ${svg_check} ${NITI_PLOT_OUT}/run_ids.svg 3 900 450)
else()
  message(STATUS "python3 not found: the SVG checks of niti plot are left out")
endif()

# With poppler-utils (tools/deps.sh installs it): pdfinfo reads the PDF, and the text drawn
# (title, panel titles, legend names: --labels, start labels, file names with " (run 2)") is
# there for pdftotext.
if(NITI_PDFINFO AND NITI_PDFTOTEXT)
  # niti_plot_pdf_text(NAME PDF PATTERN...): pdfinfo sees one page; each grep -F PATTERN is in
  # the text, except those starting with '!', which must not be.
  function(niti_plot_pdf_text name pdf fixture)
    add_test(NAME ${name} COMMAND sh -c
      "pdf=$1; shift; info=$(\"${NITI_PDFINFO}\" \"$pdf\") || exit 1; echo \"$info\" | \
grep -q '^Pages: *1$' || { echo \"$info\"; exit 1; }; \
text=$(\"${NITI_PDFTOTEXT}\" -layout \"$pdf\" -) || exit 1; for p; do case $p in \
'!'*) echo \"$text\" | grep -qF -- \"\${p#!}\" && { echo \"unexpected: \${p#!}\"; fail=1; } ;; \
*) echo \"$text\" | grep -qF -- \"$p\" || { echo \"missing: $p\"; fail=1; } ;; esac; done; \
[ -z \"$fail\" ] || { echo \"$text\"; exit 1; }" sh ${pdf} ${ARGN})
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED ${fixture})
    set(NITI_PLOT_TESTS ${NITI_PLOT_TESTS} ${name} PARENT_SCOPE)
  endfunction()
  niti_plot_pdf_text(plot_cli_pdf_text ${NITI_PLOT_OUT}/runs.pdf plot_cli_pdf
    "LeNet on MNIST: int8 vs fp32" "test accuracy (%)" "training loss" "epoch"
    "int8 lenet mnist" "fp32 lenet mnist")
  # --labels overrides the start events' labels.
  niti_plot_figure(plot_cli_labels ${NITI_PLOT_OUT}/labels.pdf ARGS ${NITI_PLOT_LOGS}
    --labels "integer,float" CHECK test_plot pdf ${NITI_PLOT_OUT}/labels.pdf 1200 500)
  niti_plot_pdf_text(plot_cli_labels_text ${NITI_PLOT_OUT}/labels.pdf plot_cli_labels
    "integer" "float" "!lenet mnist")
  # Two runs in one log: the file's name, then the same with " (run 2)"; the second log's
  # --labels entry is kept; an empty entry keeps the default.
  niti_plot_figure(plot_cli_pdf_runs ${NITI_PLOT_OUT}/multi.pdf ARGS ${NITI_PLOT_MULTI}
    --labels ",eight" CHECK test_plot pdf ${NITI_PLOT_OUT}/multi.pdf 1200 500)
  niti_plot_pdf_text(plot_cli_pdf_runs_text ${NITI_PLOT_OUT}/multi.pdf plot_cli_pdf_runs
    "plot_two_runs.jsonl" "plot_two_runs.jsonl (run 2)" "eight" "!run 3" "!int8 lenet")
  niti_plot_figure(plot_cli_pdf_run_ids ${NITI_PLOT_OUT}/run_ids.pdf
    ARGS ${NITI_PLOT_DATA}/plot_run_ids.jsonl ${NITI_PLOT_DATA}/plot_resumed.jsonl
    CHECK test_plot pdf ${NITI_PLOT_OUT}/run_ids.pdf 1200 500)
  niti_plot_pdf_text(plot_cli_pdf_run_ids_text ${NITI_PLOT_OUT}/run_ids.pdf plot_cli_pdf_run_ids
    "int8 lenet mnist (run 2)" "resumed lenet" "!run 3" "!resumed lenet (run")
else()
  message(STATUS "pdfinfo/pdftotext (poppler-utils) not found: the PDF text checks of niti plot "
                 "are left out")
endif()

add_test(NAME plot_cli_help COMMAND niti plot --help)
set_tests_properties(plot_cli_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: niti plot LOG")
list(APPEND NITI_PLOT_TESTS plot_cli_help)

# niti plot ARGS... must exit with status RC and print PATTERN (grep -E) on stderr; the output
# file must not exist afterwards.
function(niti_plot_expect name rc pattern out)
  add_test(NAME ${name} COMMAND sh -c
    "rm -f \"$1\"; out=$(\"$0\" plot -o \"$@\" 2>&1 >/dev/null); rc=$?; echo \"$out\"; \
[ $rc -eq ${rc} ] && echo \"$out\" | grep -Eq -- '${pattern}' && [ ! -e \"$1\" ]"
    $<TARGET_FILE:niti> ${out} ${ARGN})
  set(NITI_PLOT_TESTS ${NITI_PLOT_TESTS} ${name} PARENT_SCOPE)
endfunction()

niti_plot_expect(plot_err_missing 2 "no_such_log\\.jsonl: cannot open" ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_DATA}/plot_int8.jsonl ${NITI_PLOT_DATA}/no_such_log.jsonl)
niti_plot_expect(plot_err_json 2 "plot_bad_json\\.jsonl:2: not valid JSON" ${NITI_PLOT_OUT}/err.pdf
  ${NITI_PLOT_DATA}/plot_bad_json.jsonl)
niti_plot_expect(plot_err_no_epochs 2 "plot_no_epochs\\.jsonl: no epoch records"
  ${NITI_PLOT_OUT}/err.png ${NITI_PLOT_DATA}/plot_no_epochs.jsonl)
niti_plot_expect(plot_err_extension 2
  "err\\.jpg: unknown output format \\(the file name must end in \\.png, \\.svg or \\.pdf\\)"
  ${NITI_PLOT_OUT}/err.jpg ${NITI_PLOT_LOGS})
niti_plot_expect(plot_err_no_extension 2 "unknown output format" ${NITI_PLOT_OUT}/err
  ${NITI_PLOT_LOGS})
niti_plot_expect(plot_err_labels 2 "--labels has 3 entries but 2 LOGs" ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_LOGS} --labels a,b,c)
niti_plot_expect(plot_err_no_log 2 "no LOG given" ${NITI_PLOT_OUT}/err.svg)
niti_plot_expect(plot_err_option 2 "unknown option .--colour." ${NITI_PLOT_OUT}/err.svg
  ${NITI_PLOT_LOGS} --colour red)
niti_plot_expect(plot_err_size 2 "--size .10x10.: expected WxH" ${NITI_PLOT_OUT}/err.png
  ${NITI_PLOT_LOGS} --size 10x10)
# A folder that does not exist: the write fails (exit 1) and leaves nothing.
niti_plot_expect(plot_err_write 1 "cannot create a temporary file" ${NITI_PLOT_OUT}/none/err.pdf
  ${NITI_PLOT_LOGS})

set_tests_properties(${NITI_PLOT_TESTS} PROPERTIES LABELS plot TIMEOUT 60)

# tools/reference_to_jsonl.py: the NITI authors' published curves (../shared/reference) as our
# JSON Lines, drawn by niti plot next to a log of ours; a malformed file is refused.
if(NITI_PYTHON3)
  set(NITI_REF_TSV ${NITI_SHARED_DIR}/reference/niti-vgg-small-7.tsv)
  if(EXISTS ${NITI_REF_TSV})
    add_test(NAME reference_curve_plot
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/reference_curve.sh ${NITI_PYTHON3}
              ${PROJECT_SOURCE_DIR}/tools/reference_to_jsonl.py ${NITI_REF_TSV} $<TARGET_FILE:niti>
              ${NITI_PLOT_OUT} ${NITI_PLOT_DATA}/plot_int8.jsonl)
    set_tests_properties(reference_curve_plot PROPERTIES LABELS "plot")
  endif()
  add_test(NAME reference_curve_bad_input
    COMMAND sh -c "printf 'epoch\\ttrain_acc\\ttrain_loss\\ttest_acc\\ttest_loss\\n0\\t1\\t2\\tx\\t4\\n' > $2/bad.tsv
      if $1 $3 $2/bad.tsv -o $2/bad.jsonl 2> $2/bad.err; then echo 'accepted a bad file'; exit 1; fi
      cat $2/bad.err; grep -q 'line 2' $2/bad.err && test ! -e $2/bad.jsonl"
    sh ${NITI_PYTHON3} ${NITI_PLOT_OUT} ${PROJECT_SOURCE_DIR}/tools/reference_to_jsonl.py)
  set_tests_properties(reference_curve_bad_input PROPERTIES LABELS "plot")
endif()
