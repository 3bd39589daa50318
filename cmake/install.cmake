# `cmake --install build [--prefix DIR]`: tokenvault as a system program.
#   sbin/tokenvaultd (a daemon: FHS puts system daemons in sbin)
#   bin/tokenvault, lib/libtokenvault.so.0 + .a, include/tokenvault.h,
#   lib/pkgconfig/tokenvault.pc (relocatable: the prefix comes from
#   ${pcfiledir}), lib/systemd/system/tokenvaultd.service (ExecStart
#   pointing at the installed tokenvaultd), share/doc/tokenvault/examples/
#   (the deploy/config files), man pages tokenvaultd(8), tokenvault(1),
#   tokenvault.yaml(5). Only target names are used here, so the directories
#   that define the targets need no install rules of their own.
include(GNUInstallDirs)

install(TARGETS tokenvaultd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT server)
install(TARGETS tokenvault RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(TARGETS tokenvault_shared tokenvault_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/client/c/lib/tokenvault.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# tokenvault.pc: "prefix=${pcfiledir}/../.." — one ".." per component of
# LIBDIR/pkgconfig, so the file finds its prefix wherever the tree lands.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "tokenvault.pc is relocatable: give CMAKE_INSTALL_LIBDIR relative to the prefix")
endif()
string(REPLACE "/" ";" tv_pc_parts "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
set(TV_PC_PREFIX_FROM_PCDIR "")
foreach(part IN LISTS tv_pc_parts)
  if(NOT part STREQUAL "" AND NOT part STREQUAL ".")
    string(APPEND TV_PC_PREFIX_FROM_PCDIR "../")
  endif()
endforeach()
string(REGEX REPLACE "/$" "" TV_PC_PREFIX_FROM_PCDIR "${TV_PC_PREFIX_FROM_PCDIR}")
configure_file(${PROJECT_SOURCE_DIR}/client/c/lib/tokenvault.pc.in
               ${PROJECT_BINARY_DIR}/client/c/tokenvault.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/client/c/tokenvault.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The systemd unit names the daemon by absolute path (systemd wants one):
# rewritten at install time for the prefix actually installed into, so a
# package built for /usr starts /usr/sbin/tokenvaultd.
set(tv_unit_src ${PROJECT_SOURCE_DIR}/deploy/systemd/tokenvaultd.service)
install(CODE "
  file(READ \"${tv_unit_src}\" tv_unit)
  string(REPLACE \"/usr/local/sbin/tokenvaultd\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/tokenvaultd\"
         tv_unit \"\${tv_unit}\")
  set(tv_unit_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  message(STATUS \"Installing: \${tv_unit_dir}/tokenvaultd.service\")
  file(MAKE_DIRECTORY \"\${tv_unit_dir}\")
  file(WRITE \"\${tv_unit_dir}/tokenvaultd.service\" \"\${tv_unit}\")
  file(CHMOD \"\${tv_unit_dir}/tokenvaultd.service\" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
" COMPONENT server)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/config/tokenvault.prod.yaml
              ${PROJECT_SOURCE_DIR}/deploy/config/tokenvault.dev.yaml
              ${PROJECT_SOURCE_DIR}/deploy/config/tokenvault.quickstart.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/doc/man/tokenvaultd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_SOURCE_DIR}/doc/man/tokenvault.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/doc/man/tokenvault.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
