# Extra tests of the network issue (go/net.hpp, go/http.hpp); included (OPTIONAL) from
# tests/CMakeLists.txt.
#
# The HTTP examples' output (examples/fetch.cpp, examples/just_errors.cpp), checked by
# tests/examples_net_check.sh against the programs in ${CMAKE_BINARY_DIR}/examples.
# Each example serves HTTP on 127.0.0.1 inside its own process. Registered only when
# the examples are built.
if(GOCXX_BUILD_EXAMPLES)
  add_test(NAME examples_net_check
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/examples_net_check.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(examples_net_check PROPERTIES TIMEOUT 180)
endif()
