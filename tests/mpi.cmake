# Data-parallel training over MPI (README "Scaling out"): mpirun -np 2 and -np 3 against one
# process, byte for byte, on ref and on POCL (one POCL thread per rank); resume across process
# counts; faults (a killed rank, different options, a device or data that does not open, other
# data). Built only with -DNITI_MPI=ON; otherwise each test is skipped with a message saying so.
set(NITI_MPI_TESTS
  mpi_lenet_ref_np2 mpi_lenet_ref_np3 mpi_lenet_cpu_np2 mpi_lenet_cpu_np3
  mpi_niti20_master_cpu_np3 mpi_niti20_master_ref_np2 mpi_cifar_small_cpu_np3
  mpi_vgg_small_7_cpu_np3 mpi_resume_across_np mpi_kill_rank mpi_options_mismatch
  mpi_bad_device mpi_bad_data mpi_every_step)
set(mpi_script ${CMAKE_CURRENT_SOURCE_DIR}/scripts/mpi_train.sh)
set(mpi_why "")
if(NOT NITI_MPI)
  set(mpi_why "niti was built without MPI (configure with -DNITI_MPI=ON)")
elseif(NOT MPIEXEC_EXECUTABLE)
  set(mpi_why "no mpiexec/mpirun was found")
elseif(NOT EXISTS ${NITI_DATA_DIR}/mnist OR NOT EXISTS ${NITI_DATA_DIR}/cifar10)
  set(mpi_why "the datasets are not in ${NITI_DATA_DIR}")
endif()
if(mpi_why)
  foreach(t ${NITI_MPI_TESTS})
    add_test(NAME ${t} COMMAND sh -c "echo '${t}: skipped: ${mpi_why}'; exit 77")
    set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77 LABELS mpi)
  endforeach()
  return()
endif()

function(niti_mpi_test name mode)
  add_test(NAME ${name}
           COMMAND bash ${mpi_script} ${mode} $<TARGET_FILE:niti> ${MPIEXEC_EXECUTABLE}
                   ${NITI_DATA_DIR} ${CMAKE_CURRENT_BINARY_DIR}/work/${name} ${ARGN})
  # RUN_SERIAL: several processes each; the machine's cores are few
  # Open MPI refuses to run as root unless told; the CI runs as root
  set_tests_properties(${name} PROPERTIES LABELS mpi
                       ENVIRONMENT "${NITI_TEST_ENV};OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
                       RUN_SERIAL TRUE TIMEOUT 600)
endfunction()

# LeNet on 300 MNIST images in batches of 50, which neither 3 nor (in the last batch of the
# niti20 case, 301 images) 2 processes divide
set(lenet train --dataset mnist --data ${NITI_DATA_DIR} --train-limit 300 --test-limit 100
    --batch 50 --quiet --run-id mpi-test --mu 3)
niti_mpi_test(mpi_lenet_ref_np2 same 2 ${lenet} --device ref)
niti_mpi_test(mpi_lenet_ref_np3 same 3 ${lenet} --device ref)
niti_mpi_test(mpi_lenet_cpu_np2 same 2 ${lenet} --device cpu)
niti_mpi_test(mpi_lenet_cpu_np3 same 3 ${lenet} --device cpu)
# niti20 with 16-bit master weights and weight decay; 301 images: the last batch has 1 image,
# so some processes have none
set(niti20 train --dataset mnist --data ${NITI_DATA_DIR} --train-limit 301 --test-limit 101
    --batch 50 --quiet --run-id mpi-test --rule niti20 --master-weights 16 --weight-decay --mu 2)
niti_mpi_test(mpi_niti20_master_cpu_np3 same 3 ${niti20} --device cpu)
niti_mpi_test(mpi_niti20_master_ref_np2 same 2 ${niti20} --device ref)
# CIFAR-10 with augmentation: a small net with every layer kind and dropout, and VGG-small-7
niti_mpi_test(mpi_cifar_small_cpu_np3 same 3 train --model ${CMAKE_CURRENT_SOURCE_DIR}/data/cifar_small.spec
              --dataset cifar10 --data ${NITI_DATA_DIR} --train-limit 200 --test-limit 50 --batch 40
              --epochs 2 --quiet --run-id mpi-test --device cpu)
niti_mpi_test(mpi_vgg_small_7_cpu_np3 same 3 train --model vgg-small-7 --dataset cifar10
              --data ${NITI_DATA_DIR} --train-limit 40 --test-limit 10 --batch 20 --epochs 1
              --quiet --run-id mpi-test --device cpu)
niti_mpi_test(mpi_every_step everystep cpu)
niti_mpi_test(mpi_resume_across_np resume cpu)
niti_mpi_test(mpi_kill_rank kill cpu)
niti_mpi_test(mpi_options_mismatch mismatch)
niti_mpi_test(mpi_bad_device baddevice)
niti_mpi_test(mpi_bad_data baddata)
