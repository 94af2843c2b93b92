# weft_add_header_check(TARGET HEADERS...): an object library with one source
# per header (relative to include/), each including its header twice, so the
# build fails if a header does not compile on its own or lacks its guard.
# The caller adds include paths, flags and libraries to TARGET.
function(weft_add_header_check target)
  set(sources "")
  foreach(header IN LISTS ARGN)
    string(MAKE_C_IDENTIFIER ${header} id)
    set(source ${CMAKE_CURRENT_BINARY_DIR}/${target}/${id}.cpp)
    file(CONFIGURE OUTPUT ${source} CONTENT "#include <${header}>\n#include <${header}>\n")
    list(APPEND sources ${source})
  endforeach()
  add_library(${target} OBJECT ${sources})
endfunction()
