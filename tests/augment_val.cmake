# niti train --augment MODE and --val N (issue #19).
# The mapping of every mode against the documented Philox formula, crop4-flip against the batch
# assembly from before the option existed, and the validation split (tests/test_augment.c).
niti_add_test_exe(test_augment test_augment.c)
foreach(part modes mapping split)
  add_test(NAME data_augment_${part} COMMAND test_augment ${part})
  set_tests_properties(data_augment_${part} PROPERTIES LABELS data TIMEOUT 300)
endforeach()
