# Fails when `mandoc -Tlint -Wstyle` reports anything for PAGE (mandoc's exit
# status ignores style messages, so the output is what counts).
#
# Cross references (.Xr) are checked against a manual tree of our own, TREE,
# not the host's manual database, whose contents and freshness vary from
# machine to machine: it holds every page in PAGES (this project's) and
# copies of the host's pages that PAGE refers to (makewhatis does not follow
# links out of the tree), indexed with makewhatis.
# A reference to a page that is in neither is reported, as it should be.
execute_process(COMMAND ${MANDOC} -Tlint -Wstyle ${PAGE} OUTPUT_QUIET ERROR_QUIET)  # mandoc runs at all

file(REMOVE_RECURSE ${TREE})
file(GLOB pages ${PAGES}/*.[1-9])
foreach(page ${pages})
  string(REGEX REPLACE ".*\\.([1-9])$" "\\1" section ${page})
  file(COPY ${page} DESTINATION ${TREE}/man${section})
endforeach()
file(STRINGS ${PAGE} references REGEX "^\\.Xr ")
foreach(reference ${references})
  if(reference MATCHES "^\\.Xr ([^ ]+) ([1-9][a-z]*)")
    set(name ${CMAKE_MATCH_1})
    set(section ${CMAKE_MATCH_2})
    string(SUBSTRING ${section} 0 1 number)
    foreach(suffix "" ".gz")
      set(host /usr/share/man/man${number}/${name}.${section}${suffix})
      if(EXISTS ${host} AND NOT EXISTS ${TREE}/man${number}/${name}.${section}${suffix})
        file(COPY ${host} DESTINATION ${TREE}/man${number} FOLLOW_SYMLINK_CHAIN)
      endif()
    endforeach()
  endif()
endforeach()
if(MAKEWHATIS)
  execute_process(COMMAND ${MAKEWHATIS} ${TREE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "makewhatis ${TREE}:\n${out}${err}")
  endif()
endif()

execute_process(COMMAND ${MANDOC} -Tlint -Wstyle -M ${TREE} ${PAGE} OUTPUT_VARIABLE out ERROR_VARIABLE err
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "mandoc -Tlint ${PAGE}:\n${out}${err}")
endif()
