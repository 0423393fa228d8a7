/*
 * alert_rule.h: one [alert NAME] section of logbusd.conf, parsed: which
 * records it is about and what it does with them.
 *
 *   [alert crash]
 *   service = service_*|web       fnmatch(3) patterns, any of them
 *   level = error                 minimum level
 *   logger = pactown.sandbox      logger prefix, hierarchical
 *   message = (?i)traceback       PCRE2 on the message
 *   field.error_category = port   a structured field written as text
 *   exits = yes                   process exit records only
 *   exec = /usr/local/bin/page --to ops "two words"
 *   webhook = http://127.0.0.1:9000/hook
 *   interval = 5m                 at most one action per service per this
 *   resolve-after = 10m           a "resolved" action after this quiet time
 *   timeout = 30s                 an exec is killed after this; a webhook
 *                                 attempt gives up after it
 *   retries = 3                   webhook attempts after the first
 *
 * Every key is optional; a rule without exec or webhook still journals a
 * logbus.alert record for each record it fires on.  exec is split like a
 * shell splits a simple command, and run without one: words are separated
 * by blanks, '...' keeps everything literally, "..." keeps everything but
 * \" and \\, a backslash outside quotes takes the next character
 * literally; nothing is expanded ($, *, ~ are plain characters).
 *
 * A rule is immutable once made; a reload makes new ones and compares them
 * (alert_rule_same).  Matching uses the rule's compiled regex, so one rule
 * is matched by one thread at a time (alerts.c: its own worker).
 */
#ifndef LOGBUS_ALERT_RULE_H
#define LOGBUS_ALERT_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "filter.h"
#include "frame.h"
#include "record.h"

#define ALERT_NAME_MAX 64

enum alert_kind { ALERT_JOURNAL_ONLY, ALERT_EXEC, ALERT_WEBHOOK };

struct alert_rule {
	char name[ALERT_NAME_MAX + 1];
	char **patterns; /* service fnmatch patterns; none: every service */
	size_t npatterns;
	struct filter flt; /* level, logger, message, fields */
	bool exits_only;
	enum alert_kind kind;
	char **argv; /* exec: NULL-terminated */
	char *url;   /* webhook */
	double interval_s, resolve_after_s, timeout_s;
	unsigned retries;
	char *text; /* every key = value, in order: what alert_rule_same
	               compares, and what `logbusctl alerts` shows */
};

/* Whether one key = value is valid in an [alert] section: 0, or -1 with
 * err saying why (without the section: the caller names it). */
int alert_rule_key_check(const char *key, const char *value, char *err,
                         size_t errlen);

/* A rule from its section's keys (kv: key, value, key, value...).  NULL
 * with err when a key is wrong or two actions are given. */
struct alert_rule *alert_rule_new(const char *name, const char *const *kv,
                                  size_t npairs, char *err, size_t errlen);
void alert_rule_free(struct alert_rule *r);
bool alert_rule_same(const struct alert_rule *a, const struct alert_rule *b);

/* Whether the rule fires on a record (FILTER_LIMIT: its regex gave up). */
enum filter_result alert_rule_match(const struct alert_rule *r,
                                    const struct record_view *v,
                                    const struct frame_record *fr);

/* A rule name names its state file: [A-Za-z0-9_.-], not starting '.'. */
bool alert_name_valid(const char *name);

/* Split a command line as exec = is split (above) into a NULL-terminated
 * malloc'd *argv (free with alert_argv_free): 0, or -1 with err. */
int alert_split_command(const char *text, char ***argv, char *err,
                        size_t errlen);
void alert_argv_free(char **argv);

/* "90", "2.5s", "500ms", "5m", "2h", "1d": seconds; -1 when malformed. */
double alert_parse_duration(const char *s);

#endif
