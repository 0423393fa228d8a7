/*
 * ctl_messages.c: what logbusctl says on stderr, and the exit status that
 * goes with it.  Every message is one line starting "logbusctl: ", written
 * at once (stderr is unbuffered); a wrong command line ends with a pointer
 * to the command's --help and exit 2, a failed operation exits 1.  A
 * failure says what failed and where: the run directory and the socket
 * when logbusd cannot be reached.
 */
#include <stdarg.h>
#include <stdio.h>

#include <logbus/logbus.h>

#include "logbusctl.h"
#include "proto.h"

/* One line on stderr, written at once. */
__attribute__((format(printf, 1, 0))) static void
vsay(const char *fmt, va_list ap, const char *tail)
{
	char msg[2048];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "logbusctl: %s%s\n", msg, tail);
}

/* A wrong command line: one line with a pointer to the help, exit 2. */
int usage_error(const char *cmd, const char *fmt, ...)
{
	char hint[128];
	va_list ap;

	snprintf(hint, sizeof hint, " (see logbusctl %s%s--help)",
	         cmd ? cmd : "", cmd ? " " : "");
	va_start(ap, fmt);
	vsay(fmt, ap, hint);
	va_end(ap);
	return EXIT_USAGE;
}

/* A failed operation: one line, exit 1. */
int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, "");
	va_end(ap);
	return EXIT_FAIL;
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, "");
	va_end(ap);
}

/* The run directory the library will use, for messages. */
const char *run_dir_name(const char *run_dir, char *buf, size_t len)
{
	if (run_dir != NULL)
		return run_dir;
	if (logbus_default_run_dir(buf, len) == NULL)
		return "the default run directory";
	return buf;
}

/* A handle's error text, or the code's name when the handle has none. */
const char *detail_or(const char *detail, int rc)
{
	return (detail != NULL && *detail != '\0') ? detail
	                                           : logbus_strerror(rc);
}

/* An administration call's failure as one line; exit 1.  The library's
 * sentence names the socket when logbusd cannot be reached. */
int admin_failed(const char *what, const char *run_dir, int rc, const char *err)
{
	char dir[4096];

	if (rc == LOGBUS_EUNREACHABLE && *err == '\0')
		return fail("cannot reach logbusd at %s/%s: is logbusd "
		            "running?",
		            run_dir_name(run_dir, dir, sizeof dir), SOCK_QUERY);
	if (rc == LOGBUS_EUNREACHABLE || rc == LOGBUS_ETIMEDOUT)
		return fail("%s", detail_or(err, rc));
	return fail("%s: %s", what, detail_or(err, rc));
}
