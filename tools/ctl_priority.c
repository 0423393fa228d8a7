/*
 * ctl_priority.c: tail's -p, as journalctl users and Python users write it.
 *
 * A value is a level, or a range FROM..TO in either order (journalctl's
 * warning..err).  A level is
 *  - a syslog priority, by name or number as journalctl takes them: emerg 0,
 *    alert 1, crit 2, err 3, warning 4, notice 5, info 6, debug 7;
 *  - a logbus (Python) level: debug, info, warning (warn), error,
 *    critical (fatal), or a number 10..255.
 * 8 and 9 are neither and are refused, like any other value: no value
 * silently means "everything" (`-p 3` once meant Python level 3).
 *
 * A name stands for a band of logbus levels, the same bands `logbusctl
 * services` counts in: emerg, alert, crit and critical are CRITICAL and up
 * (50..255); err and error ERROR (40..49); warning WARNING (30..39);
 * notice and info INFO (20..29: logbus has no level between INFO and
 * WARNING, and Python programs log what syslog calls notice at INFO);
 * debug DEBUG (10..19).  A number 10..255 stands for itself.  Alone, a
 * level keeps its band's bottom and everything above; a range keeps from
 * the lower end's bottom to the upper end's top.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <logbus/logbus.h>

#include "args.h"
#include "logbusctl.h"

#define BAD_PRIORITY                                                           \
	"bad -p '%s': use a level (emerg, alert, crit, err, warning, "         \
	"notice, info, debug or 0..7 as in journalctl; critical, error, "      \
	"10..255 as in Python) or a range like warning..err"

/* A band of logbus levels; top 0: no upper bound. */
struct band {
	int bottom, top;
};

static const struct {
	const char *name;
	struct band band;
} names[] = {
    {"emerg", {LOGBUS_CRITICAL, 0}},
    {"alert", {LOGBUS_CRITICAL, 0}},
    {"crit", {LOGBUS_CRITICAL, 0}},
    {"critical", {LOGBUS_CRITICAL, 0}},
    {"fatal", {LOGBUS_CRITICAL, 0}},
    {"err", {LOGBUS_ERROR, LOGBUS_CRITICAL - 1}},
    {"error", {LOGBUS_ERROR, LOGBUS_CRITICAL - 1}},
    {"warning", {LOGBUS_WARNING, LOGBUS_ERROR - 1}},
    {"warn", {LOGBUS_WARNING, LOGBUS_ERROR - 1}},
    {"notice", {LOGBUS_INFO, LOGBUS_WARNING - 1}},
    {"info", {LOGBUS_INFO, LOGBUS_WARNING - 1}},
    {"debug", {LOGBUS_DEBUG, LOGBUS_INFO - 1}},
};

/* The syslog priorities 0..7, by number. */
static const char *const syslog_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* One end: the n bytes at s. */
static bool parse_level(const char *s, size_t n, struct band *out)
{
	char text[16];
	int64_t v;

	if (n == 0 || n >= sizeof text)
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	if (args_int64(text, 0, 255, &v)) {
		if (v <= 7)
			return parse_level(syslog_names[v],
			                   strlen(syslog_names[v]), out);
		if (v < LOGBUS_DEBUG)
			return false; /* 8, 9: neither */
		out->bottom = out->top = (int)v;
		return true;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(names[i].name, text) == 0) {
			*out = names[i].band;
			return true;
		}
	return false;
}

int priority_arg(const char *cmd, const char *arg, int *min, int *max)
{
	const char *dots = strstr(arg, "..");
	struct band a, b;

	if (dots == NULL) {
		if (!parse_level(arg, strlen(arg), &a))
			return usage_error(cmd, BAD_PRIORITY, arg);
		*min = a.bottom;
		*max = 0;
		return PARSE_OK;
	}
	if (!parse_level(arg, (size_t)(dots - arg), &a) ||
	    !parse_level(dots + 2, strlen(dots + 2), &b))
		return usage_error(cmd, BAD_PRIORITY, arg);
	*min = a.bottom < b.bottom ? a.bottom : b.bottom;
	*max = a.top == 0 || b.top == 0 ? 0 : (a.top > b.top ? a.top : b.top);
	return PARSE_OK;
}
