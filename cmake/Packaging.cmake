# Packaging (issue 6, "Install"): `cpack` in the build directory makes a Debian package,
# safe-server_<version>-<release>_<arch>.deb, holding
#   /usr/bin/safe-server, /usr/bin/safe-client, /usr/bin/safe-admin   (stripped)
#   /lib/systemd/system/safe-server.service                            (systemd/)
#   /lib/systemd/system/safe-server@.service                           (made from it, below)
#   /etc/safe-server/safe-server.conf                                  (conffile; conf/)
#   /usr/share/man/man{1,5,8}/...gz                                    (docs/man/, gzip -9n)
#   /usr/share/doc/safe-server/{copyright,changelog.Debian.gz}, and operations.md, threema.md,
#   hosting.md with every document they link to (below), examples/safe-server.rules.yml
# with Depends computed by dpkg-shlibdeps and maintainer scripts that enable and (re)start the
# unit as debhelper's would (cmake/debian/). tests/packaging builds it, unpacks it into a scratch
# root and runs the binaries from there; docs/operations.md lists the lintian tags left and why.
#
# Release builds for Debian should take the distribution's hardening flags, e.g.
#   CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
#   LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo

set(SAFE_PACKAGE_CONTACT "Safe Server maintainers <safe-server@example.org>"
    CACHE STRING "Maintainer of the Debian package (Name <address>)")
set(SAFE_PACKAGE_RELEASE "1" CACHE STRING "Debian revision of the package")
set(SAFE_DEB_VERSION "${PROJECT_VERSION}-${SAFE_PACKAGE_RELEASE}")

set(safe_package_dir "${CMAKE_BINARY_DIR}/package")
find_program(SAFE_GZIP gzip REQUIRED)

# Man pages: the version filled in, then compressed reproducibly (-n: no name or time stamp).
set(safe_man_pages safe-server.8 safe-server.conf.5 safe-admin.8 safe-client.1)
set(safe_man_outputs "")
foreach(page IN LISTS safe_man_pages)
  configure_file("${PROJECT_SOURCE_DIR}/docs/man/${page}" "${safe_package_dir}/man/${page}" @ONLY)
  add_custom_command(
    OUTPUT "${safe_package_dir}/man/${page}.gz"
    COMMAND "${SAFE_GZIP}" -9n -f -k "${safe_package_dir}/man/${page}"
    DEPENDS "${safe_package_dir}/man/${page}"
    COMMENT "Compressing the man page ${page}")
  list(APPEND safe_man_outputs "${safe_package_dir}/man/${page}.gz")
  string(REGEX MATCH "[0-9]$" section "${page}")
  install(FILES "${safe_package_dir}/man/${page}.gz" DESTINATION "share/man/man${section}")
endforeach()

configure_file("${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in"
               "${safe_package_dir}/changelog.Debian" @ONLY)
add_custom_command(
  OUTPUT "${safe_package_dir}/changelog.Debian.gz"
  COMMAND "${SAFE_GZIP}" -9n -f -k "${safe_package_dir}/changelog.Debian"
  DEPENDS "${safe_package_dir}/changelog.Debian"
  COMMENT "Compressing changelog.Debian")
add_custom_target(safe_package_files ALL
                  DEPENDS ${safe_man_outputs} "${safe_package_dir}/changelog.Debian.gz")

# The template unit safe-server@.service, for several instances on one host (docs/hosting.md):
# made from systemd/safe-server.service, so that both keep the same sandbox, with the instance's
# own configuration, state directory, data directory and key. The key stays inside the state
# directory, the only place ProtectSystem=strict lets the service write.
set(safe_instance_unit "${CMAKE_BINARY_DIR}/systemd/safe-server@.service")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             "${PROJECT_SOURCE_DIR}/systemd/safe-server.service")
file(READ "${PROJECT_SOURCE_DIR}/systemd/safe-server.service" safe_unit_text)
foreach(pair IN ITEMS
        "Description=[^\n]*|Description=Safe Server instance %i (self-hosted Threema Safe backups)"
        "StateDirectory=[^\n]*|StateDirectory=safe-server-%i"
        "ExecStart=/[^\n]*|ExecStart=/usr/bin/safe-server --config /etc/safe-server/%i.conf --data-dir /var/lib/safe-server-%i/data --key-file /var/lib/safe-server-%i/data.key")
  string(FIND "${pair}" "|" bar)
  string(SUBSTRING "${pair}" 0 ${bar} pattern)
  math(EXPR bar "${bar} + 1")
  string(SUBSTRING "${pair}" ${bar} -1 replacement)
  # Only the setting at the start of a line, never the commented examples.
  string(REGEX MATCHALL "\n${pattern}" found "${safe_unit_text}")
  list(LENGTH found count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "systemd/safe-server.service: expected one line ${pattern}, found ${count}")
  endif()
  string(REGEX REPLACE "\n${pattern}" "\n${replacement}" safe_unit_text "${safe_unit_text}")
endforeach()
file(WRITE "${safe_instance_unit}.tmp"
"# safe-server@.service: one safe-server instance per name, made by cmake/Packaging.cmake from
# safe-server.service (whose comments follow; read safe-server@NAME for safe-server and
# /var/lib/safe-server-NAME for /var/lib/safe-server). The instance NAME reads
# /etc/safe-server/NAME.conf (give each its own listen and admin-listen), keeps its data in
# /var/lib/safe-server-NAME/data and its key in /var/lib/safe-server-NAME/data.key:
#   systemctl enable --now safe-server@a safe-server@b
# See docs/hosting.md (running several instances).
#
${safe_unit_text}")
# Rewritten only when it changed, so that nothing depending on it is rebuilt for nothing.
file(COPY_FILE "${safe_instance_unit}.tmp" "${safe_instance_unit}" ONLY_IF_DIFFERENT)
file(REMOVE "${safe_instance_unit}.tmp")

# Absolute destinations: Debian's places, whatever the prefix (/usr in the package).
install(FILES "${PROJECT_SOURCE_DIR}/systemd/safe-server.service" "${safe_instance_unit}"
        DESTINATION /lib/systemd/system)
install(FILES "${PROJECT_SOURCE_DIR}/conf/safe-server.conf" DESTINATION /etc/safe-server)
install(FILES "${PROJECT_SOURCE_DIR}/cmake/debian/copyright"
              "${safe_package_dir}/changelog.Debian.gz"
        DESTINATION share/doc/safe-server)
# Prometheus alerting rules, to copy to /etc/prometheus (docs/hosting.md).
install(FILES "${PROJECT_SOURCE_DIR}/conf/safe-server.rules.yml"
        DESTINATION share/doc/safe-server/examples)

# The documents for the person who runs the server, and every file under docs/ they link to,
# followed from link to link, so that no link in the package leads nowhere (tests/packaging checks
# each one). Read at configure time; editing a document reconfigures.
set(safe_shipped_docs operations.md threema.md hosting.md)
set(safe_docs_to_read ${safe_shipped_docs})
while(safe_docs_to_read)
  list(POP_FRONT safe_docs_to_read doc)
  set(doc_path "${PROJECT_SOURCE_DIR}/docs/${doc}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${doc_path}")
  if(NOT doc MATCHES "\\.md$")
    continue()
  endif()
  file(READ "${doc_path}" doc_text)
  get_filename_component(doc_dir "${doc}" DIRECTORY)
  # Markdown links [text](target), without a scheme; an #anchor is dropped. The "](" is replaced
  # first: a list element holding a square bracket would not split at ';'.
  string(REPLACE "](" "<link>" doc_text "${doc_text}")
  string(REGEX MATCHALL "<link>[^][):# ]+" links "${doc_text}")
  foreach(link IN LISTS links)
    string(SUBSTRING "${link}" 6 -1 target)
    if(doc_dir)
      set(target "${doc_dir}/${target}")
    endif()
    cmake_path(NORMAL_PATH target)
    if(target MATCHES "^\\.\\." OR NOT EXISTS "${PROJECT_SOURCE_DIR}/docs/${target}"
       OR IS_DIRECTORY "${PROJECT_SOURCE_DIR}/docs/${target}")
      continue()  # outside docs/ or missing: tests/packaging reports it
    endif()
    if(NOT target IN_LIST safe_shipped_docs)
      list(APPEND safe_shipped_docs "${target}")
      list(APPEND safe_docs_to_read "${target}")
    endif()
  endforeach()
endwhile()
foreach(doc IN LISTS safe_shipped_docs)
  get_filename_component(doc_dir "${doc}" DIRECTORY)
  install(FILES "${PROJECT_SOURCE_DIR}/docs/${doc}" DESTINATION "share/doc/safe-server/${doc_dir}")
endforeach()

# `cpack` and `make install` install what is built and build nothing themselves (else cpack
# would first build every target, tests included): build first, e.g.
#   cmake --build build --target safe-server safe-client safe-admin safe_package_files
# (tests/packaging does exactly that before it runs cpack).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "safe-server")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${SAFE_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted Threema Safe backup server")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
# Only what install() above and the three binaries' install(TARGETS) name.
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};${PROJECT_NAME};ALL;/")

set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_RELEASE "${SAFE_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/cmake/debian/conffiles"
    "${PROJECT_SOURCE_DIR}/cmake/debian/postinst"
    "${PROJECT_SOURCE_DIR}/cmake/debian/prerm"
    "${PROJECT_SOURCE_DIR}/cmake/debian/postrm")
# The extended description; CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY before it as the
# synopsis and formats the lines (an empty line separates paragraphs).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Safe Server stores the encrypted Threema Safe backups that the Threema apps
(Android, iOS and Desktop) upload, so that a person, a company or a hosting
provider can keep them on their own machines. It speaks the Threema Safe
HTTP API, never sees a password or a backup's contents, seals what it stores
under a server key, deletes backups that are no longer refreshed, and offers
HTTP Basic and token authentication, TLS, throttling of password guessing
and Prometheus metrics.

The package also holds safe-client, which backs up and restores a Threema
identity from the command line, and safe-admin, the operator's tool for
statistics, checkpoints, restores, verification and password hashes.")

include(CPack)
