# niti train --augment MODE and --val N (issue #19).
# The mapping of every mode against the documented Philox formula, crop4-flip against the batch
# assembly from before the option existed, and the validation split (tests/test_augment.c).
niti_add_test_exe(test_augment test_augment.c)
foreach(part modes mapping split)
  add_test(NAME data_augment_${part} COMMAND test_augment ${part})
  set_tests_properties(data_augment_${part} PROPERTIES LABELS data TIMEOUT 300)
endforeach()

# The CLI, on small synthetic datasets (tests/scripts/cli_lib.sh) on ref: the refusals, the
# defaults, the log and `niti info`, --val's split, resume and --init
# (tests/scripts/cli_augment_val.sh).
foreach(case refused defaults val resume)
  add_test(NAME cli_augment_val_${case}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cli_augment_val.sh $<TARGET_FILE:niti>
                   ${CMAKE_CURRENT_BINARY_DIR}/work/cli_augment_val_${case} ${case}
                   ${CMAKE_CURRENT_SOURCE_DIR}/scripts/st_same_weights.py)
  set_tests_properties(cli_augment_val_${case} PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}"
                       LABELS cli TIMEOUT 300)
endforeach()

# Several processes (-DNITI_MPI=ON): every rank holds out and augments alike (the weights are one
# process's), and a rank with another --augment is refused. Skipped in builds without MPI.
if(NITI_MPI AND MPIEXEC_EXECUTABLE)
  add_test(NAME mpi_augment_val
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/cli_augment_val.sh $<TARGET_FILE:niti>
                   ${CMAKE_CURRENT_BINARY_DIR}/work/mpi_augment_val mpi
                   ${CMAKE_CURRENT_SOURCE_DIR}/scripts/st_same_weights.py)
  set_tests_properties(mpi_augment_val PROPERTIES
                       ENVIRONMENT "${NITI_TEST_ENV};NITI_MPIEXEC=${MPIEXEC_EXECUTABLE}"
                       LABELS "mpi;cli" TIMEOUT 300)
else()
  add_test(NAME mpi_augment_val
           COMMAND sh -c "echo 'mpi_augment_val: skipped: niti was built without MPI (configure with -DNITI_MPI=ON)'; exit 77")
  set_tests_properties(mpi_augment_val PROPERTIES SKIP_RETURN_CODE 77 LABELS mpi)
endif()
