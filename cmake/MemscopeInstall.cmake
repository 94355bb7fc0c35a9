# MemscopeInstall.cmake: what `cmake --install` adds for using memscope outside this tree
# (issues 9 and 11): one static archive with the fuzz driver, pkg-config files and a CMake
# package. Included at the end of the top-level CMakeLists.txt, after every target exists.
#
# Installed layout (PREFIX from CMAKE_INSTALL_PREFIX or `cmake --install --prefix`;
# docs/install.md):
#   lib/libmemscope_fuzz.a                 driver + analysis + msfiles, one archive
#   lib/pkgconfig/memscope-fuzz.pc         Cflags/Libs for afl-cc (configured at install time)
#   lib/pkgconfig/memscope.pc              memscope.h, harness= and preload= (relocatable)
#   lib/cmake/memscope/memscopeConfig.cmake, memscopeConfigVersion.cmake, MemscopeFuzz.cmake,
#                      MemscopeTest.cmake, MemscopeExpectFail.cmake
# (lib/libmemscope.so, include/memscope.h and every bin/ program are installed by their own
# directories: an install(TARGETS) beside each add_executable.)

include(CMakePackageConfigHelpers)

# One archive instead of three: a user then links -lmemscope_fuzz and never needs to know the
# order of memscope's internal libraries. Built from the same object files as the in-tree
# libraries (no second compile); its own output directory, because its file name is the
# in-tree driver's, libmemscope_fuzz.a.
add_library(memscope_fuzz_dist STATIC
  $<TARGET_OBJECTS:memscope_fuzz> $<TARGET_OBJECTS:msanalysis> $<TARGET_OBJECTS:msfiles>)
set_target_properties(memscope_fuzz_dist PROPERTIES
  OUTPUT_NAME memscope_fuzz
  ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/dist
  LINKER_LANGUAGE C)
install(TARGETS memscope_fuzz_dist ARCHIVE DESTINATION lib)
if(MEMSCOPE_SAN_FLAGS)
  # The objects of a sanitizer build call the sanitizer runtime, which neither the .pc file nor
  # memscope::fuzz links: such an install is for this tree's own tests, not for users.
  install(CODE "message(WARNING \"memscope: libmemscope_fuzz.a from a sanitizer build needs the same -fsanitize flags at link; install from a build without MEMSCOPE_SANITIZE/MEMSCOPE_TSAN\")")
endif()

# The .pc file names absolute paths, so it is configured when the install runs: a prefix given
# with `cmake --install --prefix P` (as the install tests do) is known only then. A relative P
# is made absolute (it is relative to where the install runs); DESTDIR is not part of it, as a
# staged package's .pc must name the final prefix.
set(MEMSCOPE_PC_IN ${PROJECT_SOURCE_DIR}/fuzz/memscope-fuzz.pc.in)
set(MEMSCOPE_PC_OUT ${PROJECT_BINARY_DIR}/dist/memscope-fuzz.pc)
install(CODE "
  get_filename_component(MEMSCOPE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\" ABSOLUTE)
  set(MEMSCOPE_PC_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${MEMSCOPE_PC_IN}\" \"${MEMSCOPE_PC_OUT}\" @ONLY)
")
install(FILES ${MEMSCOPE_PC_OUT} DESTINATION lib/pkgconfig)

# memscope.pc names its prefix relative to itself (${pcfiledir}), so unlike memscope-fuzz.pc
# it is configured now and stays right when the prefix is moved.
configure_file(${CMAKE_CURRENT_LIST_DIR}/memscope.pc.in ${PROJECT_BINARY_DIR}/dist/memscope.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dist/memscope.pc DESTINATION lib/pkgconfig)

# The CMake package finds its prefix from its own location (lib/cmake/memscope/../../..), so
# it is configured here and holds no path.
set(MEMSCOPE_CMAKE_DIR lib/cmake/memscope)
configure_file(${CMAKE_CURRENT_LIST_DIR}/memscopeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/dist/memscopeConfig.cmake @ONLY)
# 0.x: a minor release may change the driver's interface, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dist/memscopeConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/dist/memscopeConfig.cmake
  ${PROJECT_BINARY_DIR}/dist/memscopeConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/MemscopeFuzz.cmake
  ${CMAKE_CURRENT_LIST_DIR}/MemscopeTest.cmake
  ${CMAKE_CURRENT_LIST_DIR}/MemscopeExpectFail.cmake
  DESTINATION ${MEMSCOPE_CMAKE_DIR})
