# `cpack -G DEB` (from the build directory): a Debian package of what
# cmake/install.cmake installs, for prefix /usr. Dependencies come from
# dpkg-shlibdeps on the installed binaries (libgrpc, libprotobuf-c,
# libssl3, liburing, p11-kit, ...), so they follow the libraries the build
# actually linked.
set(CPACK_PACKAGE_NAME tokenvault)
set(CPACK_PACKAGE_VENDOR "tokenvault")
set(CPACK_PACKAGE_CONTACT "tokenvault maintainers <tokenvault@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "tokenisation vault: gRPC server, CLI and C client library")
set(CPACK_PACKAGE_DESCRIPTION
    "tokenvaultd replaces sensitive values by format-preserving tokens, keeps\n its keys wrapped in a PKCS#11 HSM and audits every call. The package holds\n the server, the tokenvault command, libtokenvault with its header and\n pkg-config file, a hardened systemd unit, example configurations and\n man pages.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# softhsm2 is what --dev and `tokenvault hsm init` use; a production HSM
# brings its own PKCS#11 module.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "softhsm2")
include(CPack)
