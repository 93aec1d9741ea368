# niti bench: smoke tests only (no timing is ever asserted).
#
# This file has two roles. Included by tests/CMakeLists.txt it adds the tests; run with
# `cmake -D NITI=... -D DEVICE=... -P bench.cmake` it is the checker those tests call: it runs
# a tiny benchmark with --json and verifies, with string(JSON), that the object has the
# documented keys and sane values.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  foreach(dev ref cpu)
    add_test(NAME bench_json_${dev}
             COMMAND ${CMAKE_COMMAND} -D NITI=$<TARGET_FILE:niti> -D DEVICE=${dev}
                     -P ${CMAKE_CURRENT_LIST_FILE})
    set_tests_properties(bench_json_${dev} PROPERTIES TIMEOUT 600
      PASS_REGULAR_EXPRESSION "bench json ok"
      # Only a machine without any OpenCL device skips the OpenCL run.
      SKIP_REGULAR_EXPRESSION "no OpenCL platform or device found|no OpenCL device matches")
  endforeach()
  set_tests_properties(bench_json_cpu PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}")

  # The readable table: header with the device and the two sections.
  add_test(NAME bench_table_ref
           COMMAND niti bench --device ref --model lenet --batch 2 --repeats 1 --warmup 0
                   --steps 1 --quiet)
  set_tests_properties(bench_table_ref PROPERTIES
    PASS_REGULAR_EXPRESSION "bench on ref.*Op level.*conv 5x5 20->50 @12x12.*End to end.*lenet")

  # --ops-only and --train-only each leave the other part out of the JSON.
  add_test(NAME bench_ops_only_ref
           COMMAND niti bench --device ref --model lenet --batch 2 --repeats 1 --warmup 0
                   --ops-only --json --quiet)
  set_tests_properties(bench_ops_only_ref PROPERTIES
    PASS_REGULAR_EXPRESSION "\"op\":[ \t]*\"wgrad\".*\"train\":[ \t]*\\[\\]")

  # Usage errors exit with status 2 (WILL_FAIL inverts any non-zero status, so check 2 exactly).
  set(bad_cases
      "--repeats 0" "--repeats x" "--batch -1" "--warmup" "--steps 0" "--frobnicate"
      "--ops-only --train-only" "--model no-such-model-xyz" "extra-argument")
  set(i 0)
  foreach(args IN LISTS bad_cases)
    math(EXPR i "${i} + 1")
    separate_arguments(argv UNIX_COMMAND "${args}")
    add_test(NAME bench_bad_option_${i}
             COMMAND sh -c "\"$0\" bench --device ref \"$@\" >/dev/null 2>&1; rc=$?; echo \"rc=$rc\"; [ $rc -eq 2 ]"
                     $<TARGET_FILE:niti> ${argv})
  endforeach()

  add_test(NAME bench_help COMMAND niti bench --help)
  set_tests_properties(bench_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: niti bench.*JSON keys")
  return()
endif()

# ------------------------------------------------------------------------------------------
# Script mode: the JSON checker.
if(NOT NITI OR NOT DEVICE)
  message(FATAL_ERROR "usage: cmake -D NITI=path/to/niti -D DEVICE=ref|cpu -P bench.cmake")
endif()
execute_process(
  COMMAND ${NITI} bench --device ${DEVICE} --model lenet --batch 4 --repeats 1 --warmup 0
          --steps 1 --json
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "niti bench exited with ${rc}\nstdout:\n${out}\nstderr:\n${err}")
endif()

if(CMAKE_VERSION VERSION_LESS 3.19)  # no string(JSON): check the keys by pattern only
  foreach(k device niti_version date ops train median_ms gops train_img_s eval_img_s
            device_peak_bytes host_peak_rss_bytes)
    if(NOT out MATCHES "\"${k}\"")
      message(FATAL_ERROR "bench JSON: no key ${k}\n${out}")
    endif()
  endforeach()
  message("bench json ok: ${DEVICE} (keys only: CMake ${CMAKE_VERSION} < 3.19)")
  return()
endif()
cmake_policy(VERSION 3.19)

function(need json)  # need(<json> key...) fails unless the member path exists
  string(JSON v ERROR_VARIABLE e GET "${json}" ${ARGN})
  if(e)
    message(FATAL_ERROR "bench JSON: missing ${ARGN}: ${e}\n${out}")
  endif()
  set(got "${v}" PARENT_SCOPE)
endfunction()

foreach(k bench_schema niti_version device device_short date repeats warmup gops_definition
          host_peak_rss_bytes)
  need("${out}" ${k})
endforeach()
foreach(k batch models skipped ops train)
  string(JSON t ERROR_VARIABLE e TYPE "${out}" ${k})
  if(e)
    message(FATAL_ERROR "bench JSON: missing ${k}: ${e}\n${out}")
  endif()
endforeach()
need("${out}" batch)
if(NOT got EQUAL 4)
  message(FATAL_ERROR "bench JSON: batch is ${got}, expected 4")
endif()
if(DEVICE STREQUAL "ref")
  need("${out}" device_short)
  if(NOT got STREQUAL "ref")
    message(FATAL_ERROR "bench JSON: device_short is '${got}' on --device ref")
  endif()
endif()

# ops: LeNet has 4 weight layers; the first has no dgrad, so 11 entries.
string(JSON n_ops LENGTH "${out}" ops)
if(NOT n_ops EQUAL 11)
  message(FATAL_ERROR "bench JSON: ${n_ops} op entries, expected 11 (4 layers x 3 ops - 1)")
endif()
math(EXPR last "${n_ops} - 1")
set(ops_seen "")
foreach(i RANGE ${last})
  foreach(k model shape kind layer count batch op macs acc_bits median_ms min_ms gops)
    need("${out}" ops ${i} ${k})
  endforeach()
  foreach(k N H W I O k pad)
    need("${out}" ops ${i} geom ${k})
  endforeach()
  need("${out}" ops ${i} op)
  list(APPEND ops_seen "${got}")
  need("${out}" ops ${i} median_ms)
  if(got LESS 0)
    message(FATAL_ERROR "bench JSON: op ${i} has a negative time ${got}")
  endif()
endforeach()
foreach(op fwd dgrad wgrad)
  if(NOT op IN_LIST ops_seen)
    message(FATAL_ERROR "bench JSON: no '${op}' entry")
  endif()
endforeach()
need("${out}" ops 0 shape)
if(NOT got STREQUAL "conv 5x5 1->20 @28x28")
  message(FATAL_ERROR "bench JSON: first shape is '${got}'")
endif()
need("${out}" ops 0 macs)
if(NOT got EQUAL 1152000)  # 4 images x 24x24 outputs x 20 channels x 25 taps
  message(FATAL_ERROR "bench JSON: first shape has ${got} MACs, expected 1152000")
endif()

string(JSON n_train LENGTH "${out}" train)
if(NOT n_train EQUAL 1)
  message(FATAL_ERROR "bench JSON: ${n_train} train entries, expected 1")
endif()
foreach(k model batch mu steps repeats warmup macs_per_image train_step_ms train_img_s
          eval_batch_ms eval_img_s device_peak_bytes host_peak_rss_bytes host_peak_rss_scope
          host_base_rss_bytes
          range_errors)
  need("${out}" train 0 ${k})
endforeach()
need("${out}" train 0 device_peak_bytes)
if(NOT got GREATER 0)
  message(FATAL_ERROR "bench JSON: device_peak_bytes is ${got}")
endif()
need("${out}" train 0 train_img_s)
if(NOT got GREATER 0)
  message(FATAL_ERROR "bench JSON: train_img_s is ${got}")
endif()
message("bench json ok: ${DEVICE}, ${n_ops} ops, ${n_train} model")
