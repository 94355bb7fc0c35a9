# MemscopeExpectFail.cmake: the runner of memscope_add_test(... EXPECT_FAIL) (MemscopeTest.cmake).
#   cmake -P MemscopeExpectFail.cmake -- memscope-harness run ... -- prog args...
# Exits 0 only when the harness exits 1 (an assertion failed, as expected). A pass (0), a
# usage or runtime error (2), a crash or a missing harness exit 1: ctest's WILL_FAIL would
# count every one of those as the expected failure.

set(_cmd "")
set(_after_dashdash FALSE)
math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(_i RANGE ${_last})
  if(_after_dashdash)
    list(APPEND _cmd "${CMAKE_ARGV${_i}}")
  elseif("${CMAKE_ARGV${_i}}" STREQUAL "--")
    set(_after_dashdash TRUE)
  endif()
endforeach()
if(NOT _cmd)
  message(FATAL_ERROR "MemscopeExpectFail.cmake: no command; run it as cmake -P MemscopeExpectFail.cmake -- HARNESS ARGS...")
endif()

# stdout and stderr pass through to ctest's log as they are.
execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc)
if("${_rc}" STREQUAL "1")
  message("memscope: EXPECT_FAIL: an assertion failed, as expected (harness exit 1): pass")
elseif("${_rc}" STREQUAL "0")
  message(FATAL_ERROR "memscope: EXPECT_FAIL: every assertion held (harness exit 0), but this test expects one to fail")
elseif("${_rc}" STREQUAL "2")
  message(FATAL_ERROR "memscope: EXPECT_FAIL: usage or runtime error (harness exit 2), not an assertion failure; see the harness's message above")
else()
  message(FATAL_ERROR "memscope: EXPECT_FAIL: the harness did not finish with an assertion failure: ${_rc}")
endif()
