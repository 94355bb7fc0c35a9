# MemscopeTest.cmake: memscope_add_test() for projects that use an installed memscope
# (included by memscopeConfig.cmake after memscope::harness is defined; docs/install.md).
#
# memscope_add_test(NAME COMMAND prog [args...]
#                   [MAX_LEAK_BYTES size] [MAX_PEAK_BYTES size]
#                   [MAX_SCOPE_PEAK scope=size ...] [MAX_OVERHEAD ratio]
#                   [SUPPRESSIONS file] [HARNESS_ARGS opt...] [LABELS label...]
#                   [WORKING_DIRECTORY dir] [EXPECT_FAIL])
#
#   A ctest test NAME that runs `memscope-harness run [limits] -- prog args...`: prog runs
#   under the preload tracker, and the test fails when prog fails or a limit is exceeded.
#   Only the limits given are checked (the harness's own defaults otherwise: the exit status).
#   - COMMAND: as add_test's, the name of an executable target (its file is used, and the
#     target is built before the test can run) or a path.
#   - SIZE: 4096, 24MB, 24MiB, 1.5GiB (memscope-harness run --help).
#   - MAX_SCOPE_PEAK scope=size: peak live heap inside memscope_scope_begin/end("scope")
#     (memscope.h); repeat the pair for several scopes.
#   - HARNESS_ARGS: any other `memscope-harness run` options, e.g. --timeout 30 --html.
#   - Reports go to ${CMAKE_CURRENT_BINARY_DIR}/memscope/NAME (summary.json, trace, ...),
#     JUnit to ${CMAKE_BINARY_DIR}/memscope-junit/NAME.xml; the test has the label memscope
#     (ctest -L memscope) plus LABELS.
#   - EXPECT_FAIL: the test passes only when the harness says an assertion failed (exit 1).
#     Unlike ctest's WILL_FAIL, a usage or runtime error (exit 2: a bad option, a missing
#     program, no trace), a crash or a pass all make it fail.

# Global, not a variable: memscope_add_test may be called from a directory whose scope
# never saw this file's variables (CMAKE_CURRENT_FUNCTION_LIST_DIR needs CMake 3.17).
set_property(GLOBAL PROPERTY MEMSCOPE_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(memscope_add_test name)
  cmake_parse_arguments(PARSE_ARGV 1 _mst "EXPECT_FAIL"
    "MAX_LEAK_BYTES;MAX_PEAK_BYTES;MAX_OVERHEAD;SUPPRESSIONS;WORKING_DIRECTORY"
    "COMMAND;MAX_SCOPE_PEAK;HARNESS_ARGS;LABELS")
  set(_usage "memscope_add_test(NAME COMMAND prog args... [MAX_LEAK_BYTES n] [MAX_PEAK_BYTES n] "
             "[MAX_SCOPE_PEAK scope=n ...] [MAX_OVERHEAD r] [SUPPRESSIONS file] [HARNESS_ARGS ...] "
             "[LABELS ...] [WORKING_DIRECTORY dir] [EXPECT_FAIL])")
  if(_mst_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "memscope_add_test(${name}): unknown arguments '${_mst_UNPARSED_ARGUMENTS}'; use ${_usage}")
  endif()
  if(NOT _mst_COMMAND)
    message(FATAL_ERROR "memscope_add_test(${name}): no COMMAND; use ${_usage}")
  endif()
  if(NOT TARGET memscope::harness)
    message(FATAL_ERROR "memscope_add_test(${name}): memscope::harness is not defined here; "
                        "call find_package(memscope) in this directory or a parent one")
  endif()

  list(POP_FRONT _mst_COMMAND _prog)
  if(TARGET "${_prog}")
    set(_prog "$<TARGET_FILE:${_prog}>")
  endif()

  set(_out "${CMAKE_CURRENT_BINARY_DIR}/memscope/${name}")
  set(_junit_dir "${CMAKE_BINARY_DIR}/memscope-junit")
  # The harness writes --junit into an existing folder only.
  file(MAKE_DIRECTORY "${_junit_dir}")
  set(_args run --no-progress --out "${_out}" --junit "${_junit_dir}/${name}.xml")
  if(DEFINED _mst_MAX_LEAK_BYTES)
    list(APPEND _args --max-leak-bytes "${_mst_MAX_LEAK_BYTES}")
  endif()
  if(DEFINED _mst_MAX_PEAK_BYTES)
    list(APPEND _args --max-peak-bytes "${_mst_MAX_PEAK_BYTES}")
  endif()
  foreach(_scope IN LISTS _mst_MAX_SCOPE_PEAK)
    list(APPEND _args --max-scope-peak "${_scope}")
  endforeach()
  if(DEFINED _mst_MAX_OVERHEAD)
    list(APPEND _args --max-overhead "${_mst_MAX_OVERHEAD}")
  endif()
  if(DEFINED _mst_SUPPRESSIONS)
    get_filename_component(_supp "${_mst_SUPPRESSIONS}" ABSOLUTE)
    list(APPEND _args --suppressions "${_supp}")
  endif()
  list(APPEND _args ${_mst_HARNESS_ARGS} -- "${_prog}" ${_mst_COMMAND})

  set(_cmd "$<TARGET_FILE:memscope::harness>" ${_args})
  if(_mst_EXPECT_FAIL)
    # A script maps the harness's exit 1 to a pass and everything else to a failure; `--`
    # keeps cmake from reading the harness's options as its own.
    get_property(_dir GLOBAL PROPERTY MEMSCOPE_CMAKE_DIR)
    set(_cmd "${CMAKE_COMMAND}" -P "${_dir}/MemscopeExpectFail.cmake" -- ${_cmd})
  endif()
  if(DEFINED _mst_WORKING_DIRECTORY)
    add_test(NAME ${name} COMMAND ${_cmd} WORKING_DIRECTORY "${_mst_WORKING_DIRECTORY}")
  else()
    add_test(NAME ${name} COMMAND ${_cmd})
  endif()
  set(_labels memscope ${_mst_LABELS})
  set_tests_properties(${name} PROPERTIES LABELS "${_labels}")
endfunction()
