/*
 * ctl_time.c: times on logbusctl's command line.  --since and --until take
 * what journalctl and systemd take: RFC 3339, local date and time, a span
 * before or after now ("-10min", "1h 30min ago", systemd's units), today,
 * yesterday, tomorrow, now and @SECONDS.  A date that does not exist is
 * refused, not rolled over; numbers are plain decimals, never strtod's hex
 * or "inf".  Also the monotonic clock the commands' waits are measured on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logbusctl.h"
#include "timefmt.h"

/* The most seconds that still fit in int64 nanoseconds either way. */
#define SECONDS_MAX (INT64_MAX / NS_PER_S - 1)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Exactly n digits at *p; *p moves past them. */
static bool take_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool seconds_to_ns(int64_t sec, long frac_ns, int64_t *out)
{
	if (sec > SECONDS_MAX || sec < -SECONDS_MAX)
		return false;
	*out = sec * NS_PER_S + frac_ns;
	return true;
}

/* systemd's time span units (a month is 30.44 days, a year 365.25). */
static const struct span_unit {
	const char *name;
	int64_t ns;
} span_units[] = {
    {"us", 1000},
    {"usec", 1000},
    {"ms", 1000000},
    {"msec", 1000000},
    {"s", NS_PER_S},
    {"sec", NS_PER_S},
    {"secs", NS_PER_S},
    {"second", NS_PER_S},
    {"seconds", NS_PER_S},
    {"m", 60 * NS_PER_S},
    {"min", 60 * NS_PER_S},
    {"mins", 60 * NS_PER_S},
    {"minute", 60 * NS_PER_S},
    {"minutes", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S},
    {"hr", 3600 * NS_PER_S},
    {"hrs", 3600 * NS_PER_S},
    {"hour", 3600 * NS_PER_S},
    {"hours", 3600 * NS_PER_S},
    {"d", 86400 * NS_PER_S},
    {"day", 86400 * NS_PER_S},
    {"days", 86400 * NS_PER_S},
    {"w", 604800 * NS_PER_S},
    {"week", 604800 * NS_PER_S},
    {"weeks", 604800 * NS_PER_S},
    {"M", 2629800 * NS_PER_S},
    {"month", 2629800 * NS_PER_S},
    {"months", 2629800 * NS_PER_S},
    {"y", 31557600 * NS_PER_S},
    {"year", 31557600 * NS_PER_S},
    {"years", 31557600 * NS_PER_S},
};

static int64_t span_unit_ns(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof span_units / sizeof span_units[0]; i++)
		if (strlen(span_units[i].name) == len &&
		    memcmp(span_units[i].name, s, len) == 0)
			return span_units[i].ns;
	return 0;
}

/*
 * "10min", "1h 30min", "2.5h", "90" (a bare number is seconds, as in
 * systemd): the len bytes at s as a span in ns.  Numbers are plain decimals,
 * never strtod's hex or "inf".
 */
static bool parse_span(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	double total = 0;
	bool any = false;

	for (;;) {
		const char *num, *unit;
		char text[32];
		int64_t mult;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		for (num = p; p < end && is_digit(*p); p++)
			;
		if (p < end && *p == '.')
			for (p++; p < end && is_digit(*p); p++)
				;
		if (p == num || (p - num == 1 && *num == '.') ||
		    (size_t)(p - num) >= sizeof text)
			return false;
		memcpy(text, num, (size_t)(p - num));
		text[p - num] = '\0';
		while (p < end && *p == ' ')
			p++;
		for (unit = p; p < end && is_alpha(*p); p++)
			;
		mult = p == unit ? NS_PER_S
		                 : span_unit_ns(unit, (size_t)(p - unit));
		if (mult == 0)
			return false;
		total += strtod(text, NULL) * (double)mult;
		if (total > 9e18)
			return false;
		any = true;
	}
	if (!any)
		return false;
	*out = (int64_t)total;
	return true;
}

/* "-10min", "+1h", "10min ago": now moved by a span. */
static bool parse_relative(const char *s, int64_t now, int64_t *out)
{
	size_t len = strlen(s);
	int64_t span;
	int sign = -1;

	if (*s == '-' || *s == '+') {
		sign = *s == '-' ? -1 : 1;
		s++;
		len--;
	} else if (len > 4 && strcmp(s + len - 4, " ago") == 0) {
		len -= 4;
	} else {
		return false;
	}
	if (!parse_span(s, len, &span))
		return false;
	if (sign < 0 ? now < INT64_MIN + span : now > INT64_MAX - span)
		return false;
	*out = sign < 0 ? now - span : now + span;
	return true;
}

/* Local midnight, days after today's (-1: yesterday). */
static bool local_midnight(int64_t now, int days, int64_t *out)
{
	time_t t = (time_t)(now / NS_PER_S);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return false;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday += days;
	tm.tm_isdst = -1;
	return seconds_to_ns(mktime(&tm), 0, out);
}

/* "@1700000000" or "@1700000000.25": seconds since the epoch. */
static bool parse_epoch(const char *s, int64_t *out)
{
	int64_t sec = 0;
	long frac = 0, scale = NS_PER_S / 10;

	if (!is_digit(*s))
		return false;
	for (; is_digit(*s); s++) {
		if (sec > SECONDS_MAX / 10)
			return false;
		sec = sec * 10 + (*s - '0');
	}
	if (*s == '.')
		for (s++; is_digit(*s); s++, scale /= 10)
			frac += (*s - '0') * scale;
	return *s == '\0' && seconds_to_ns(sec, frac, out);
}

/* HH:MM[:SS[.fraction]] into tm and *frac_ns. */
static bool parse_clock(const char **p, struct tm *tm, long *frac_ns)
{
	long scale = NS_PER_S / 10;

	*frac_ns = 0;
	tm->tm_sec = 0;
	if (!take_digits(p, 2, &tm->tm_hour) || **p != ':')
		return false;
	(*p)++;
	if (!take_digits(p, 2, &tm->tm_min))
		return false;
	if (**p == ':') {
		(*p)++;
		if (!take_digits(p, 2, &tm->tm_sec))
			return false;
		if (**p == '.' || **p == ',') {
			(*p)++;
			if (!is_digit(**p))
				return false;
			for (; is_digit(**p); (*p)++, scale /= 10)
				*frac_ns += (**p - '0') * scale;
		}
	}
	return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* What follows a time of day: nothing (local time), "Z", " UTC", "+02:00",
 * "-0530" or "+02"; *off_s is the offset east of UTC. */
static bool parse_zone(const char *p, bool *utc, long *off_s)
{
	int sign, h, m = 0;

	*utc = *p != '\0';
	*off_s = 0;
	if (*p == '\0' || strcmp(p, "Z") == 0 || strcmp(p, "z") == 0 ||
	    strcmp(p, " UTC") == 0 || strcmp(p, "UTC") == 0)
		return true;
	if (*p != '+' && *p != '-')
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if (!take_digits(&p, 2, &h))
		return false;
	if (*p == ':') {
		p++;
		if (!take_digits(&p, 2, &m))
			return false;
	} else if (*p != '\0' && !take_digits(&p, 2, &m)) {
		return false;
	}
	if (*p != '\0' || h > 23 || m > 59)
		return false;
	*off_s = sign * (h * 3600L + m * 60L);
	return true;
}

/*
 * RFC 3339 (2026-11-22T10:00:00.5+02:00), "2026-11-22 10:00[:00]" and
 * "2026-11-22" in local time, or "10:00[:00]" today.  A date that does not
 * exist (02-30) is refused, not rolled over.
 */
static bool parse_absolute(const char *s, int64_t now, int64_t *out)
{
	struct tm tm = {0}, day;
	const char *p = s;
	bool clock = false, utc;
	long frac = 0, off;
	time_t t;

	if (is_digit(p[0]) && is_digit(p[1]) && p[2] == ':') {
		t = (time_t)(now / NS_PER_S);
		if (localtime_r(&t, &tm) == NULL)
			return false;
		clock = true;
		if (!parse_clock(&p, &tm, &frac))
			return false;
	} else {
		if (!take_digits(&p, 4, &tm.tm_year) || *p != '-')
			return false;
		p++;
		if (!take_digits(&p, 2, &tm.tm_mon) || *p != '-')
			return false;
		p++;
		if (!take_digits(&p, 2, &tm.tm_mday) || tm.tm_mon < 1 ||
		    tm.tm_mon > 12 || tm.tm_mday < 1)
			return false;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		day = tm;
		if (timegm(&day) == (time_t)-1 || day.tm_mday != tm.tm_mday)
			return false;
		if ((*p == 'T' || *p == 't' || *p == ' ') && is_digit(p[1])) {
			p++;
			clock = true;
			if (!parse_clock(&p, &tm, &frac))
				return false;
		}
	}
	if (!parse_zone(p, &utc, &off) || (utc && !clock))
		return false;
	if (utc) {
		t = timegm(&tm) - off;
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	return seconds_to_ns(t, frac, out);
}

/* A --since or --until value as ns since the epoch; now is the command's
 * start, the same for both. */
bool parse_time(const char *s, int64_t now, int64_t *out)
{
	if (strcmp(s, "now") == 0) {
		*out = now;
		return true;
	}
	if (strcmp(s, "today") == 0)
		return local_midnight(now, 0, out);
	if (strcmp(s, "yesterday") == 0)
		return local_midnight(now, -1, out);
	if (strcmp(s, "tomorrow") == 0)
		return local_midnight(now, 1, out);
	if (*s == '@')
		return parse_epoch(s + 1, out);
	if (*s == '-' || *s == '+' ||
	    (strlen(s) > 4 && strcmp(s + strlen(s) - 4, " ago") == 0))
		return parse_relative(s, now, out);
	return parse_absolute(s, now, out);
}

bool parse_span_arg(const char *s, int64_t *ns)
{
	return parse_span(s, strlen(s), ns);
}

int64_t monotonic_ms(void)
{
	return timefmt_mono_ns() / 1000000;
}
