# The known-answer battery (src/backends/opencl/probe.c) refuses a device whose compiler
# miscompiles the kernels: -DNITI_TEST_MISCOMPILE makes cl/common.cl's 64-bit |x| wrong for small
# negative values, as a miscompiled select did on Mesa rusticl. Every path must be refused with
# the op named (auto mode tries vnni, then portable); none may run the golden suite.
foreach(path auto tiled portable)
  add_test(NAME known_answers_refuse_${path}
           COMMAND niti conformance --device cpu ${NITI_GOLDEN_DIR})
  set_tests_properties(known_answers_refuse_${path} PROPERTIES LABELS "cl"
    ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=${path};NITI_CL_EXTRA_OPTIONS=-DNITI_TEST_MISCOMPILE"
    PASS_REGULAR_EXPRESSION "kernels give wrong results for [a-z].*known answers compared with the reference backend"
    FAIL_REGULAR_EXPRESSION "PASS ")
endforeach()

# The long-loop probe (probe.c, loop_probe_ok): -DNITI_TEST_LOSE_LOOPS makes its work-item stop
# after 993 iterations, as Mesa rusticl 22 on llvmpipe does. A forced CPU path is refused with the
# reason; auto mode goes on to the tiled kernels, which pass the golden suite.
add_test(NAME loop_probe_refuse_portable COMMAND niti conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(loop_probe_refuse_portable PROPERTIES LABELS "cl"
  ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=portable;NITI_CL_EXTRA_OPTIONS=-DNITI_TEST_LOSE_LOOPS"
  PASS_REGULAR_EXPRESSION "portable kernels cannot run on this device: its compiler loses a work-item's private arrays in long loops \\(the loop probe went wrong at iteration 993 of"
  FAIL_REGULAR_EXPRESSION "PASS ")
add_test(NAME loop_probe_auto_falls_back
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/conformance_on_path.sh $<TARGET_FILE:niti>
                 tiled --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(loop_probe_auto_falls_back PROPERTIES LABELS "cl"
  ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=auto;NITI_CL_EXTRA_OPTIONS=-DNITI_TEST_LOSE_LOOPS")
