# libFuzzer needs clang; the main build uses GCC. So fuzz targets live in a
# clang sub-build of the same tree (WARREN_FUZZERS_ONLY), and CTest runs each
# one for a bounded time from here.
if(NOT WARREN_FUZZ)
  return()
endif()
find_program(CLANGXX clang++)
if(NOT CLANGXX)
  message(WARNING "clang++ not found: fuzz targets are skipped")
  return()
endif()
include(ExternalProject)
set(WARREN_FUZZ_DIR ${CMAKE_BINARY_DIR}/fuzz-build)
set(WARREN_FUZZ_TARGETS fuzz_socketlock_server fuzz_socketlock_client fuzz_amqp091_frames fuzz_amqp091_engine fuzz_amqp091_client fuzz_amqp10_frames fuzz_amqp10_engine fuzz_store_segment fuzz_store_recovery)
ExternalProject_Add(warren_fuzzers
  SOURCE_DIR ${CMAKE_SOURCE_DIR}
  BINARY_DIR ${WARREN_FUZZ_DIR}
  CMAKE_ARGS -G Ninja -DCMAKE_CXX_COMPILER=${CLANGXX} -DCMAKE_BUILD_TYPE=Debug
             -DWARREN_FUZZERS_ONLY=ON -DWARREN_TESTS=OFF
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  USES_TERMINAL_BUILD ON)
# Short, so that make test stays within its budget on two cores: each run
# replays the committed corpus and searches a little further. Longer
# campaigns: -DWARREN_FUZZ_SECONDS=600, or run a target by hand.
set(WARREN_FUZZ_SECONDS 6 CACHE STRING "Seconds each fuzz target runs under CTest")
foreach(t ${WARREN_FUZZ_TARGETS})
  # New inputs go to the first corpus directory: keep it in the build tree so
  # a test run never dirties the source tree; the committed seeds come second.
  set(work_corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${t})
  file(MAKE_DIRECTORY ${work_corpus})
  # The client's large-frame path starts at 16 KiB frames: its inputs must hold some.
  set(max_len 8192)
  if(t STREQUAL fuzz_amqp091_client)
    set(max_len 65536)
  endif()
  add_test(NAME ${t}
    COMMAND ${WARREN_FUZZ_DIR}/fuzz/${t} -max_total_time=${WARREN_FUZZ_SECONDS}
            -max_len=${max_len} -print_final_stats=1 -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-corpus/
            ${work_corpus} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(${t} PROPERTIES TIMEOUT 300 LABELS fuzz)
endforeach()
