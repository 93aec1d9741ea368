# niti train / eval end to end on real MNIST (skipped if ../shared/data is absent).
if(EXISTS ${NITI_DATA_DIR}/mnist)
  add_test(NAME train_resume_identity_ref
           COMMAND ${CMAKE_COMMAND} -D NITI=$<TARGET_FILE:niti> -D DATA=${NITI_DATA_DIR}
                   -D WORK=${CMAKE_CURRENT_BINARY_DIR}/work/resume_ref -D DEVICE=ref
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/train_resume.cmake)
  add_test(NAME train_learns_ref
           COMMAND ${CMAKE_COMMAND} -D NITI=$<TARGET_FILE:niti> -D DATA=${NITI_DATA_DIR}
                   -D WORK=${CMAKE_CURRENT_BINARY_DIR}/work/learns_ref -D DEVICE=ref -D LIMIT=1024
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/train_learns.cmake)
  set_tests_properties(train_resume_identity_ref train_learns_ref PROPERTIES
                       ENVIRONMENT "${NITI_TEST_ENV}" LABELS train)
endif()

# CLI errors: clear message, exit 2, nothing crashes.
function(niti_cli_fail name regex)
  add_test(NAME ${name} COMMAND $<TARGET_FILE:niti> ${ARGN})
  set_tests_properties(${name} PROPERTIES PASS_REGULAR_EXPRESSION "${regex}"
                       ENVIRONMENT "${NITI_TEST_ENV}" LABELS cli)
endfunction()
niti_cli_fail(cli_train_missing_data "niti: error: .*(/nonexistent-dir)" train --device ref --dataset mnist --data /nonexistent-dir)
niti_cli_fail(cli_train_bad_mu "mu schedule '5,x' at column 3" train --device ref --mu 5,x)
# (CMake splits arguments on ";", so this spec has none)
niti_cli_fail(cli_train_bad_model "line 1, column 15" train --device ref --model "input 28x28x1 conv 20 x5")
niti_cli_fail(cli_train_unknown_option "unknown option '--frobnicate'" train --frobnicate)
niti_cli_fail(cli_train_bad_rule "--rule must be niti21 or niti20" train --device ref --rule niti99)
niti_cli_fail(cli_eval_missing_ckpt "niti: error: .*/no/such.st" eval /no/such.st --device ref)
niti_cli_fail(cli_unknown_command "unknown command 'frob'" frob)
add_test(NAME cli_help COMMAND $<TARGET_FILE:niti> --help)
set_tests_properties(cli_help PROPERTIES PASS_REGULAR_EXPRESSION "conformance")
add_test(NAME cli_train_help COMMAND $<TARGET_FILE:niti> train --help)
set_tests_properties(cli_train_help PROPERTIES PASS_REGULAR_EXPRESSION "--resume CKPT")

if(EXISTS ${NITI_DATA_DIR}/mnist)
  add_test(NAME train_sigint_resume_ref
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/train_sigint.sh $<TARGET_FILE:niti>
                   ${NITI_DATA_DIR} ${CMAKE_CURRENT_BINARY_DIR}/work/sigint_ref ref)
  set_tests_properties(train_sigint_resume_ref PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}" LABELS train)
endif()

# Options are checked before any data is loaded or any training runs.
niti_cli_fail(cli_train_seed_overflow "--seed must be a whole number" train --device ref --seed 18446744073709551616)
niti_cli_fail(cli_train_bad_lr_steps "--lr-steps must be increasing" train --precision fp32 --lr-steps 5,x)
niti_cli_fail(cli_train_lr_inf "--lr must be a finite number" train --precision fp32 --lr inf)
niti_cli_fail(cli_train_lr_int8 "learning rate is --mu" train --device ref --lr 0.1)
niti_cli_fail(cli_train_save_unwritable "cannot write the checkpoint /nonexistent-dir/x.st" train --device ref --save /nonexistent-dir/x.st)
