# Fault tests (issue #6): damaged inputs and hostile conditions must end in a clear error, a
# non-zero exit status and no damage to existing files. Scripts: tests/scripts/fault_*.sh.
#   (a) fault_dataset_*     truncated / corrupted MNIST copies -> error naming the file
#   (b) fault_ckpt_*        bad header, wrong shapes, mismatching model, flipped weight byte ->
#                           error, exit != 0, the --save target (same file) left byte-identical
#   (c) fault_kill_write    SIGKILL in the middle of a checkpoint write -> old checkpoint intact
#                           and resumable, no partial target
#   (d) fault_no_opencl_*   no OpenCL platform (empty OCL_ICD_VENDORS) -> devices exits 0 with a
#                           message, --device cpu suggests --device ref, the default falls back
#   (e) fault_device_alloc  a buffer larger than the device allows -> error naming tensor and size
#   (f) fault_acc64_*       K*128*127 >= 2^31 layers take the exact int64 path on ref and POCL
#   (g) a kernel build failure shows the build log: tests/cl_runtime.c (cl_runtime) covers it.
niti_add_test_exe(fault_stedit ${CMAKE_CURRENT_SOURCE_DIR}/scripts/fault_stedit.c)
niti_add_test_exe(fault_acc64 ${CMAKE_CURRENT_SOURCE_DIR}/fault_acc64.c)

set(NITI_FAULT_WORK ${CMAKE_CURRENT_BINARY_DIR}/work/faults)
set(NITI_FAULT_SH ${CMAKE_CURRENT_SOURCE_DIR}/scripts)

# (f) on ref alone (always), and ref against the OpenCL CPU device (77 = no device: skipped).
add_test(NAME fault_acc64_ref COMMAND fault_acc64 -)
add_test(NAME fault_acc64_pocl COMMAND fault_acc64 ${NITI_CROSS_DEVICE})
set_tests_properties(fault_acc64_ref PROPERTIES LABELS "faults;host" TIMEOUT 300
                     PASS_REGULAR_EXPRESSION "PASS: 0 failure")
set_tests_properties(fault_acc64_pocl PROPERTIES LABELS "faults;cl" TIMEOUT 600
                     ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77)

if(EXISTS ${NITI_DATA_DIR}/mnist)
  # (a), (b), (c): real MNIST, the reference backend.
  foreach(t dataset ckpt kill_write)
    add_test(NAME fault_${t}
             COMMAND sh ${NITI_FAULT_SH}/fault_${t}.sh $<TARGET_FILE:niti> ${NITI_DATA_DIR}
                     ${NITI_FAULT_WORK}/${t} $<TARGET_FILE:fault_stedit>)
    set_tests_properties(fault_${t} PROPERTIES LABELS "faults;host" TIMEOUT 300
                         ENVIRONMENT "${NITI_TEST_ENV}")
  endforeach()
  # (d) no OpenCL platform at all
  add_test(NAME fault_no_opencl
           COMMAND sh ${NITI_FAULT_SH}/fault_no_opencl.sh $<TARGET_FILE:niti> ${NITI_DATA_DIR}
                   ${NITI_FAULT_WORK}/no_opencl)
  set_tests_properties(fault_no_opencl PROPERTIES LABELS "faults;host" TIMEOUT 300
                       ENVIRONMENT "${NITI_TEST_ENV}")
  # (e) a buffer over the device's per-allocation limit (its CL_DEVICE_MAX_MEM_ALLOC_SIZE, read
  # from the "max buffer" of niti devices: 2 GiB or 8 GiB on POCL, depending on the machine)
  add_test(NAME fault_device_alloc
           COMMAND sh ${NITI_FAULT_SH}/fault_device_alloc.sh $<TARGET_FILE:niti> ${NITI_DATA_DIR})
  set_tests_properties(fault_device_alloc PROPERTIES LABELS "faults;cl" TIMEOUT 300
                       ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77)
  # (f) on real data as well: the cross-backend identity runner with the int64 spec files.
  foreach(k linear conv)
    add_test(NAME fault_acc64_cross_${k}
             COMMAND test_cross_backend ${NITI_CROSS_DEVICE} mnist ${NITI_DATA_DIR} 2 4 niti21 -
                     ${NITI_FAULT_SH}/fault_acc64_${k}.spec)
    set_tests_properties(fault_acc64_cross_${k} PROPERTIES LABELS "faults;cl" TIMEOUT 600
                         ENVIRONMENT "${NITI_TEST_ENV}" SKIP_RETURN_CODE 77)
  endforeach()
endif()
