# Issue #20: every option and environment variable of niti train is honoured or refused before any
# work starts; resume, fp32 checkpoints, data folders, log series, eval/info of checkpoints.
# The scripts make small synthetic datasets in the real formats (tests/scripts/cli_lib.sh), so
# they need no downloaded data and run in seconds on ref.
foreach(ctx resume init fp32 gemm)
  add_test(NAME cli_options_${ctx}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cli_options.sh $<TARGET_FILE:niti>
                   ${CMAKE_CURRENT_BINARY_DIR}/work/cli_options_${ctx} ${ctx})
  set_tests_properties(cli_options_${ctx} PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" LABELS cli
                       TIMEOUT 600)
endforeach()
# gemm also opens the OpenCL CPU device with an empty kernel cache (compiles once)
set_tests_properties(cli_options_gemm PROPERTIES LABELS "cli;cl")

# The cases of the issue, one test each (tests/scripts/cli_cases.sh).
foreach(case data fp32_save resume messages not_ckpt info log_runs init early_checks eta eval_names)
  add_test(NAME cli_issue20_${case}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cli_cases.sh $<TARGET_FILE:niti>
                   ${CMAKE_CURRENT_BINARY_DIR}/work/cli_issue20_${case} ${case})
  set_tests_properties(cli_issue20_${case} PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" LABELS cli
                       TIMEOUT 300)
endforeach()

# The ETA helper: no rate and no ETA until the warm-up batches are done.
niti_add_test_exe(test_progress ${CMAKE_CURRENT_SOURCE_DIR}/test_progress.c)
add_test(NAME cli_progress_unit COMMAND test_progress)
set_tests_properties(cli_progress_unit PROPERTIES LABELS "cli;train")
