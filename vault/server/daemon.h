/* The tokenvaultd process around a tv_service: command line, TLS files,
 * signals, logs, drain on SIGTERM. main() of tokenvaultd calls it with the
 * service it has (today: none wired; tests: a fake engine). */
#ifndef TV_SERVER_DAEMON_H
#define TV_SERVER_DAEMON_H

#include "vault/server/service.h"

/* tv_daemon_main runs the server for |service| until SIGTERM or SIGINT and
 * returns the process exit status: 0 after a clean drain, 2 for a usage or
 * configuration error, 1 for a failure at run time. */
int tv_daemon_main(int argc, char **argv, const tv_service *service);

#endif
