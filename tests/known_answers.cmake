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
