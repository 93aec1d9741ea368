# The conformance runner: the golden vectors on the reference backend, per kind and all at once,
# and proof that the runner fails when it should (corrupted copies of golden cases).
niti_add_test_exe(st_corrupt ${CMAKE_CURRENT_LIST_DIR}/st_corrupt.c)

# A small driver: runs the command after "--", requires exit status EXPECT_RC and that the
# output (stdout + stderr) matches every one of RE1..RE4 that is set.
set(NITI_CONF_EXPECT ${CMAKE_CURRENT_BINARY_DIR}/conf_expect.cmake)
file(WRITE ${NITI_CONF_EXPECT} [=[
set(cmd)
set(seen 0)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 0 ${last})
  if(seen)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(seen 1)
  endif()
endforeach()
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT "${rc}" STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_RC}")
endif()
foreach(v RE1 RE2 RE3 RE4)
  if(DEFINED ${v} AND NOT "${out}${err}" MATCHES "${${v}}")
    message(FATAL_ERROR "output does not match: ${${v}}")
  endif()
endforeach()
]=])

# niti_conf_expect(NAME RC <regex...> -- <command...>)
function(niti_conf_expect name rc)
  set(defs)
  set(cmd)
  set(n 0)
  set(in_cmd 0)
  foreach(a ${ARGN})
    if(in_cmd)
      list(APPEND cmd "${a}")
    elseif(a STREQUAL "--")
      set(in_cmd 1)
    else()
      math(EXPR n "${n} + 1")
      list(APPEND defs "-DRE${n}=${a}")
    endif()
  endforeach()
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -DEXPECT_RC=${rc} ${defs} -P ${NITI_CONF_EXPECT}
           -- ${cmd})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}")
endfunction()

# Every golden case on the reference backend.
add_test(NAME conformance_ref COMMAND $<TARGET_FILE:niti> conformance --device ref ${NITI_GOLDEN_DIR})
set_tests_properties(conformance_ref PROPERTIES ENVIRONMENT "${NITI_TEST_ENV}")
# Per kind, so that one broken kind does not hide the others.
foreach(kind round requant gradquant loss conv linear pool relu net)
  file(GLOB cases ${NITI_GOLDEN_DIR}/${kind}_*.safetensors)
  if(cases)
    niti_conf_expect(conformance_ref_${kind} 0 "[0-9]+ passed, 0 failed" "PASS ${kind}_"
                     -- $<TARGET_FILE:niti> conformance --device ref ${cases})
  endif()
endforeach()

# Broken copies of golden cases, made at test time.
set(bad ${CMAKE_CURRENT_BINARY_DIR}/conf_bad)
set(G ${NITI_GOLDEN_DIR})
set(mk $<TARGET_FILE:st_corrupt>)
add_test(NAME conformance_bad_setup COMMAND ${CMAKE_COMMAND} -E make_directory ${bad})
set_tests_properties(conformance_bad_setup PROPERTIES FIXTURES_SETUP conf_bad_dir)
set(bad_cases
    "relu_y|elem|relu_01_n7_5x5x3.safetensors|y|10"
    "conv_accE|elem|conv_01_k3p1_n7.safetensors|accE|1000"
    "net_w|elem|net_01_tiny_cnn_dropout.safetensors|step2.L3.weight|5"
    "conv_eshift|meta|conv_01_k3p1_n7.safetensors|e_shift|3"
    "kind|meta|relu_01_n7_5x5x3.safetensors|kind|bogus"
    "missing|drop|relu_01_n7_5x5x3.safetensors|e_prev"
    "trunc|truncate|pool_02_n1_8x8x3.safetensors|100")
foreach(spec ${bad_cases})
  string(REPLACE "|" ";" f "${spec}")
  list(GET f 0 out)
  list(GET f 1 op)
  list(GET f 2 in)
  list(SUBLIST f 3 -1 rest)
  add_test(NAME conformance_bad_make_${out}
           COMMAND ${mk} ${op} ${G}/${in} ${bad}/${out}.safetensors ${rest})
  set_tests_properties(conformance_bad_make_${out} PROPERTIES FIXTURES_SETUP conf_bad
                       FIXTURES_REQUIRED conf_bad_dir)
endforeach()

set(N $<TARGET_FILE:niti>)
niti_conf_expect(conformance_detects_element 1
  "FAIL relu_y: tensor y differs at 1 element\\(s\\), first at index 10 \\(multi-index \\[0,0,3,1\\]\\): got -?[0-9]+, want -?[0-9]+"
  "[^0-9]0 passed, 1 failed"
  -- ${N} conformance --device ref ${bad}/relu_y.safetensors)
niti_conf_expect(conformance_detects_accE 1
  "FAIL conv_accE: tensor accE differs at 1 element\\(s\\), first at index 1000 "
  "[^0-9]0 passed, 1 failed"
  -- ${N} conformance --device ref ${bad}/conv_accE.safetensors)
niti_conf_expect(conformance_detects_net_step 1
  "FAIL net_w: tensor step2.L3.weight differs at 1 element\\(s\\)"
  "FAIL net_w: stopped at step 2 of 6"
  -- ${N} conformance --device ref ${bad}/net_w.safetensors)
niti_conf_expect(conformance_detects_scalar 1
  "FAIL conv_eshift: e_shift: got [0-9]+, want 3"
  -- ${N} conformance --device ref ${bad}/conv_eshift.safetensors)
niti_conf_expect(conformance_unknown_kind 1
  "FAIL kind: unknown kind 'bogus'" "[^0-9]0 passed, 1 failed"
  -- ${N} conformance --device ref ${bad}/kind.safetensors)
niti_conf_expect(conformance_missing_tensor 1
  "FAIL missing: tensor e_prev is missing"
  -- ${N} conformance --device ref ${bad}/missing.safetensors)
niti_conf_expect(conformance_malformed_file 1
  "FAIL trunc: .*trunc.safetensors: header length [0-9]+ runs past the end"
  -- ${N} conformance --device ref ${bad}/trunc.safetensors)
niti_conf_expect(conformance_bad_folder 1
  "[^0-9]0 passed, 7 failed"
  -- ${N} conformance --device ref --quiet ${bad})
niti_conf_expect(conformance_mixed 1
  "PASS relu_01_n7_5x5x3" "FAIL relu_y:" "[^0-9]1 passed, 1 failed"
  -- ${N} conformance --device ref ${G}/relu_01_n7_5x5x3.safetensors ${bad}/relu_y.safetensors)
set_tests_properties(conformance_detects_element conformance_detects_accE
  conformance_detects_net_step conformance_detects_scalar conformance_unknown_kind
  conformance_missing_tensor conformance_malformed_file conformance_bad_folder conformance_mixed
  PROPERTIES FIXTURES_REQUIRED conf_bad)

# Usage errors and unreadable paths: exit status 2.
niti_conf_expect(conformance_no_such_path 2 "no_such_case.safetensors"
  -- ${N} conformance --device ref ${CMAKE_CURRENT_BINARY_DIR}/no_such_case.safetensors)
niti_conf_expect(conformance_no_path 2 "usage: niti conformance" -- ${N} conformance --device ref)
niti_conf_expect(conformance_bad_option 2 "unknown option '--bogus'"
  -- ${N} conformance --bogus ${G})
niti_conf_expect(conformance_help 0 "usage: niti conformance" -- ${N} conformance --help)
