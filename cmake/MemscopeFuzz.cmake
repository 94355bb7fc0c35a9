# MemscopeFuzz.cmake: memscope_add_fuzzer() for projects that use an installed memscope
# (included by memscopeConfig.cmake after memscope::fuzz is defined; docs/fuzz.md, README.md).
#
# memscope_add_fuzzer(NAME SOURCES src... [INCLUDES dir...] [LIBS lib...])
#   Adds the executable NAME: SOURCES define LLVMFuzzerTestOneInput (and may define
#   LLVMFuzzerInitialize); memscope::fuzz supplies main(). INCLUDES and LIBS are the target's
#   own include directories and libraries.
#
#   Configure the project with AFL++'s compiler to get a target afl-fuzz can fuzz:
#     cmake -S . -B build-afl -DCMAKE_C_COMPILER=afl-cc -DCMAKE_CXX_COMPILER=afl-c++
#   With any other compiler NAME is the same program without AFL++'s instrumentation: it
#   replays files and directories (with the oracle when run with LD_PRELOAD=libmemscope.so
#   MEMSCOPE_FUZZ=1), which is what a regression test of a corpus needs.
#
#   The optimization level is the build type's (-O1 or more keeps AFL++ fast). Flags added:
#   -g                        reports name functions, files and lines;
#   -gdwarf-aranges           elfutils 0.188 (Debian 12's libdw, which symbolizes reports)
#                             finds no file:line in clang 14's DWARF (afl-cc is clang) without
#                             an address-range table;
#   -fno-omit-frame-pointer   the tracker's stacks stay whole through optimized frames.
#   No sanitizer: the oracle runs with libmemscope.so preloaded, and a sanitizer's allocator
#   would replace the malloc it tracks.
function(memscope_add_fuzzer name)
  cmake_parse_arguments(PARSE_ARGV 1 _msf "" "" "SOURCES;INCLUDES;LIBS")
  if(_msf_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "memscope_add_fuzzer(${name}): unknown arguments '${_msf_UNPARSED_ARGUMENTS}'; "
                        "use memscope_add_fuzzer(NAME SOURCES src... [INCLUDES dir...] [LIBS lib...])")
  endif()
  if(NOT _msf_SOURCES)
    message(FATAL_ERROR "memscope_add_fuzzer(${name}): no SOURCES; name the files that define LLVMFuzzerTestOneInput")
  endif()
  if(NOT TARGET memscope::fuzz)
    message(FATAL_ERROR "memscope_add_fuzzer(${name}): memscope::fuzz needs libcjson, libdw and libelf with their "
                        "pkg-config files (Debian: apt-get install libcjson-dev libdw-dev libelf-dev)")
  endif()
  add_executable(${name} ${_msf_SOURCES})
  target_include_directories(${name} PRIVATE ${_msf_INCLUDES})
  target_link_libraries(${name} PRIVATE memscope::fuzz ${_msf_LIBS})
  target_compile_options(${name} PRIVATE -g -gdwarf-aranges -fno-omit-frame-pointer)
endfunction()
