# Extra tests of the channels issue; included (OPTIONAL) from tests/CMakeLists.txt.
#
# The channel examples' output (examples/md5all.cpp, examples/bounded_dispatch.cpp),
# checked by tests/examples_chan_check.sh against the programs in
# ${CMAKE_BINARY_DIR}/examples; md5all runs over the repository's src/ and its
# digests are compared with md5sum's. Registered only when the examples are built.
if(GOCXX_BUILD_EXAMPLES)
  add_test(NAME examples_chan_check
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/examples_chan_check.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
  set_tests_properties(examples_chan_check PROPERTIES TIMEOUT 180)
endif()
