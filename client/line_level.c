/*
 * line_level.c: logbus_line_level, the level a line of a command's output
 * names itself, so that `logbusctl run` and the Python binding's
 * logbus.run record uvicorn's and Python logging's INFO lines on stderr as
 * INFO, not as the stream's WARNING: one rule for both.
 *
 * The rule, exactly (README's `run` says the same): a line keeps its own
 * level when it starts with one of
 *
 *   LEVEL:                  INFO:     Started server process [42]
 *                           WARNING:root:disk almost full
 *   [LEVEL]                 [ERROR] cannot bind
 *   TIME [LEVEL]            2026-12-06 10:00:00,123 [ERROR] app: boom
 *   TIME LEVEL(space or :)  2026-12-06 10:00:00,123 ERROR app: boom
 *   TIME - LEVEL -          2026-12-06 10:00:00,123 - ERROR - boom
 *   TIME - NAME - LEVEL -   2026-12-06 10:00:00,123 - app.db - ERROR - boom
 *   [TIME ...] [PID] [LEVEL]  (gunicorn; [PID] may be left out)
 *
 * LEVEL is DEBUG, INFO, WARNING, ERROR or CRITICAL, or WARN (WARNING) or
 * FATAL (CRITICAL), in capitals, the word whole.  TIME is YYYY-MM-DD, a
 * space or T, HH:MM:SS, then optionally ,digits or .digits, then
 * optionally Z or +HH:MM, +HHMM, -HH:MM, -HHMM; in gunicorn's brackets
 * anything up to 12 bytes may follow it.  Nothing may come before: a line
 * that only has such a word later on (`x INFO: y`), starts with a space,
 * or spells it otherwise (`info:`, `INFOS:`) takes the stream's level.
 */
#include <stdbool.h>
#include <string.h>

#include <logbus/logbus.h>

#define ZONE_IN_BRACKETS_MAX 12

static const struct {
	const char *name;
	size_t len;
	int level;
} level_names[] = {
    {"DEBUG", 5, LOGBUS_DEBUG},     {"INFO", 4, LOGBUS_INFO},
    {"WARNING", 7, LOGBUS_WARNING}, {"WARN", 4, LOGBUS_WARNING},
    {"ERROR", 5, LOGBUS_ERROR},     {"CRITICAL", 8, LOGBUS_CRITICAL},
    {"FATAL", 5, LOGBUS_CRITICAL},
};

/* The level whose name starts s and is followed by the byte end (*used:
 * both); -1 when there is none. */
static int level_word(const char *s, size_t n, char end, size_t *used)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0];
	     i++) {
		size_t len = level_names[i].len;
		if (n > len && s[len] == end &&
		    memcmp(s, level_names[i].name, len) == 0) {
			*used = len + 1;
			return level_names[i].level;
		}
	}
	return -1;
}

/* s matches shape, where 'd' is a digit and '?' a space or 'T'. */
static bool shaped(const char *s, size_t n, const char *shape)
{
	size_t len = strlen(shape);

	if (n < len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = shape[i] == 'd'   ? c >= '0' && c <= '9'
		          : shape[i] == '?' ? c == ' ' || c == 'T'
		                            : c == shape[i];
		if (!ok)
			return false;
	}
	return true;
}

/* The bytes of the time s starts with (see above), or 0. */
static size_t time_len(const char *s, size_t n)
{
	size_t i = strlen("dddd-dd-dd?dd:dd:dd");

	if (!shaped(s, n, "dddd-dd-dd?dd:dd:dd"))
		return 0;
	if (i + 1 < n && (s[i] == ',' || s[i] == '.') && s[i + 1] >= '0' &&
	    s[i + 1] <= '9')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	if (i < n && s[i] == 'Z')
		return i + 1;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (shaped(s + i + 1, n - i - 1, "dd:dd"))
			return i + 6;
		if (shaped(s + i + 1, n - i - 1, "dddd"))
			return i + 5;
	}
	return i;
}

/* "LEVEL - " at s. */
static int dashed_level(const char *s, size_t n)
{
	size_t used;
	int level = level_word(s, n, ' ', &used);

	if (level < 0 || n - used < 2 || s[used] != '-' || s[used + 1] != ' ')
		return -1;
	return level;
}

/* After "TIME ": "[LEVEL]", "LEVEL " or "LEVEL:", "- LEVEL - " or
 * "- NAME - LEVEL - ". */
static int after_time(const char *s, size_t n)
{
	const char *dash;
	size_t used;
	int level;

	if (n > 0 && s[0] == '[')
		return level_word(s + 1, n - 1, ']', &used);
	if ((level = level_word(s, n, ' ', &used)) >= 0 ||
	    (level = level_word(s, n, ':', &used)) >= 0)
		return level;
	if (n < 2 || s[0] != '-' || s[1] != ' ')
		return -1;
	s += 2;
	n -= 2;
	if ((level = dashed_level(s, n)) >= 0)
		return level;
	if ((dash = memmem(s, n, " - ", 3)) == NULL)
		return -1;
	n -= (size_t)(dash + 3 - s);
	return dashed_level(dash + 3, n);
}

/* gunicorn's "[TIME ZONE] [PID] [LEVEL]", from s after the '[' and the
 * time. */
static int gunicorn_level(const char *s, size_t n)
{
	const char *close =
	    memchr(s, ']',
	           n < ZONE_IN_BRACKETS_MAX + 1 ? n : ZONE_IN_BRACKETS_MAX + 1);
	size_t i, used;

	if (close == NULL)
		return -1;
	i = (size_t)(close - s) + 1;
	if (n - i < 2 || s[i] != ' ' || s[i + 1] != '[')
		return -1;
	i += 2;
	if (i < n && s[i] >= '0' && s[i] <= '9') { /* [PID] */
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (n - i < 3 || s[i] != ']' || s[i + 1] != ' ' ||
		    s[i + 2] != '[')
			return -1;
		i += 3;
	}
	return level_word(s + i, n - i, ']', &used);
}

LOGBUS_API int logbus_line_level(const char *s, size_t n)
{
	size_t used, t;
	int level;

	if ((level = level_word(s, n, ':', &used)) >= 0)
		return level;
	if (n > 0 && s[0] == '[') {
		if ((level = level_word(s + 1, n - 1, ']', &used)) >= 0)
			return level;
		if ((t = time_len(s + 1, n - 1)) > 0)
			return gunicorn_level(s + 1 + t, n - 1 - t);
		return -1;
	}
	if ((t = time_len(s, n)) == 0 || t >= n || s[t] != ' ')
		return -1;
	return after_time(s + t + 1, n - t - 1);
}
