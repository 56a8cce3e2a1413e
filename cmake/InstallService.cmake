# The service's files, placed at install time (install(SCRIPT) from
# cmake/Packaging.cmake): CMAKE_INSTALL_PREFIX is then the prefix being
# installed to (/usr for the .deb, CPack installing with DESTDIR), so the
# unit's ExecStart and --config name the files of this installation.
#
# Prefix /usr is Debian's layout: /etc/warren, /lib/systemd/system (Debian
# 12's unit directory), /usr/lib/sysusers.d. Any other prefix P keeps all
# under it: P/etc/warren, P/lib/systemd/system, P/lib/sysusers.d (systemd
# reads units from /usr/local/lib/systemd/system too). The data and runtime
# directories are systemd's StateDirectory=/RuntimeDirectory= whatever the
# prefix: /var/lib/warren and /run/warren.
set(_prefix "${CMAKE_INSTALL_PREFIX}")
if(_prefix STREQUAL "/usr")
  set(WARREN_CONFDIR /etc/warren)
  set(_unitdir /lib/systemd/system)
else()
  set(WARREN_CONFDIR ${_prefix}/etc/warren)
  set(_unitdir ${_prefix}/lib/systemd/system)
endif()
set(WARREN_SBINDIR ${_prefix}/sbin)
set(WARREN_DOCDIR ${_prefix}/share/doc/warren)
# Written in place (nothing in the build tree changes: tests install from
# it while others run), and listed in install_manifest.txt by hand.
set(_unit "$ENV{DESTDIR}${_unitdir}/warrend.service")
message(STATUS "Installing: ${_unit}")
configure_file(${WARREN_PACKAGING_DIR}/warrend.service.in "${_unit}" @ONLY
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_unit}")
# (file(INSTALL) puts DESTDIR before its destination itself.)
file(INSTALL ${WARREN_PACKAGING_DIR}/warren.sysusers DESTINATION "${_prefix}/lib/sysusers.d"
  RENAME warren.conf FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# An administrator's edited configuration is kept: the packaged default
# goes beside it as warrend.toml.dist (the .deb's dpkg asks instead: a
# conffile).
set(_conf "$ENV{DESTDIR}${WARREN_CONFDIR}/warrend.toml")
set(_rename warrend.toml)
if(EXISTS "${_conf}")
  file(READ "${_conf}" _old)
  file(READ ${WARREN_PACKAGING_DIR}/warrend.toml _new)
  if(NOT _old STREQUAL _new)
    set(_rename warrend.toml.dist)
    message(STATUS "Keeping ${_conf} (changed): the packaged default is warrend.toml.dist beside it")
  endif()
endif()
file(INSTALL ${WARREN_PACKAGING_DIR}/warrend.toml DESTINATION "${WARREN_CONFDIR}" RENAME ${_rename}
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
