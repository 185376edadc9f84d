# keel_warnings(target): warnings are errors in keel's own code.
function(keel_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers
    # GCC 12 reports bogus -Wrestrict in std::string at -O2 (GCC bug 105329).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
endfunction()

# keel_module(name SRCS ... DEPS ... TESTS ... SERVER_TESTS ...)
#
# One static library `keel_<name>` per module of DESIGN.md, with its
# dependencies declared; its unit tests join the keel_tests binary, but
# SERVER_TESTS, the tests of the server's concurrent parts, join
# keel_server_tests, which scripts/test also builds and runs under
# ThreadSanitizer.
function(keel_module name)
  cmake_parse_arguments(M "" "" "SRCS;DEPS;TESTS;SERVER_TESTS" ${ARGN})
  add_library(keel_${name} STATIC ${M_SRCS})
  target_include_directories(keel_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(keel_${name} PUBLIC ${M_DEPS})
  keel_warnings(keel_${name})
  foreach(test ${M_TESTS})
    set_property(GLOBAL APPEND PROPERTY KEEL_TEST_SRCS ${PROJECT_SOURCE_DIR}/${test})
  endforeach()
  foreach(test ${M_SERVER_TESTS})
    set_property(GLOBAL APPEND PROPERTY KEEL_SERVER_TEST_SRCS ${PROJECT_SOURCE_DIR}/${test})
  endforeach()
endfunction()
