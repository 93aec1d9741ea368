# The Python package (python/niti, issue #18): its pytest suite, one CTest test per file, run
# with the python3 that has numpy and pytest (python/cmake/niti_python.cmake). The library under
# test is this build's libniti (NITI_LIBRARY); the CLI, the datasets and the build tree are
# passed in the environment. Skipped, with a message, only when numpy or pytest is missing
# (tools/deps.sh installs python3-numpy and python3-pytest). pytest's exit code 5 (no tests
# collected) is a failure like any other non-zero code.
include(${PROJECT_SOURCE_DIR}/python/cmake/niti_python.cmake)
set(NITI_PY_TESTS api errors identity sigint install examples augment_val)
# In sanitizer builds (NITI_SANITIZE, NITI_FUZZ) libniti needs the ASan runtime loaded first,
# which an uninstrumented python3 does not do: preload it (and libstdc++, whose exceptions ASan
# intercepts inside OpenCL drivers), and leave leak checking off (python3 keeps its objects at
# exit by design). UBSan's runtime comes with libniti itself.
set(NITI_PY_SAN_ENV "")
if(NITI_PYTHON_OK AND (NITI_SANITIZE OR NITI_FUZZ))
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(_asan_name libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
  else()
    set(_asan_name libasan.so)
  endif()
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${_asan_name}
                  OUTPUT_VARIABLE _asan OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libstdc++.so.6
                  OUTPUT_VARIABLE _stdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(IS_ABSOLUTE "${_asan}" AND EXISTS "${_asan}")
    set(NITI_PY_SAN_ENV "LD_PRELOAD=${_asan}")
    if(IS_ABSOLUTE "${_stdcxx}" AND EXISTS "${_stdcxx}")
      string(APPEND NITI_PY_SAN_ENV " ${_stdcxx}")
    endif()
    set(NITI_PY_SAN_ENV "${NITI_PY_SAN_ENV};ASAN_OPTIONS=detect_leaks=0")
  else()
    set(NITI_PYTHON_OK OFF)
    set(NITI_PY_SKIP_WHY "the compiler does not say where its ASan runtime is (${_asan_name}), which python3 must preload in this sanitizer build")
  endif()
endif()

if(NITI_PYTHON_OK)
  # pytest's --basetemp (emptied by pytest at each run) needs its parent to exist.
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/work_python)
  foreach(t ${NITI_PY_TESTS})
    add_test(NAME python_${t}
             COMMAND ${NITI_PYTHON_EXE} -m pytest -q -rs -p no:cacheprovider
                     --basetemp=${CMAKE_CURRENT_BINARY_DIR}/work_python/${t}
                     ${PROJECT_SOURCE_DIR}/python/tests/test_${t}.py
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/python)
    set_tests_properties(python_${t} PROPERTIES LABELS python TIMEOUT 1200 ENVIRONMENT
      "${NITI_TEST_ENV};NITI_LIBRARY=$<TARGET_FILE:niti_shared>;NITI_CLI=$<TARGET_FILE:niti>;NITI_TEST_DATA=${NITI_DATA_DIR};NITI_TEST_GOLDEN=${NITI_GOLDEN_DIR};NITI_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONPATH=${PROJECT_SOURCE_DIR}/python;PYTHONDONTWRITEBYTECODE=1;${NITI_PY_SAN_ENV}")
  endforeach()
else()
  if(NOT NITI_PY_SKIP_WHY)
    set(NITI_PY_SKIP_WHY "no python3 with numpy and pytest (tried: ${NITI_PYTHON_EXE}); install python3-numpy and python3-pytest (tools/deps.sh does)")
  endif()
  foreach(t ${NITI_PY_TESTS})
    add_test(NAME python_${t} COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: ${NITI_PY_SKIP_WHY}")
    set_tests_properties(python_${t} PROPERTIES LABELS python SKIP_REGULAR_EXPRESSION "SKIPPED:")
  endforeach()
endif()
