# One man page made by help2man from a program's --help (complete, so the
# page cannot drift from the program), gzipped as Debian ships them. A
# build step (cmake -P) of cmake/Packaging.cmake's man_pages target, run
# again when the program changes, with WARREN_MAN_NAME, _SECTION, _SUMMARY,
# _BINARY, _SUBCOMMANDS (comma-separated; each has a --help of its own,
# which becomes a section of the page), WARREN_VERSION and WARREN_MAN_OUT.
get_filename_component(_work "${WARREN_MAN_OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${_work}")
set(_include "[SEE ALSO]\nwarrend(8), socketlock(1), warrenctl(1), warren-store(1); /usr/share/doc/warren/README.md\n")
string(REPLACE "," ";" _subcommands "${WARREN_MAN_SUBCOMMANDS}")
foreach(_sub IN LISTS _subcommands)
  execute_process(COMMAND "${WARREN_MAN_BINARY}" ${_sub} --help OUTPUT_VARIABLE _help ERROR_QUIET)
  string(REPLACE "${WARREN_MAN_BINARY}" "${WARREN_MAN_NAME}" _help "${_help}")
  string(REPLACE "\\" "\\e" _help "${_help}")  # troff: a backslash, and no line may start with . or '
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" _help "${_help}")
  string(TOUPPER "${WARREN_MAN_NAME} ${_sub}" _title)
  string(APPEND _include "[${_title}]\n.nf\n${_help}.fi\n")
endforeach()
set(_page "${_work}/${WARREN_MAN_NAME}.${WARREN_MAN_SECTION}")
file(WRITE "${_page}.h2m" "${_include}")
execute_process(
  COMMAND help2man --no-info --no-discard-stderr "--version-string=${WARREN_VERSION}" "--name=${WARREN_MAN_SUMMARY}"
          "--section=${WARREN_MAN_SECTION}" "--include=${_page}.h2m" "--output=${_page}" "${WARREN_MAN_BINARY}"
  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "help2man ${WARREN_MAN_NAME}: ${_err}")
endif()
execute_process(COMMAND gzip -9nf "${_page}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0 OR NOT EXISTS "${WARREN_MAN_OUT}")
  message(FATAL_ERROR "gzip ${_page} did not make ${WARREN_MAN_OUT}")
endif()
file(REMOVE "${_page}.h2m")
