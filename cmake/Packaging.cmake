# Installing Warren (`make install`: cmake --install) and its Debian
# packages (`make deb`: cpack -G DEB).
#
# Two components, one package each:
#   server -> warren: warrend (/usr/sbin), socketlock, warrenctl and
#             warren-store (/usr/bin), the systemd unit, /etc/warren/warrend.toml
#             (a conffile), the sysusers.d entry, maintainer scripts that make
#             the warren user and enable and start the unit, the docs.
#   client -> libwarren-client-dev: the client library (static), its headers,
#             warren-client.pc and the WarrenClient CMake package
#             (src/client/CMakeLists.txt has its install rules).
#
# Paths that depend on the prefix (the unit's ExecStart, the configuration
# directory) are worked out when installing, not when configuring, so
# `cmake --install --prefix P`, DESTDIR and CPack's /usr all get a unit
# that points at its own warrend: cmake/InstallService.cmake.
include(GNUInstallDirs)
# Installing never builds: `make install` and `make deb` build first, and
# cpack's "preinstall" step would otherwise check every target of the tree
# (the test that packages the test build runs beside other tests).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS warrend RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT server)
install(TARGETS socketlock_cli warrenctl warren-store RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(CODE "set(WARREN_PACKAGING_DIR \"${CMAKE_SOURCE_DIR}/packaging\")" COMPONENT server)
install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/InstallService.cmake COMPONENT server)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT server)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT server FILES_MATCHING PATTERN "*.md")
install(FILES docs/client.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libwarren-client-dev COMPONENT client)
# Man pages from each program's --help, made by help2man when the program
# is built (cmake/ManPage.cmake; the man_pages target, in ALL).
find_program(WARREN_HELP2MAN help2man)
if(WARREN_HELP2MAN)
  set(man_pages)
  foreach(page
      "warrend|8|the Warren message broker (AMQP 0-9-1 and 1.0) and lock service|warrend|"
      "socketlock|1|read/write locks for the processes of one host over a Unix socket|socketlock_cli|run,serve,status"
      "warrenctl|1|rabbitmqctl's verbs over Warren's management HTTP API|warrenctl|"
      "warren-store|1|inspect warrend's durable storage without opening it|warren-store|ls,verify")
    string(REPLACE "|" ";" page "${page}")
    list(GET page 0 name)
    list(GET page 1 section)
    list(GET page 2 summary)
    list(GET page 3 target)
    list(GET page 4 subcommands)
    set(out ${CMAKE_BINARY_DIR}/man/${name}.${section}.gz)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -DWARREN_MAN_NAME=${name} -DWARREN_MAN_SECTION=${section} "-DWARREN_MAN_SUMMARY=${summary}"
              -DWARREN_MAN_BINARY=$<TARGET_FILE:${target}> -DWARREN_MAN_SUBCOMMANDS=${subcommands}
              -DWARREN_VERSION=${PROJECT_VERSION} -DWARREN_MAN_OUT=${out} -P ${CMAKE_SOURCE_DIR}/cmake/ManPage.cmake
      DEPENDS ${target} ${CMAKE_SOURCE_DIR}/cmake/ManPage.cmake
      COMMENT "Man page ${name}(${section}) from its --help" VERBATIM)
    list(APPEND man_pages ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT server)
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${man_pages})
else()
  message(STATUS "help2man not found: no man pages (apt install help2man)")
endif()

# CPack, Debian packages. `make deb` builds them from build/release.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME warren)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
# Installs with DESTDIR and the prefix /usr, as dpkg will: the unit's paths
# are worked out from the prefix (cmake/InstallService.cmake).
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server client)
# A placeholder (.invalid: it reaches no one) for whoever builds packages to set.
set(WARREN_DEB_MAINTAINER "Warren developers <maintainers@warren.invalid>" CACHE STRING
  "Maintainer: of the .deb packages")
set(CPACK_PACKAGE_CONTACT "${WARREN_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${WARREN_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # warren_0.1.0-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# xz, as Debian's own; the test's packages of the debug tree use none.
set(WARREN_DEB_COMPRESSION xz CACHE STRING "Compression of the .deb packages' data (xz, gzip, zstd, none)")
set(CPACK_DEBIAN_COMPRESSION_TYPE ${WARREN_DEB_COMPRESSION})
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from dpkg-shlibdeps (libssl3, libfmt9, libsystemd0, ...)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS OFF)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME warren)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
# adduser makes the warren user; init-system-helpers has deb-systemd-helper.
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS "python3-pika, amqp-tools")
# Descriptions: the first line is the summary; CPack indents the rest and
# turns blank lines into " .".
set(CPACK_DEBIAN_SERVER_DESCRIPTION "message broker (AMQP 0-9-1 and 1.0) and lock service
Warren serves stock RabbitMQ clients over AMQP 0-9-1 (pika, kombu,
amqplib, rabbitmq-c) and AMQP 1.0 clients (Qpid Proton, rhea) on one port:
exchanges, queues, acknowledgements, publisher confirms, transactions,
TTL, dead-lettering and priorities, with durable storage that survives
kill -9 and power loss. Locks over AMQP (mutex, read/write lock,
semaphore, with fencing tokens) are taken by consuming a lock queue.

socketlock serves read/write locks to the processes of one host over a
Unix socket. The management HTTP API and Prometheus metrics use
RabbitMQ's names, and warrenctl speaks rabbitmqctl's verbs.

This package runs warrend as a systemd service (warrend.service) as the
warren user, configured by /etc/warren/warrend.toml.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/postinst ${CMAKE_SOURCE_DIR}/packaging/prerm ${CMAKE_SOURCE_DIR}/packaging/postrm
  ${CMAKE_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME libwarren-client-dev)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SHLIBDEPS OFF)  # static libraries only
set(CPACK_DEBIAN_CLIENT_PACKAGE_DEPENDS "libfmt-dev")
set(CPACK_DEBIAN_CLIENT_DESCRIPTION "C++20 AMQP 0-9-1 client library of Warren (development files)
warren-client is a C++20 client for Warren and RabbitMQ whose publisher
confirms stay exact across automatic connection recovery. This package
has the static library, its headers, a pkg-config file (warren-client)
and a CMake package (find_package(WarrenClient), target Warren::client).")
# Debian's changelog.Debian.gz in each package's doc directory.
foreach(component server client)
  if(component STREQUAL server)
    set(docdir ${CMAKE_INSTALL_DOCDIR})
  else()
    set(docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/libwarren-client-dev)
  endif()
  install(CODE "set(WARREN_CHANGELOG_DOCDIR \"${docdir}\")
set(WARREN_VERSION ${PROJECT_VERSION})
set(WARREN_MAINTAINER \"${WARREN_DEB_MAINTAINER}\")" COMPONENT ${component})
  install(SCRIPT ${CMAKE_SOURCE_DIR}/cmake/InstallChangelog.cmake COMPONENT ${component})
endforeach()
include(CPack)
