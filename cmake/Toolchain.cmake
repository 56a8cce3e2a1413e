# Compiler settings shared by every target: warnings, ccache, sanitizers.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# Designated initializers that leave members to their defaults are idiomatic C++20:
# GCC 12 still warns about them under -Wextra.
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers)
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  # -Og, GCC's optimisation for debugging: with the sanitizers it compiles
  # about a third faster than -O1 (a test file of the engine: 15 s against
  # 21 s), which keeps make test within its budget on two cores, and ASan's
  # reports stay readable. clang, for the fuzzers, reads it as -O1.
  add_compile_options(-Og -fno-omit-frame-pointer)
  # The sanitized builds are the test builds (make test, and its fuzzers'
  # clang sub-build): line tables are all
  # a sanitizer's report needs, and they compile a quarter faster than
  # full debug information (vhost.cpp: 11.5 s against 15.3 s). A build for
  # a debugger (WARREN_SANITIZE off) keeps -g.
  set(CMAKE_CXX_FLAGS_DEBUG "")
  if(WARREN_SANITIZE OR WARREN_FUZZERS_ONLY)
    add_compile_options(-g1)
  else()
    add_compile_options(-g)
  endif()
endif()

# The test builds (sanitized, and the fuzzers' clang sub-build) compile each
# target in batches of 8 source files as one unit: a library's files parse
# the same headers and instantiate the same templates, which a unity build
# does once (warren_vhost_store: 22 CPU-s against 38 file by file).
# So names at namespace scope in a .cpp (its anonymous namespace too) must
# not repeat another file's of the same target: share them in a header.
# Release builds (make run, benchmarks) compile file by file.
if(WARREN_SANITIZE OR WARREN_FUZZERS_ONLY)
  set(CMAKE_UNITY_BUILD ON)
  set(CMAKE_UNITY_BUILD_BATCH_SIZE 8)
endif()

if(WARREN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# warren_add_test(NAME name SOURCES ... LIBS ...): one GoogleTest binary,
# its cases registered individually with CTest.
function(warren_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT WARREN_TESTS OR WARREN_FUZZERS_ONLY)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  # Test files are mostly the same headers (GoogleTest, the component's)
  # parsed again: compiled in batches of 8 as one unit, a test binary builds
  # about three times faster (broker_test: 43 s against 137 s of CPU). So
  # names in a test file's anonymous namespace must not repeat another's.
  set_target_properties(${T_NAME} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 120)
endfunction()
