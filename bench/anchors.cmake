# Anchor benchmarks: the same work as gocxx's benchmarks done with oneTBB, Boost.Fiber
# and std::thread, measured in the same run on the same machine (scripts/bench.sh).
#
# Included OPTIONALLY from bench/CMakeLists.txt (the target lands in <build>/bench/),
# or standalone through bench/anchors/CMakeLists.txt when gocxx itself does not build.
# Each library is optional: a missing one drops its cases, not the build. The source
# is bench/anchors/anchors.cpp — deliberately not *_bench.cpp, so bench/CMakeLists.txt's
# glob does not also build it without TBB and Boost.Fiber.

if(TARGET anchors_bench)
  return()
endif()

if(NOT TARGET benchmark::benchmark)
  find_package(benchmark QUIET)
endif()
if(NOT TARGET benchmark::benchmark)
  message(STATUS "gocxx anchors: Google Benchmark not found; skipping anchors_bench")
  return()
endif()

find_package(Threads REQUIRED)
find_package(TBB CONFIG QUIET)
find_package(boost_fiber 1.74 CONFIG QUIET)

add_executable(anchors_bench ${CMAKE_CURRENT_LIST_DIR}/anchors/anchors.cpp)
target_compile_features(anchors_bench PRIVATE cxx_std_20)
target_link_libraries(anchors_bench PRIVATE benchmark::benchmark Threads::Threads)

if(TARGET TBB::tbb)
  target_link_libraries(anchors_bench PRIVATE TBB::tbb)
  target_compile_definitions(anchors_bench PRIVATE GOCXX_ANCHOR_TBB=1)
  message(STATUS "gocxx anchors: oneTBB ${TBB_VERSION} found")
else()
  message(STATUS "gocxx anchors: oneTBB not found (apt-get install libtbb-dev); its cases are skipped")
endif()

if(TARGET Boost::fiber)
  target_link_libraries(anchors_bench PRIVATE Boost::fiber)
  target_compile_definitions(anchors_bench PRIVATE GOCXX_ANCHOR_FIBER=1)
  message(STATUS "gocxx anchors: Boost.Fiber ${boost_fiber_VERSION} found")
else()
  message(STATUS "gocxx anchors: Boost.Fiber not found (apt-get install libboost-fiber-dev); its cases are skipped")
endif()

if(DEFINED GOCXX_WARNINGS)
  target_compile_options(anchors_bench PRIVATE ${GOCXX_WARNINGS})
else()
  target_compile_options(anchors_bench PRIVATE -Wall -Wextra)
endif()
