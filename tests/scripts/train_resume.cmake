# Resume identity: a run split by --max-steps (mid-epoch) or at an epoch boundary and continued
# with --resume must end with a checkpoint byte-identical to an uninterrupted run; and niti eval
# of that checkpoint must reproduce the training's final test accuracy.
# -D NITI=... -D DATA=... -D WORK=... -D DEVICE=...
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(common --device ${DEVICE} --dataset mnist --data ${DATA} --train-limit 256 --test-limit 64 --quiet)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

run(${NITI} train ${common} --batch 32 --epochs 2 --seed 7 --save ${WORK}/full.st)
string(REGEX MATCH "test accuracy: [0-9.]+% \\(([0-9]+)/([0-9]+)\\)" m "${last_out}")
if(NOT m)
  message(FATAL_ERROR "no test accuracy line in: ${last_out}")
endif()
set(train_acc "${CMAKE_MATCH_1}/${CMAKE_MATCH_2}")

# split mid-epoch (8 steps per epoch; stop after step 11) and resume
run(${NITI} train ${common} --batch 32 --epochs 2 --seed 7 --max-steps 11 --save ${WORK}/mid.st)
run(${NITI} train --resume ${WORK}/mid.st ${common} --save ${WORK}/mid.st)
# split at the epoch boundary and resume with more epochs
run(${NITI} train ${common} --batch 32 --epochs 1 --seed 7 --save ${WORK}/ep.st)
run(${NITI} train --resume ${WORK}/ep.st --epochs 2 ${common} --save ${WORK}/ep.st)

foreach(f mid ep)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/full.st ${WORK}/${f}.st
                  RESULT_VARIABLE diff)
  if(NOT diff EQUAL 0)
    message(FATAL_ERROR "${f}.st differs from the uninterrupted run's full.st")
  endif()
endforeach()

# a different seed must give different weights (the comparison above can fail)
run(${NITI} train ${common} --batch 32 --epochs 2 --seed 8 --save ${WORK}/other.st)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/full.st ${WORK}/other.st
                RESULT_VARIABLE diff)
if(diff EQUAL 0)
  message(FATAL_ERROR "seed 8 gave the same checkpoint as seed 7")
endif()

run(${NITI} eval ${WORK}/full.st --device ${DEVICE} --data ${DATA} --limit 64)
string(REGEX MATCH "accuracy: +[0-9.]+% \\(([0-9]+)/([0-9]+)\\)" m "${last_out}")
if(NOT m OR NOT "${CMAKE_MATCH_1}/${CMAKE_MATCH_2}" STREQUAL "${train_acc}")
  message(FATAL_ERROR "eval gave '${m}', training ended with ${train_acc}")
endif()
message(STATUS "resume identity and eval: ok (${train_acc})")
