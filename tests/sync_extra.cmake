# Extra tests of the sync / x/sync issue; included from tests/CMakeLists.txt.

# The crawler example's output (examples/crawler.cpp), checked by
# tests/examples_sync_check.sh against the program in ${CMAKE_BINARY_DIR}/examples.
# Registered only when the examples are built.
if(GOCXX_BUILD_EXAMPLES)
  add_test(NAME examples_sync_check
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/examples_sync_check.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(examples_sync_check PROPERTIES TIMEOUT 120)
endif()
