/*
 * notify.h: telling the service manager (systemd) how logbusd is doing,
 * through the NOTIFY_SOCKET datagram protocol of sd_notify(3), without
 * linking libsystemd.
 *
 * Outside a Type=notify unit NOTIFY_SOCKET is unset and every call here is
 * a no-op, so the broker calls them unconditionally.
 */
#ifndef LOGBUS_NOTIFY_H
#define LOGBUS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notify {
	int fd; /* -1: nobody to notify */
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_usec; /* 0: no watchdog for this process */
	bool failed;            /* the last send failed (report it once) */
};

/* Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.  Returns 0 (n usable,
 * perhaps disabled), or -1 with err set when one of them is malformed or
 * the socket cannot be made: n is then disabled (or has no watchdog) and
 * the broker runs on. */
int notify_init(struct notify *n, char *err, size_t errlen);
void notify_fini(struct notify *n);
bool notify_enabled(const struct notify *n);

/* Send state, newline-separated "KEY=VALUE" lines.  Returns 0, or -1 with
 * errno set; a no-op returning 0 when disabled. */
int notify_send(struct notify *n, const char *state);

/* The messages of sd_notify(3); status may be NULL. */
int notify_ready(struct notify *n, const char *status);
int notify_reloading(struct notify *n, const char *status);
int notify_stopping(struct notify *n, const char *status);
int notify_status(struct notify *n, const char *status);
int notify_watchdog(struct notify *n);

#endif
