# Extra tests beyond the GoogleTest executables; included from tests/CMakeLists.txt.

# The errgroup examples' output (examples/{timeout,parallel,closure_pitfall,
# child_cancels_parent,bounded_fanout}.cpp), checked by tests/examples_check.sh against
# the programs in ${CMAKE_BINARY_DIR}/examples. Registered only when the examples are
# built; the example targets are created after this file is read, which add_test does
# not mind (the script runs the binaries by path at test time).
if(GOCXX_BUILD_EXAMPLES)
  add_test(NAME examples_check
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/examples_check.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(examples_check PROPERTIES TIMEOUT 180)
endif()
