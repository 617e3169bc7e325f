# Fails when `mandoc -Tlint` reports anything for PAGE (mandoc's exit status
# ignores style messages, so the output is what counts).  A stale mandoc.db
# on the host ("outdated mandoc.db lacks ps(1) entry") says nothing about the
# page, so those lines are dropped.
execute_process(COMMAND ${MANDOC} -Tlint -Wstyle ${PAGE} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
string(REGEX REPLACE "mandoc: outdated mandoc.db[^\n]*\n?" "" err "${err}")
if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "mandoc -Tlint ${PAGE}:\n${out}${err}")
endif()
