# The AMQP 1.0 connection engine: connection, sessions and links over the
# broker core (included from this directory's CMakeLists.txt, before its
# fuzz-only return: the fuzz sub-build links the engine too).
add_library(warren_amqp10_engine STATIC
  ${CMAKE_CURRENT_LIST_DIR}/connection.cpp ${CMAKE_CURRENT_LIST_DIR}/session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/link.cpp ${CMAKE_CURRENT_LIST_DIR}/address.cpp
  ${CMAKE_CURRENT_LIST_DIR}/convert.cpp)
target_link_libraries(warren_amqp10_engine PUBLIC warren_amqp10 warren_broker)

if(WARREN_TESTS AND NOT WARREN_FUZZERS_ONLY)
  add_executable(amqp10_engine_test
    ${CMAKE_CURRENT_LIST_DIR}/connection_test.cpp ${CMAKE_CURRENT_LIST_DIR}/session_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/link_publish_test.cpp ${CMAKE_CURRENT_LIST_DIR}/link_consume_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/link_address_test.cpp ${CMAKE_CURRENT_LIST_DIR}/link_outcomes_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/engine_release_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/address_test.cpp ${CMAKE_CURRENT_LIST_DIR}/convert_test.cpp)
  target_link_libraries(amqp10_engine_test PRIVATE warren_amqp10_engine GTest::gtest GTest::gtest_main)
  gtest_discover_tests(amqp10_engine_test TEST_PREFIX "amqp10_engine." DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 120)
endif()
