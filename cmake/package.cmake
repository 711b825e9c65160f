# package.cmake - install rules and the Debian package (`cpack -G DEB` in the
# build directory). Layout: binaries in /usr/sbin, the unit in
# /lib/systemd/system, the configuration (conffiles) and filters in
# /etc/xdpban, man pages in /usr/share/man. Release packages come from a
# Release build without sanitizers:
#   cmake -S . -B build-deb -G Ninja -DCMAKE_BUILD_TYPE=Release -DXDPBAN_TESTS=OFF -DXDPBAN_BENCH=OFF
#   ninja -C build-deb && (cd build-deb && cpack -G DEB)
# (cpack installs under /usr whatever CMAKE_INSTALL_PREFIX says.)
include(GNUInstallDirs)

set(XDPBAN_SYSTEMD_UNITDIR /lib/systemd/system CACHE PATH "Where the systemd unit is installed")
# Fixed, whatever the prefix: the daemon and the unit look there.
set(XDPBAN_CONFDIR /etc/xdpban)

# Configuration shipped to /etc/xdpban, relative to deploy/etc/xdpban; every
# file is a conffile (dpkg keeps the admin's edits on upgrade).
set(XDPBAN_CONF_FILES
    xdpban.conf
    jail.conf
    jail.d/sshd.conf
    jail.d/postfix-sasl.conf
    jail.d/dovecot.conf
    jail.d/asterisk.conf
    jail.d/recidive.conf
    jail.d/sip-flood.conf)
set(XDPBAN_FILTERS sshd postfix-sasl dovecot asterisk recidive)
set(XDPBAN_MAN_PAGES xdpband.8 xdpban.8 xdpban.conf.5)

install(TARGETS xdpband xdpban RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES deploy/systemd/xdpband.service DESTINATION ${XDPBAN_SYSTEMD_UNITDIR})

set(conffiles "")
foreach(f IN LISTS XDPBAN_CONF_FILES)
  get_filename_component(sub ${f} DIRECTORY)
  install(FILES deploy/etc/xdpban/${f} DESTINATION ${XDPBAN_CONFDIR}/${sub})
  string(APPEND conffiles "${XDPBAN_CONFDIR}/${f}\n")
endforeach()
foreach(f IN LISTS XDPBAN_FILTERS)
  install(FILES deploy/filter.d/${f}.conf DESTINATION ${XDPBAN_CONFDIR}/filter.d)
  string(APPEND conffiles "${XDPBAN_CONFDIR}/filter.d/${f}.conf\n")
endforeach()

# Man pages, compressed as Debian policy asks (gzip -9n: no name, no time stamp).
find_program(GZIP gzip REQUIRED)
set(man_gz "")
foreach(page IN LISTS XDPBAN_MAN_PAGES)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh -c "'${GZIP}' -9n -c '${PROJECT_SOURCE_DIR}/man/${page}' > '${out}'"
    DEPENDS ${PROJECT_SOURCE_DIR}/man/${page}
    COMMENT "man ${page}"
    VERBATIM)
  list(APPEND man_gz ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man ALL DEPENDS ${man_gz})

# Maintainer scripts: enable the unit like debhelper does, (re)start it only
# where systemd runs and policy-rc.d allows (deb-systemd-invoke).
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${conffiles}")
foreach(script postinst prerm postrm)
  configure_file(deploy/debian/${script} ${CMAKE_BINARY_DIR}/debian/${script} @ONLY)
endforeach()

set(CPACK_PACKAGE_NAME xdpban)
set(CPACK_PACKAGE_VENDOR xdpban)
set(CPACK_PACKAGE_CONTACT "xdpban maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "intrusion blocker with fail2ban's filters and bans enforced in XDP")
set(CPACK_PACKAGE_DESCRIPTION
    "xdpband follows logs (sshd, Postfix, Dovecot, Asterisk, ...) with fail2ban's\n\
filter.d and jail syntax and bans offending addresses in pinned BPF maps that\n\
an XDP program enforces in the network driver, before the kernel allocates a\n\
socket buffer. xdpban is its command line: ban, unban, allow, list, status,\n\
stats, import blocklists, test filters.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# bpftool shows the maps (README: Inspecting the maps); rsyslog writes the
# /var/log files the default jails prefer (they read the journal without it).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "bpftool")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "rsyslog")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/debian/conffiles ${CMAKE_BINARY_DIR}/debian/postinst
    ${CMAKE_BINARY_DIR}/debian/prerm ${CMAKE_BINARY_DIR}/debian/postrm)
include(CPack)
