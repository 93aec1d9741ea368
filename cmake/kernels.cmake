# Embeds cl/*.cl into a generated C file (placeholder until the OpenCL backend lands).
file(GLOB NITI_CL_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cl/*.cl)
set(NITI_KERNEL_SOURCES_C "")
add_custom_target(niti_kernels)
