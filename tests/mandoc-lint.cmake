# Fails when `mandoc -Tlint` reports anything for PAGE (mandoc's exit status
# ignores style messages, so the output is what counts).
execute_process(COMMAND ${MANDOC} -Tlint -Wstyle ${PAGE} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
  message(FATAL_ERROR "mandoc -Tlint ${PAGE}:\n${out}${err}")
endif()
