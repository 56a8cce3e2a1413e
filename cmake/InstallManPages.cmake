# One man page, made at install time by help2man from the program's
# --help (complete, so the page cannot drift from the program) and
# gzipped, as Debian ships them. install(CODE) in cmake/Packaging.cmake
# sets WARREN_MAN_NAME, _SECTION, _SUMMARY, _BINARY, _SUBCOMMANDS (each
# with a --help of its own: a section of the page each), WARREN_VERSION
# and WARREN_MANDIR (under the prefix), then runs this. Without help2man
# (Debian's help2man package) the page is skipped with a warning.
find_program(_help2man help2man)
find_program(_gzip gzip)
if(NOT _help2man OR NOT _gzip)
  message(WARNING "help2man or gzip not found: no man page for ${WARREN_MAN_NAME} (apt install help2man)")
  return()
endif()
set(_tmp "$ENV{TMPDIR}")
if(NOT _tmp)
  set(_tmp /tmp)
endif()
string(RANDOM LENGTH 10 _nonce)
set(_work "${_tmp}/warren-man-${_nonce}")
file(MAKE_DIRECTORY "${_work}")

set(_include "[SEE ALSO]\nwarrend(8), socketlock(1), warrenctl(1), warren-store(1); /usr/share/doc/warren/README.md\n")
foreach(_sub IN LISTS WARREN_MAN_SUBCOMMANDS)
  execute_process(COMMAND "${WARREN_MAN_BINARY}" ${_sub} --help OUTPUT_VARIABLE _help ERROR_QUIET)
  string(REPLACE "${WARREN_MAN_BINARY}" "${WARREN_MAN_NAME}" _help "${_help}")
  string(REPLACE "\\" "\\e" _help "${_help}")  # troff: a backslash, and no line may start with . or '
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" _help "${_help}")
  string(TOUPPER "${WARREN_MAN_NAME} ${_sub}" _title)
  string(APPEND _include "[${_title}]\n.nf\n${_help}.fi\n")
endforeach()
file(WRITE "${_work}/include.h2m" "${_include}")

set(_page "${_work}/${WARREN_MAN_NAME}.${WARREN_MAN_SECTION}")
execute_process(
  COMMAND "${_help2man}" --no-info --no-discard-stderr "--version-string=${WARREN_VERSION}"
          "--name=${WARREN_MAN_SUMMARY}" "--section=${WARREN_MAN_SECTION}" "--include=${_work}/include.h2m"
          "--output=${_page}" "${WARREN_MAN_BINARY}"
  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  file(REMOVE_RECURSE "${_work}")
  message(FATAL_ERROR "help2man ${WARREN_MAN_NAME}: ${_err}")
endif()
execute_process(COMMAND "${_gzip}" -9nf "${_page}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(REMOVE_RECURSE "${_work}")
  message(FATAL_ERROR "gzip ${_page} failed")
endif()
file(INSTALL "${_page}.gz" DESTINATION "${CMAKE_INSTALL_PREFIX}/${WARREN_MANDIR}/man${WARREN_MAN_SECTION}"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(REMOVE_RECURSE "${_work}")
