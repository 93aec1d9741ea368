# Embeds every cl/*.cl into a generated C table at build time, with CMake alone (no xxd/python):
# ${PROJECT_BINARY_DIR}/generated/niti_kernels.{c,h} hold {name, data, len} per kernel file.
# The library adds ${NITI_KERNEL_SOURCES_C} to its sources and depends on target niti_kernels.
file(GLOB NITI_CL_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cl/*.cl)
list(SORT NITI_CL_FILES)
set(NITI_KERNELS_GEN_DIR ${PROJECT_BINARY_DIR}/generated)
set(NITI_KERNEL_SOURCES_C ${NITI_KERNELS_GEN_DIR}/niti_kernels.c)
file(MAKE_DIRECTORY ${NITI_KERNELS_GEN_DIR})
# The list goes through a file so that paths with ';' or spaces survive the -D round trip.
string(REPLACE ";" "\n" NITI_CL_FILES_LINES "${NITI_CL_FILES}")
set(NITI_CL_LIST_OLD "")
if(EXISTS ${NITI_KERNELS_GEN_DIR}/niti_kernels.list)
  file(READ ${NITI_KERNELS_GEN_DIR}/niti_kernels.list NITI_CL_LIST_OLD)
endif()
if(NOT NITI_CL_LIST_OLD STREQUAL "${NITI_CL_FILES_LINES}\n")
  file(WRITE ${NITI_KERNELS_GEN_DIR}/niti_kernels.list "${NITI_CL_FILES_LINES}\n")
endif()
add_custom_command(
  OUTPUT ${NITI_KERNELS_GEN_DIR}/niti_kernels.c ${NITI_KERNELS_GEN_DIR}/niti_kernels.h
  COMMAND ${CMAKE_COMMAND} -DLIST=${NITI_KERNELS_GEN_DIR}/niti_kernels.list
          -DOUT_DIR=${NITI_KERNELS_GEN_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/embed_kernels.cmake
  DEPENDS ${NITI_CL_FILES} ${NITI_KERNELS_GEN_DIR}/niti_kernels.list
          ${PROJECT_SOURCE_DIR}/cmake/embed_kernels.cmake
  COMMENT "Embedding OpenCL kernels (cl/*.cl)"
  VERBATIM)
add_custom_target(niti_kernels DEPENDS ${NITI_KERNELS_GEN_DIR}/niti_kernels.c
                                       ${NITI_KERNELS_GEN_DIR}/niti_kernels.h)
set_source_files_properties(${NITI_KERNEL_SOURCES_C} PROPERTIES GENERATED TRUE)
