# Portability (issue #16): the same bits on other OpenCL implementations and under any work-group
# limit. Scripts: tests/scripts/port_*.sh. Labels: portability plus rusticl, oclgrind or wgcap.
#
#  rusticl_*   Mesa rusticl's llvmpipe device (RUSTICL_ENABLE=llvmpipe; Debian mesa-opencl-icd),
#              found by its "rusticl: llvmpipe" line in niti devices and addressed by its P:D:
#              the golden suite on tiled and on dp4a / khr-dot in emulation, the op tests and the
#              cross-backend LeNet MNIST identity against ref (on tiled). Skipped (77) only where
#              rusticl is not installed. Its auto path: vnni does not build there, and portable
#              is refused by the long-loop probe (probe.c), so tiled; rusticl_*_auto runs it and
#              rusticl_portable_refused_or_conformance checks the refusal (or, on a rusticl
#              that passes the probes, the golden suite on portable).
#  oclgrind_*  the Oclgrind simulator with --data-races --uninitialized --check-api: any report
#              fails the test. Oclgrind interprets every work-item, so a subset of the golden
#              cases (below) on tiled, dp4a and khr-dot (emulated), and a 2-step cross-backend run
#              of a tiny MNIST CNN with every layer kind, master weights and decay. Skipped (77)
#              where oclgrind is missing. About 4 minutes of CPU in all.
#              Its uninitialised-value tracking needs host writes of whole buffers: the test aid
#              tests/scripts/oclgrind_whole_writes.c (why, in its comment) is preloaded.
#  wgcap*_*    POCL with NITI_CL_MAX_WG=1, 8 and 32 (every kernel's work-group size capped): the
#              golden suite and the op tests on tiled.
#
# Not in the sanitizer build (tools/sanitize.sh): the host code they run is the same as in the
# POCL tests, which do run there; under ASan they would take several times longer, Mesa's and
# Oclgrind's process-lifetime allocations would need leak suppressions, and the Oclgrind preload
# cannot come before the ASan runtime.
if(NITI_SANITIZE)
  return()
endif()
set(NITI_PORT_SH ${CMAKE_CURRENT_SOURCE_DIR}/scripts)
set(NITI_PORT_WORK ${CMAKE_CURRENT_BINARY_DIR}/work/portability)
set(N $<TARGET_FILE:niti>)

# ---------------------------------------------------------------- Mesa rusticl
set(NITI_RUSTICL_ENV "${NITI_TEST_ENV};RUSTICL_ENABLE=llvmpipe")
foreach(path tiled dp4a khr-dot)
  set(env "${NITI_RUSTICL_ENV};NITI_GEMM=${path}")
  if(NOT path STREQUAL "tiled")
    string(APPEND env ";NITI_DOT_EMULATE=1")
  endif()
  add_test(NAME rusticl_conformance_${path}
           COMMAND sh ${NITI_PORT_SH}/port_rusticl.sh ${N} conformance --
                   ${N} conformance --device @DEV@ ${NITI_GOLDEN_DIR})
  set_tests_properties(rusticl_conformance_${path} PROPERTIES ENVIRONMENT "${env}"
                       SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "portability;rusticl;cl")
endforeach()
# The CPU paths (gemm_cpu.cl) on rusticl: vnni does not build there and this rusticl fails the
# long-loop probe, so portable is refused with its reason (a rusticl that passes the probes must
# pass the golden suite on it); auto mode goes on to tiled, where the LeNet identity must hold.
add_test(NAME rusticl_portable_refused_or_conformance
         COMMAND sh ${NITI_PORT_SH}/port_rusticl.sh ${N} refused_or_conformance --
                 ${N} conformance --device @DEV@ ${NITI_GOLDEN_DIR})
set_tests_properties(rusticl_portable_refused_or_conformance PROPERTIES
                     ENVIRONMENT "${NITI_RUSTICL_ENV};NITI_GEMM=portable"
                     SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "portability;rusticl;cl")
add_test(NAME rusticl_cl_ops
         COMMAND sh ${NITI_PORT_SH}/port_rusticl.sh ${N} status -- $<TARGET_FILE:test_cl_ops>)
set_tests_properties(rusticl_cl_ops PROPERTIES
                     ENVIRONMENT "${NITI_RUSTICL_ENV};NITI_GEMM=tiled;NITI_TEST_QUICK=1"
                     SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "portability;rusticl;cl")
add_test(NAME rusticl_cl_ops_dp4a
         COMMAND sh ${NITI_PORT_SH}/port_rusticl.sh ${N} status -- $<TARGET_FILE:test_cl_ops>)
set_tests_properties(rusticl_cl_ops_dp4a PROPERTIES
                     ENVIRONMENT "${NITI_RUSTICL_ENV};NITI_GEMM=dp4a;NITI_DOT_EMULATE=1;NITI_TEST_QUICK=1"
                     SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "portability;rusticl;cl")
if(EXISTS ${NITI_DATA_DIR}/mnist)
  # forced tiled, and the path auto mode settles on (tiled on this rusticl: see above)
  foreach(path tiled auto)
    set(name rusticl_cross_backend_lenet_mnist)
    if(path STREQUAL "auto")
      string(APPEND name "_auto")
    endif()
    add_test(NAME ${name}
             COMMAND sh ${NITI_PORT_SH}/port_rusticl.sh ${N} status --
                     $<TARGET_FILE:test_cross_backend> @DEV@ mnist ${NITI_DATA_DIR} 20 64 niti21 - lenet)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${NITI_RUSTICL_ENV};NITI_GEMM=${path}"
                         SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "portability;rusticl;cl")
  endforeach()
endif()

# ---------------------------------------------------------------- Oclgrind
add_library(niti_oclgrind_shim MODULE ${NITI_PORT_SH}/oclgrind_whole_writes.c)
target_link_libraries(niti_oclgrind_shim PRIVATE OpenCL::OpenCL ${CMAKE_DL_LIBS})
set(NITI_OCLGRIND_RUN sh ${NITI_PORT_SH}/port_oclgrind.sh $<TARGET_FILE:niti_oclgrind_shim>)
# tiled: the golden cases of the conv, linear, loss, pool, relu and round kinds with the fewest
# terms (the simulator interprets every instruction of every work-item: 22 s per run for opening
# the device, 3 s for conv_07, 30 s for gradquant_05, 3 minutes for net_01). Requantisation, the
# update (decay, master weights) and whole training steps are covered by the known-answer battery
# that every run executes when it opens the device (probe.c: conv, dgrad, wgrad, requant int32 and
# int64 with both rules and roundings, update plain / decay / master, loss on both sides of its
# branch) and by the cross-backend run below (reductions over several work-groups, pool, dropout).
# dp4a and khr-dot differ from tiled only in the GEMM kernels' dot product: conv and linear.
# (The whole golden suite on tiled under the same checks: 46 passed, no report, 17 minutes.)
set(NITI_OCLGRIND_CASES_tiled conv_07_k3p1_tiny linear_05_n1_f5_small_niti20
    linear_03_n1_f13_psr_round loss_02_em7_c10 loss_06_e3_c10 pool_02_n1_8x8x3 relu_01_n7_5x5x3
    round_01_edges)
set(NITI_OCLGRIND_CASES_dp4a conv_07_k3p1_tiny linear_05_n1_f5_small_niti20)
set(NITI_OCLGRIND_CASES_khr-dot ${NITI_OCLGRIND_CASES_dp4a})
foreach(path tiled dp4a khr-dot)
  set(files)
  foreach(c ${NITI_OCLGRIND_CASES_${path}})
    list(APPEND files ${NITI_GOLDEN_DIR}/${c}.safetensors)
  endforeach()
  set(env "${NITI_TEST_ENV};NITI_GEMM=${path}")
  if(NOT path STREQUAL "tiled")
    string(APPEND env ";NITI_DOT_EMULATE=1")
  endif()
  add_test(NAME oclgrind_conformance_${path}
           COMMAND ${NITI_OCLGRIND_RUN} ${NITI_PORT_WORK}/oclgrind_conformance_${path}.log
                   conformance -- ${N} conformance --device gpu ${files})
  set_tests_properties(oclgrind_conformance_${path} PROPERTIES ENVIRONMENT "${env}"
                       SKIP_RETURN_CODE 77 TIMEOUT 1200 LABELS "portability;oclgrind;cl")
endforeach()
# 2 training steps of batch 2, weights compared with ref after each; work-groups of at most 16
# items (NITI_CL_MAX_WG: the smaller tile configurations and their general load forms; the
# 256-item tiles would simulate mostly idle work-items on these 2- and 4-channel layers: 45 s
# instead of 160 s).
if(EXISTS ${NITI_DATA_DIR}/mnist)
  add_test(NAME oclgrind_cross_backend_tiny_mnist
           COMMAND ${NITI_OCLGRIND_RUN} ${NITI_PORT_WORK}/oclgrind_cross_backend.log status --
                   $<TARGET_FILE:test_cross_backend> gpu mnist ${NITI_DATA_DIR} 2 2 niti21
                   master16,decay ${NITI_PORT_SH}/port_tiny_mnist.spec)
  set_tests_properties(oclgrind_cross_backend_tiny_mnist PROPERTIES
                       ENVIRONMENT "${NITI_TEST_ENV};NITI_GEMM=tiled;NITI_CL_MAX_WG=16"
                       SKIP_RETURN_CODE 77 TIMEOUT 1200 LABELS "portability;oclgrind;cl")
endif()

# ---------------------------------------------------------------- work-group caps (POCL)
foreach(cap 1 8 32)
  set(env "${NITI_TEST_ENV};NITI_CL_MAX_WG=${cap};NITI_GEMM=tiled")
  add_test(NAME wgcap${cap}_conformance_tiled
           COMMAND ${N} conformance --device cpu ${NITI_GOLDEN_DIR})
  set_tests_properties(wgcap${cap}_conformance_tiled PROPERTIES ENVIRONMENT "${env}"
                       PASS_REGULAR_EXPRESSION "gemm: tiled\\].*[^0-9]0 failed"
                       FAIL_REGULAR_EXPRESSION "FAIL " TIMEOUT 900 LABELS "portability;wgcap;cl")
  add_test(NAME wgcap${cap}_cl_ops_tiled COMMAND test_cl_ops)
  set_tests_properties(wgcap${cap}_cl_ops_tiled PROPERTIES ENVIRONMENT "${env};NITI_TEST_QUICK=1"
                       SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS "portability;wgcap;cl")
endforeach()
# The device's own path (vnni or portable on POCL) with one work-item per group, and proof that the
# variable is read (a bad value is refused).
add_test(NAME wgcap1_conformance_auto COMMAND ${N} conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(wgcap1_conformance_auto PROPERTIES
                     ENVIRONMENT "${NITI_TEST_ENV};NITI_CL_MAX_WG=1;NITI_GEMM="
                     PASS_REGULAR_EXPRESSION "[^0-9]0 failed" FAIL_REGULAR_EXPRESSION "FAIL "
                     TIMEOUT 900 LABELS "portability;wgcap;cl")
add_test(NAME wgcap_bad_value COMMAND ${N} conformance --device cpu ${NITI_GOLDEN_DIR})
set_tests_properties(wgcap_bad_value PROPERTIES ENVIRONMENT "${NITI_TEST_ENV};NITI_CL_MAX_WG=0"
                     PASS_REGULAR_EXPRESSION "NITI_CL_MAX_WG=\"0\": expected a whole number"
                     TIMEOUT 300 LABELS "portability;wgcap;cl")
