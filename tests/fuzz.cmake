# Fuzz targets (tests/fuzz/fuzz_*.c), one per parser: IDX images and labels, CIFAR-10 batches,
# safetensors, the checkpoint loader's device-free validation, model specs, mu schedules.
#  - Always (any compiler): fuzz_replay_<target> replays the committed seed corpus
#    (tests/fuzz/corpus/<target>/) and every crash found so far (tests/fuzz/regress/<target>/)
#    through the same LLVMFuzzerTestOneInput, driven by tests/fuzz/replay.c: a regression test.
#  - With -DNITI_FUZZ=ON (clang): the libFuzzer executables <target>; tools/fuzz.sh builds them
#    in build-fuzz and runs each for a bounded time.
#  - fuzz_gen_seeds OUTDIR regenerates the seed corpora (not a test).
set(NITI_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR}/fuzz)
file(GLOB NITI_FUZZ_TARGETS CONFIGURE_DEPENDS ${NITI_FUZZ_DIR}/fuzz_*.c)
foreach(src ${NITI_FUZZ_TARGETS})
  get_filename_component(t ${src} NAME_WE)
  niti_add_test_exe(${t}_replay ${src} ${NITI_FUZZ_DIR}/replay.c)
  target_include_directories(${t}_replay PRIVATE ${NITI_FUZZ_DIR})
  string(REGEX REPLACE "^fuzz_" "" short ${t})
  add_test(NAME fuzz_replay_${short}
           COMMAND ${t}_replay ${NITI_FUZZ_DIR}/corpus/${t} ${NITI_FUZZ_DIR}/regress/${t})
  set_tests_properties(fuzz_replay_${short} PROPERTIES LABELS "fuzz;host" TIMEOUT 120)
  if(NITI_FUZZ)
    niti_add_test_exe(${t} ${src})
    target_include_directories(${t} PRIVATE ${NITI_FUZZ_DIR})
    target_link_options(${t} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()
niti_add_test_exe(fuzz_gen_seeds ${NITI_FUZZ_DIR}/gen_seeds.c)
