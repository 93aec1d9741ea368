# Datasets (src/data.c): loaders, input tables, shuffle, batches/augmentation.
niti_add_test_exe(test_data test_data.c)
target_link_libraries(test_data PRIVATE ZLIB::ZLIB)

add_test(NAME data_unit COMMAND test_data unit)
# Real data: skipped (exit 77) when the folder is absent.
add_test(NAME data_mnist COMMAND test_data mnist ${NITI_DATA_DIR})
add_test(NAME data_cifar10 COMMAND test_data cifar10 ${NITI_DATA_DIR})
add_test(NAME data_fashion_mnist COMMAND test_data fashion-mnist /usr/share/datasets/fashion-mnist)
set_tests_properties(data_unit data_mnist data_cifar10 data_fashion_mnist PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS data ENVIRONMENT "NITI_DATA=")
