/*
 * notify.c: the sd_notify(3) protocol, spoken directly (notify.h).
 *
 * NOTIFY_SOCKET names an AF_UNIX datagram socket: a path ("/run/systemd/
 * notify") or, with a leading '@', an abstract address.  Each message is one
 * datagram of "KEY=VALUE" lines.  The socket is ours, close-on-exec, and
 * never connected: sendto() names the address each time, so a service
 * manager that re-created its socket is still reached.  MSG_NOSIGNAL keeps
 * a vanished listener from killing the broker with SIGPIPE.
 *
 * WATCHDOG_USEC asks for a "WATCHDOG=1" more often than that; WATCHDOG_PID,
 * when set, says which process it asks: another process's watchdog is not
 * ours to feed (a child that inherited the environment, for instance).
 */
#include "notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timefmt.h"

static int errf(char *err, size_t errlen, const char *fmt, const char *val)
{
	snprintf(err, errlen, fmt, val);
	return -1;
}

/* A decimal number without sign or trailing text, or false. */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int parse_address(struct notify *n, const char *sock, char *err,
                         size_t errlen)
{
	size_t len = strlen(sock);

	if (sock[0] != '/' && sock[0] != '@')
		return errf(err, errlen,
		            "NOTIFY_SOCKET=%s is neither an absolute path nor "
		            "an abstract address ('@name'); not notifying "
		            "the service manager",
		            sock);
	if (len < 2 || len > sizeof n->addr.sun_path - (sock[0] == '/'))
		return errf(err, errlen,
		            "NOTIFY_SOCKET=%s is too short or too long for a "
		            "socket address; not notifying the service "
		            "manager",
		            sock);
	memset(&n->addr, 0, sizeof n->addr);
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, sock, len);
	if (sock[0] == '@')
		n->addr.sun_path[0] = '\0';
	/* An abstract address is exactly its bytes; a path has its NUL. */
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	                         (sock[0] == '/'));
	return 0;
}

static int parse_watchdog(struct notify *n, char *err, size_t errlen)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (usec == NULL)
		return 0;
	if (!parse_u64(usec, &v) || v == 0)
		return errf(err, errlen,
		            "WATCHDOG_USEC=%s is not a positive number of "
		            "microseconds; not feeding the watchdog",
		            usec);
	if (pid) {
		if (!parse_u64(pid, &p) || p == 0)
			return errf(err, errlen,
			            "WATCHDOG_PID=%s is not a process id; not "
			            "feeding the watchdog",
			            pid);
		if (p != (uint64_t)getpid())
			return 0; /* another process's watchdog */
	}
	n->watchdog_usec = v;
	return 0;
}

int notify_init(struct notify *n, char *err, size_t errlen)
{
	const char *sock = getenv("NOTIFY_SOCKET");

	memset(n, 0, sizeof *n);
	n->fd = -1;
	if (sock == NULL || *sock == '\0')
		return 0;
	if (parse_address(n, sock, err, errlen) < 0)
		return -1;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		snprintf(err, errlen,
		         "cannot make a socket to notify %s: %s; not "
		         "notifying the service manager",
		         sock, strerror(errno));
		return -1;
	}
	return parse_watchdog(n, err, errlen);
}

void notify_fini(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	n->watchdog_usec = 0;
}

bool notify_enabled(const struct notify *n)
{
	return n->fd >= 0;
}

int notify_send(struct notify *n, const char *state)
{
	if (n->fd < 0)
		return 0;
	ssize_t rv;
	do
		rv = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL,
		            (const struct sockaddr *)&n->addr, n->addrlen);
	while (rv < 0 && errno == EINTR);
	return rv < 0 ? -1 : 0;
}

/* state, then "STATUS=status" when there is one. */
static int send_with_status(struct notify *n, const char *state,
                            const char *status)
{
	char msg[1024];

	if (n->fd < 0)
		return 0;
	if (status == NULL)
		return notify_send(n, state);
	snprintf(msg, sizeof msg, "%s%sSTATUS=%s", state, *state ? "\n" : "",
	         status);
	return notify_send(n, msg);
}

int notify_ready(struct notify *n, const char *status)
{
	return send_with_status(n, "READY=1", status);
}

/* systemd wants the time the reload began with RELOADING=1, to tell this
 * reload from an earlier one (Type=notify-reload). */
int notify_reloading(struct notify *n, const char *status)
{
	char state[64];

	snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)timefmt_mono_ns() / 1000);
	return send_with_status(n, state, status);
}

int notify_stopping(struct notify *n, const char *status)
{
	return send_with_status(n, "STOPPING=1", status);
}

int notify_status(struct notify *n, const char *status)
{
	return send_with_status(n, "", status);
}

int notify_watchdog(struct notify *n)
{
	return notify_send(n, "WATCHDOG=1");
}
