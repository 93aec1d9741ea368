# The Python package's CMake helpers (issue #18), included by tests/python.cmake and by the
# install rule at the end of CMakeLists.txt.
#
# NITI_PYTHON_EXE: the python3 that runs the package's tests and whose site folder the install
#   rule targets: -DNITI_PYTHON=... if given, else the first of python3 on PATH, /usr/bin/python3
#   and /usr/local/bin/python3 that imports numpy and pytest, else the first that exists.
# NITI_PYTHON_OK: whether NITI_PYTHON_EXE imports numpy and pytest.
# NITI_PYTHON_SITE: where `cmake --install` puts the package, relative to the prefix:
#   -DNITI_PYTHON_INSTALL_DIR=... if given, else lib/pythonX.Y/dist-packages for a Debian-style
#   python3 (whose purelib is a dist-packages folder), else lib/pythonX.Y/site-packages.
# It sets normal variables of the including directory's scope, so each includer includes it
# (no include guard: the tests' directory and the top level both need them).

set(NITI_PYTHON "" CACHE FILEPATH "python3 for the Python package's tests (empty: search)")
set(NITI_PYTHON_INSTALL_DIR "" CACHE STRING
    "Where cmake --install puts the Python package, relative to the prefix (empty: python3's)")

set(NITI_PYTHON_EXE "")
set(NITI_PYTHON_OK OFF)
if(NITI_PYTHON)
  set(_niti_py_cands "${NITI_PYTHON}")
else()
  find_program(_NITI_PY_ON_PATH NAMES python3)
  set(_niti_py_cands ${_NITI_PY_ON_PATH} /usr/bin/python3 /usr/local/bin/python3)
  list(REMOVE_DUPLICATES _niti_py_cands)
endif()
foreach(_c ${_niti_py_cands})
  if(EXISTS "${_c}")
    if(NOT NITI_PYTHON_EXE)
      set(NITI_PYTHON_EXE "${_c}")
    endif()
    execute_process(COMMAND "${_c}" -c "import numpy, pytest" RESULT_VARIABLE _r
                    OUTPUT_QUIET ERROR_QUIET)
    if(_r EQUAL 0)
      set(NITI_PYTHON_EXE "${_c}")
      set(NITI_PYTHON_OK ON)
      break()
    endif()
  endif()
endforeach()

if(NITI_PYTHON_INSTALL_DIR)
  set(NITI_PYTHON_SITE "${NITI_PYTHON_INSTALL_DIR}")
elseif(NITI_PYTHON_EXE)
  execute_process(
    COMMAND "${NITI_PYTHON_EXE}" -c
      "import sys, sysconfig; print('lib/python%d.%d/%s' % (sys.version_info[0], sys.version_info[1], 'dist-packages' if 'dist-packages' in sysconfig.get_path('purelib') else 'site-packages'))"
    OUTPUT_VARIABLE NITI_PYTHON_SITE OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _r)
  if(NOT _r EQUAL 0)
    set(NITI_PYTHON_SITE "lib/python3/site-packages")
  endif()
else()
  set(NITI_PYTHON_SITE "lib/python3/site-packages")
endif()
