# share/doc/<package>/changelog.Debian.gz, which Debian asks of every
# package with a Debian revision: one entry for this version, dated now
# (or SOURCE_DATE_EPOCH). The project's history is its git log. Run by
# install(CODE) from cmake/Packaging.cmake with WARREN_CHANGELOG_DOCDIR
# (under the prefix), WARREN_VERSION, WARREN_MAINTAINER.
find_program(_gzip gzip)
if(NOT _gzip)
  message(WARNING "gzip not found: no changelog.Debian.gz")
  return()
endif()
string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(_tmp "$ENV{TMPDIR}")
if(NOT _tmp)
  set(_tmp /tmp)
endif()
string(RANDOM LENGTH 10 _nonce)
set(_work "${_tmp}/warren-changelog-${_nonce}")
file(WRITE "${_work}/changelog.Debian" "warren (${WARREN_VERSION}-1) unstable; urgency=medium

  * Built with CPack from the Warren source tree (make deb).

 -- ${WARREN_MAINTAINER}  ${_date}
")
execute_process(COMMAND "${_gzip}" -9nf "${_work}/changelog.Debian" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "gzip changelog.Debian failed")
endif()
file(INSTALL "${_work}/changelog.Debian.gz" DESTINATION "${CMAKE_INSTALL_PREFIX}/${WARREN_CHANGELOG_DOCDIR}"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(REMOVE_RECURSE "${_work}")
