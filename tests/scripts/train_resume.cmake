# Resume identity: a run split by --max-steps (mid-epoch) or at an epoch boundary and continued
# with --resume must end with a checkpoint byte-identical to an uninterrupted run; and niti eval
# of that checkpoint must reproduce the training's final test accuracy.
# A checkpoint keeps the run's --save path and run id, so every run here saves to ck.st with the
# same --run-id, and each result is moved aside before the next run.
# -D NITI=... -D DATA=... -D WORK=... -D DEVICE=...
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(common --device ${DEVICE} --dataset mnist --data ${DATA} --train-limit 256 --test-limit 64 --quiet
    --run-id resume-test)
set(ck ${WORK}/ck.st)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

run(${NITI} train ${common} --batch 32 --epochs 2 --seed 7 --save ${ck})
file(RENAME ${ck} ${WORK}/full.st)
string(REGEX MATCH "test accuracy: [0-9.]+% \\(([0-9]+)/([0-9]+)\\)" m "${last_out}")
if(NOT m)
  message(FATAL_ERROR "no test accuracy line in: ${last_out}")
endif()
set(train_acc "${CMAKE_MATCH_1}/${CMAKE_MATCH_2}")

# split mid-epoch (8 steps per epoch; stop after step 11) and resume with the original options
run(${NITI} train ${common} --batch 32 --epochs 2 --seed 7 --max-steps 11 --save ${ck})
run(${NITI} train --resume ${ck} ${common} --batch 32 --epochs 2 --seed 7 --save ${ck})
file(RENAME ${ck} ${WORK}/mid.st)
# the same split, resumed with the printed hint alone
run(${NITI} train ${common} --batch 32 --epochs 2 --seed 7 --max-steps 11 --save ${ck})
string(REGEX MATCH "resume with: niti train --resume ([^\n]+)" m "${last_err}")
if(NOT m OR NOT CMAKE_MATCH_1 STREQUAL "${ck}")
  message(FATAL_ERROR "no usable resume hint in: ${last_err}")
endif()
run(${NITI} train --resume ${CMAKE_MATCH_1})
file(RENAME ${ck} ${WORK}/hint.st)
# split at the epoch boundary and resume with more epochs
run(${NITI} train ${common} --batch 32 --epochs 1 --seed 7 --save ${ck})
run(${NITI} train --resume ${ck} --epochs 2 --quiet)
file(RENAME ${ck} ${WORK}/ep.st)
# a new mu tail given when resuming equals that schedule from the start
run(${NITI} train ${common} --batch 32 --epochs 2 --seed 7 --mu 4,1:2 --save ${ck})
file(RENAME ${ck} ${WORK}/tail_full.st)
run(${NITI} train ${common} --batch 32 --epochs 1 --seed 7 --mu 4 --save ${ck})
run(${NITI} train --resume ${ck} --epochs 2 --mu 4,1:2 --quiet)
file(RENAME ${ck} ${WORK}/tail.st)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/tail_full.st ${WORK}/tail.st
                RESULT_VARIABLE diff)
if(NOT diff EQUAL 0)
  message(FATAL_ERROR "resuming with --mu 4,1:2 differs from a run with that schedule throughout")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/tail_full.st ${WORK}/full.st
                RESULT_VARIABLE diff)
if(diff EQUAL 0)
  message(FATAL_ERROR "mu 4,1:2 gave the same checkpoint as the default schedule")
endif()

foreach(f mid hint ep)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/full.st ${WORK}/${f}.st
                  RESULT_VARIABLE diff)
  if(NOT diff EQUAL 0)
    message(FATAL_ERROR "${f}.st differs from the uninterrupted run's full.st")
  endif()
endforeach()

# a different seed must give different weights (the comparison above can fail)
run(${NITI} train ${common} --batch 32 --epochs 2 --seed 8 --save ${ck})
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/full.st ${ck}
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
