/*
 * paths.h: where the broker's sockets and files live when nobody says.
 *
 * Run directory: $LOGBUS_RUN_DIR, else /run/logbus for root, else
 * $XDG_RUNTIME_DIR/logbus, else /tmp/logbus-$UID.
 * Log directory: $LOGBUS_LOG_DIR, else /var/log/logbus for root, else
 * $XDG_STATE_HOME/logbus, else ~/.local/state/logbus.
 */
#ifndef LOGBUS_PATHS_H
#define LOGBUS_PATHS_H

#include <stddef.h>

/* Both return buf, or NULL when the result would not fit. */
const char *paths_default_run_dir(char *buf, size_t len);
const char *paths_default_log_dir(char *buf, size_t len);

/* "ipc://<run_dir>/<sock>" into buf; NULL when it does not fit in a
 * sockaddr_un path. */
const char *paths_socket_url(char *buf, size_t len, const char *run_dir,
                             const char *sock);

/* mkdir -p with mode for the missing components; 0 or -1 with errno. */
int paths_mkdir_p(const char *path, unsigned mode);

#endif
