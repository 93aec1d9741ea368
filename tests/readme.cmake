# The README's C API snippet (section "Embedding (C API)") is built and run as shown: extracted
# from README.md at configure time (a change to README.md re-runs the configuration).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/README.md)
file(READ ${PROJECT_SOURCE_DIR}/README.md NITI_README)
string(FIND "${NITI_README}" "## Embedding (C API)" NITI_EMB_AT)
if(NITI_EMB_AT LESS 0)
  message(FATAL_ERROR "README.md has no 'Embedding (C API)' section")
endif()
string(SUBSTRING "${NITI_README}" ${NITI_EMB_AT} -1 NITI_EMB)
string(FIND "${NITI_EMB}" "```c\n" NITI_C_AT)
string(FIND "${NITI_EMB}" "\n```\n" NITI_C_END)
if(NITI_C_AT LESS 0 OR NITI_C_END LESS NITI_C_AT)
  message(FATAL_ERROR "README.md: no ```c block in 'Embedding (C API)'")
endif()
math(EXPR NITI_C_AT "${NITI_C_AT} + 5")
math(EXPR NITI_C_LEN "${NITI_C_END} - ${NITI_C_AT} + 1")
string(SUBSTRING "${NITI_EMB}" ${NITI_C_AT} ${NITI_C_LEN} NITI_C_SNIPPET)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/readme_snippet.c "${NITI_C_SNIPPET}")
# only the public header: no src/ include path
add_executable(readme_c_snippet ${CMAKE_CURRENT_BINARY_DIR}/readme_snippet.c)
target_link_libraries(readme_c_snippet PRIVATE niti_static)
add_test(NAME readme_c_snippet COMMAND readme_c_snippet)
set_tests_properties(readme_c_snippet PROPERTIES WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
                     PASS_REGULAR_EXPRESSION "^saved; logits of image 0" LABELS "cli;api")
