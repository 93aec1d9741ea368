# The Python package (python/niti, issue #18): its pytest suite, one CTest test per file, run
# with the python3 that has numpy and pytest (python/cmake/niti_python.cmake). The library under
# test is this build's libniti (NITI_LIBRARY); the CLI, the datasets and the build tree are
# passed in the environment. Skipped, with a message, only when numpy or pytest is missing
# (tools/deps.sh installs python3-numpy and python3-pytest). pytest's exit code 5 (no tests
# collected) is a failure like any other non-zero code.
include(${PROJECT_SOURCE_DIR}/python/cmake/niti_python.cmake)
set(NITI_PY_TESTS api errors identity sigint install examples)
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
      "${NITI_TEST_ENV};NITI_LIBRARY=$<TARGET_FILE:niti_shared>;NITI_CLI=$<TARGET_FILE:niti>;NITI_TEST_DATA=${NITI_DATA_DIR};NITI_TEST_GOLDEN=${NITI_GOLDEN_DIR};NITI_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONPATH=${PROJECT_SOURCE_DIR}/python;PYTHONDONTWRITEBYTECODE=1")
  endforeach()
else()
  foreach(t ${NITI_PY_TESTS})
    add_test(NAME python_${t} COMMAND ${CMAKE_COMMAND} -E echo
             "SKIPPED: no python3 with numpy and pytest (tried: ${NITI_PYTHON_EXE}); install python3-numpy and python3-pytest (tools/deps.sh does)")
    set_tests_properties(python_${t} PROPERTIES LABELS python SKIP_REGULAR_EXPRESSION "SKIPPED:")
  endforeach()
endif()
