/*
 * ctl_query.c: `logbusctl query 'LOGQL'`, the records a LogQL query selects
 * (shared/logql.h: a stream selector on service, level, logger and stream,
 * and line filters), read and printed by tail's machinery (ctl_tail.c), so
 * that -n, -f, --since, --until, -o and the cursor options are tail's and
 * there is one way of printing a record.  This file holds what query adds:
 * the query's parse with errors that point at its column, the options it
 * refuses because the query says them, and its help.
 */
#include <stdbool.h>
#include <stddef.h>

#include "logbusctl.h"
#include "logql.h"

int cmd_query(int argc, char **argv)
{
	return tail_command(argc, argv, true);
}

int query_check_args(const char *cmd, const char *text, bool services,
                     bool levels, bool others, bool journal)
{
	if (text == NULL)
		return usage_error(cmd, "give the query, like logbusctl query "
		                        "'{service=\"api\"} |= \"error\"'");
	if (services || levels || others)
		return usage_error(
		    cmd, "-s, -p, -l, -g and --stream are said in the "
		         "query: {service=\"api\", level=\"error\", "
		         "logger=\"x\", stream=\"stderr\"} |~ \"REGEX\"");
	if (journal)
		return usage_error(cmd, "--disk-usage and --vacuum-* belong to "
		                        "logbusctl tail");
	return PARSE_OK;
}

int query_compile(const char *cmd, const char *text, struct logql **q)
{
	struct logql_error e;

	if (logql_parse(text, q, &e) == 0)
		return PARSE_OK;
	if (e.col == 0)
		return fail("%s", e.msg); /* out of memory */
	if (e.line > 1)
		return usage_error(cmd, "bad query at line %d, column %d: %s",
		                   e.line, e.col, e.msg);
	return usage_error(cmd, "bad query at column %d: %s", e.col, e.msg);
}

/* clang-format off */
const char ctl_query_help[] =
"usage: logbusctl query [options] 'LOGQL' [_PID=N|_UID=N|_GID=N|_COMM=NAME]...\n"
"\n"
"Print the records a LogQL query selects, oldest first, as logbusctl tail\n"
"does: by default the last 10, then exit; with -f, go on as they come.\n"
"\n"
"LOGQL is the part of Loki's LogQL that selects log lines:\n"
"  {LABEL OP \"VALUE\", ...}   a stream selector, at least one matcher\n"
"  LABEL                     service, level, logger or stream\n"
"  OP                        = equal, != not equal, =~ regex, !~ not regex\n"
"                            (a label regex matches the whole value)\n"
"  |= \"TEXT\"  != \"TEXT\"     line filters: the message holds TEXT, or not\n"
"  |~ \"REGEX\" !~ \"REGEX\"    the message matches REGEX, or not; chain them\n"
"level is debug, info, warning, error or critical (level25 between two);\n"
"= and != also take warn, fatal and numbers.  stream is log, stdout or\n"
"stderr.  Strings are \"...\" with Go's escapes (\\\" \\\\ \\n \\t \\xHH \\uHHHH)\n"
"or `raw` (a regex without doubled backslashes: `\\d+`).  Regexes are\n"
"PCRE2 (Loki's are RE2; the same for classes, alternation, (?i), \\d, \\b).\n"
"Parser stages (| json, | logfmt), |> patterns and metric queries such as\n"
"rate(...) are refused, saying so.\n"
"\n"
"  {service=\"api\"} |~ \"(?i)(error|exception|failed|stderr)\"\n"
"  {service=~\"service_.*\", level=~\"error|critical\"} != \"healthcheck\"\n"
"\n"
"  -n, --lines N|all      the last N records the query selects (default "
"10)\n"
"  -f, --follow           then print new ones as they come, until Ctrl-C\n"
"  -S, --since TIME       only records from TIME on; without -n, all of "
"them\n"
"  -U, --until TIME       only records before TIME\n"
"  -o, --output FORMAT    text, short-iso, short-precise, json, "
"json-pretty,\n"
"                         cat or verbose (as logbusctl tail)\n"
"  -F, --field KEY=VALUE  also: the field KEY, as text, is VALUE\n"
"      --after-cursor, --cursor-file, --show-cursor, -r, -q, -a, --utc,\n"
"      --no-color, --timeout SEC   as logbusctl tail\n"
RUN_DIR_HELP
"  -h, --help             this text\n"
"\n"
"The query goes to logbusd as a filter where it can (one service list,\n"
"level bounds, a logger prefix, the streams, one message regex); the rest\n"
"is tested here, and a last N is then counted here, reading from the\n"
"start (or --since).\n"
"\n"
"Exit status: 0 done; 1 logbusd not reachable, a read error, or a regex\n"
"that gave up on a record; 2 a bad query (its column is said) or bad\n"
"arguments.\n";
/* clang-format on */
