/*
 * ctl_tail.c: `logbusctl tail`, records from logbusd's journal, filtered,
 * oldest first: the last N, all since a time or after a cursor, and with -f
 * the records committed from then on; with -r newest first.  It reads as
 * journalctl does (-u, -e, -p ranges, _UID= matches, -o short-iso, ...),
 * and --disk-usage and --vacuum-* do journalctl's work on the journal
 * instead of reading it.
 *
 * A read is a logbus_reader; tail decides only where it starts (a cursor
 * wins, then -n all, then --since without -n, else the last N) and what it
 * prints.  With a cursor and -n N the last N after the cursor are kept in a
 * ring of formatted lines, and so is everything -r prints, to be written
 * newest first once the read ended.  Following, output is flushed at the end of
 * each burst and at most FOLLOW_FLUSH_MS after a record came; the cursor file
 * is written only after a flush, so that it never gets ahead of what a
 * reader of our output was given.  A broker that goes away while we follow
 * is said once and waited for.  No state outside a command's frame but the
 * flag SIGINT and SIGTERM set to end a follow cleanly.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "args.h"
#include "logbusctl.h"
#include "logql.h"
#include "proto.h"
#include "record.h"
#include "size.h"
#include "strbuf.h"
#include "textline.h"
#include "timefmt.h"

/* A follower asks for records this often, so that it notices Ctrl-C
 * soon, and output waits at most this long in stdout's buffer. */
#define FOLLOW_POLL_MS  200
#define FOLLOW_FLUSH_MS 200

struct tail_args {
	char *run_dir;
	const char **services;
	size_t nservices;
	const char **fields; /* -F KEY=VALUE, as given */
	size_t nfields;
	struct publisher_matches matches; /* _PID=, -F uid=, ... */
	int min_level, max_level;
	const char *logger_prefix;
	const char *regex;
	unsigned streams; /* 1 << LOGBUS_STREAM_*; 0: all */
	const char *since_arg, *until_arg;
	int64_t since_ns, until_ns;
	const char *after_cursor; /* --after-cursor */
	const char *cursor_file;
	const char *cursor; /* where to start: after_cursor, file_cursor */
	char file_cursor[CURSOR_TEXT_MAX];
	bool follow, n_given, n_all, show_cursor, no_color, color;
	bool reverse, pager_end, quiet;
	bool all; /* -a: control characters as they are */
	bool raw; /* what out_format_record is told */
	int64_t n;
	enum out_format format;
	struct textline_time time; /* of text lines: -o short-*, --utc */
	bool pretty;               /* json laid out over lines */
	int timeout_ms;
	/* instead of reading: --disk-usage, --vacuum-* (-1: not given) */
	bool disk_usage;
	int64_t vacuum_bytes, vacuum_age_s;
	/* `logbusctl query`: the LogQL query (its first argument); what
	 * logbusd cannot apply is tested here on each record, and a last N
	 * is then counted here (scan_tail: read from the start or --since,
	 * keep the last N in the ring). */
	bool query_mode, scan_tail;
	const char *query_text;
	struct logql *query;
};

/* Long-only options of tail. */
enum {
	OPT_UTC = OPT_COMMAND_BASE,
	OPT_DISK_USAGE,
	OPT_VACUUM_SIZE,
	OPT_VACUUM_TIME,
};

/* -o's names: journalctl's where they mean the same. */
static const struct {
	const char *name;
	enum out_format format;
	enum textline_time_style time;
	bool pretty;
} outputs[] = {
    {"text", OUT_TEXT, TEXTLINE_TIME_PYTHON, false},
    {"short", OUT_TEXT, TEXTLINE_TIME_PYTHON, false},
    {"short-precise", OUT_TEXT, TEXTLINE_TIME_PRECISE, false},
    {"short-iso", OUT_TEXT, TEXTLINE_TIME_ISO, false},
    {"json", OUT_JSON, TEXTLINE_TIME_PYTHON, false},
    {"json-pretty", OUT_JSON, TEXTLINE_TIME_PYTHON, true},
    {"cat", OUT_CAT, TEXTLINE_TIME_PYTHON, false},
    {"verbose", OUT_VERBOSE, TEXTLINE_TIME_PYTHON, false},
};

static bool parse_output(const char *s, struct tail_args *a)
{
	for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
		if (strcmp(outputs[i].name, s) == 0) {
			a->format = outputs[i].format;
			a->time.style = outputs[i].time;
			a->pretty = outputs[i].pretty;
			return true;
		}
	return false;
}

/* ---- the command line -------------------------------------------------- */

static bool parse_streams(const char *s, unsigned *mask)
{
	for (;;) {
		size_t n = strcspn(s, ",");
		enum logbus_stream st;

		if (!parse_stream(s, n, &st))
			return false;
		*mask |= 1u << st;
		if (s[n] == '\0')
			return true;
		s += n + 1;
	}
}

/* Returns PARSE_OK or an exit status. */
static int tail_parse(int argc, char **argv, struct tail_args *a)
{
	static const struct option longopts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"follow", no_argument, NULL, 'f'},
	    {"lines", required_argument, NULL, 'n'},
	    {"reverse", no_argument, NULL, 'r'},
	    {"pager-end", no_argument, NULL, 'e'},
	    {"service", required_argument, NULL, 's'},
	    {"unit", required_argument, NULL, 'u'},
	    {"level", required_argument, NULL, 'p'},
	    {"priority", required_argument, NULL, 'p'},
	    {"logger", required_argument, NULL, 'l'},
	    {"grep", required_argument, NULL, 'g'},
	    {"field", required_argument, NULL, 'F'},
	    {"stream", required_argument, NULL, OPT_STREAM},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {"output", required_argument, NULL, 'o'},
	    {"after-cursor", required_argument, NULL, OPT_AFTER_CURSOR},
	    {"show-cursor", no_argument, NULL, OPT_SHOW_CURSOR},
	    {"cursor-file", required_argument, NULL, OPT_CURSOR_FILE},
	    {"no-color", no_argument, NULL, OPT_NO_COLOR},
	    {"no-pager", no_argument, NULL, OPT_NO_PAGER},
	    {"utc", no_argument, NULL, OPT_UTC},
	    {"quiet", no_argument, NULL, 'q'},
	    {"disk-usage", no_argument, NULL, OPT_DISK_USAGE},
	    {"vacuum-size", required_argument, NULL, OPT_VACUUM_SIZE},
	    {"vacuum-time", required_argument, NULL, OPT_VACUUM_TIME},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int64_t now = timefmt_now_ns();
	const char *eq;
	uint64_t size;
	int64_t span;
	int c, rc;

	while ((c = command_getopt(argc, argv, ":afn:res:u:p:l:g:F:S:U:o:qh",
	                           longopts, &a->run_dir, &a->timeout_ms,
	                           &rc)) != -1) {
		switch (c) {
		case OPT_STOP:
			return rc;
		case 'a':
			a->all = true;
			break;
		case 'f':
			a->follow = true;
			break;
		case 'n':
			a->n_given = true;
			a->n_all = strcmp(optarg, "all") == 0;
			if (!a->n_all &&
			    !args_int64(optarg, 0, INT64_MAX, &a->n))
				return usage_error(argv[0],
				                   "bad -n '%s': a number of "
				                   "records, 0 or more, or "
				                   "'all'",
				                   optarg);
			break;
		case 'r':
			a->reverse = true;
			break;
		case 'e':
			a->pager_end = true;
			break;
		case 's':
		case 'u':
			if ((rc = service_arg(argv[0], optarg)) != PARSE_OK)
				return rc;
			a->services[a->nservices++] = optarg;
			break;
		case 'p':
			if ((rc = priority_arg(argv[0], optarg, &a->min_level,
			                       &a->max_level)) != PARSE_OK)
				return rc;
			break;
		case 'l':
			if (*optarg == '\0')
				return usage_error(argv[0],
				                   "the logger prefix (-l) is "
				                   "empty");
			a->logger_prefix = optarg;
			break;
		case 'g':
			a->regex = optarg;
			break;
		case 'F':
			rc = publisher_match_arg(argv[0], optarg, true,
			                         &a->matches);
			if (rc == 1)
				break;
			if (rc != 0)
				return rc;
			optarg = (char *)field_match_key(optarg);
			if ((eq = strchr(optarg, '=')) == NULL)
				return usage_error(argv[0],
				                   "bad -F '%s': write "
				                   "KEY=VALUE",
				                   optarg);
			if (!field_key_valid(optarg, (size_t)(eq - optarg)))
				return usage_error(argv[0],
				                   "bad -F '%s': the key is "
				                   "not 1 to %d of A-Z a-z "
				                   "0-9 . _ -",
				                   optarg, LOGBUS_KEY_MAX);
			a->fields[a->nfields++] = optarg;
			break;
		case OPT_STREAM:
			if (!parse_streams(optarg, &a->streams))
				return usage_error(argv[0],
				                   "bad --stream '%s': use "
				                   "log, stdout or stderr, or "
				                   "a list like stdout,stderr",
				                   optarg);
			break;
		case 'S':
		case 'U':
			if (!parse_time(optarg, now,
			                c == 'S' ? &a->since_ns : &a->until_ns))
				return usage_error(
				    argv[0], BAD_TIME,
				    c == 'S' ? "--since" : "--until", optarg);
			if (c == 'S')
				a->since_arg = optarg;
			else
				a->until_arg = optarg;
			break;
		case 'o':
			if (!parse_output(optarg, a))
				return usage_error(
				    argv[0],
				    "unknown output '%s': use text (or short), "
				    "short-iso, short-precise, json, "
				    "json-pretty, cat or verbose",
				    optarg);
			break;
		case OPT_AFTER_CURSOR:
			if (*optarg == '\0')
				return usage_error(argv[0],
				                   "--after-cursor is empty");
			a->after_cursor = optarg;
			break;
		case OPT_SHOW_CURSOR:
			a->show_cursor = true;
			break;
		case OPT_CURSOR_FILE:
			if (*optarg == '\0')
				return usage_error(argv[0],
				                   "--cursor-file is empty");
			a->cursor_file = optarg;
			break;
		case OPT_NO_COLOR:
			a->no_color = true;
			break;
		case OPT_NO_PAGER:
			break; /* we never page */
		case OPT_UTC:
			a->time.utc = true;
			break;
		case 'q':
			a->quiet = true;
			break;
		case OPT_DISK_USAGE:
			a->disk_usage = true;
			break;
		case OPT_VACUUM_SIZE:
			if (!size_parse(optarg, &size) || size > INT64_MAX)
				return usage_error(
				    argv[0],
				    "bad --vacuum-size '%s': a "
				    "size to keep, like 500M or "
				    "2G (0: only the segment being "
				    "written)",
				    optarg);
			a->vacuum_bytes = (int64_t)size;
			break;
		case OPT_VACUUM_TIME:
			if (!parse_span_arg(optarg, &span))
				return usage_error(
				    argv[0],
				    "bad --vacuum-time '%s': how "
				    "much to keep, like 2d, 12h, "
				    "1month or '1h 30min'",
				    optarg);
			a->vacuum_age_s = span / NS_PER_S;
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	for (; optind < argc; optind++) {
		if (a->query_mode && a->query_text == NULL) {
			a->query_text = argv[optind];
			continue;
		}
		rc = publisher_match_arg(argv[0], argv[optind], false,
		                         &a->matches);
		if (rc == 0)
			return usage_error(
			    argv[0],
			    "unexpected argument '%s': matches "
			    "are _PID=, _UID=, _GID= and _COMM=; "
			    "a field is -F KEY=VALUE",
			    argv[optind]);
		if (rc != 1)
			return rc;
	}
	if (a->query_mode &&
	    (rc = query_check_args(argv[0], a->query_text, a->nservices > 0,
	                           a->min_level || a->max_level,
	                           a->logger_prefix || a->regex || a->streams,
	                           a->disk_usage || a->vacuum_bytes >= 0 ||
	                               a->vacuum_age_s >= 0)) != PARSE_OK)
		return rc;
	if (a->reverse && a->follow)
		return usage_error(argv[0], "-r/--reverse and -f/--follow do "
		                            "not go together: give one");
	if ((a->disk_usage || a->vacuum_bytes >= 0 || a->vacuum_age_s >= 0) &&
	    a->follow)
		return usage_error(argv[0], "--disk-usage and --vacuum-* print "
		                            "and exit: not with -f");
	if (a->disk_usage && (a->vacuum_bytes >= 0 || a->vacuum_age_s >= 0))
		return usage_error(argv[0], "--disk-usage and --vacuum-* are "
		                            "two commands: give one");
	if (a->pager_end && !a->n_given) {
		/* journalctl without a pager: -e is -n 1000 */
		a->n_given = true;
		a->n = 1000;
	}
	if (a->after_cursor != NULL && a->cursor_file != NULL)
		return usage_error(argv[0], "--after-cursor and --cursor-file "
		                            "both say where to start: give "
		                            "one");
	if (a->since_arg != NULL && a->until_arg != NULL &&
	    a->since_ns >= a->until_ns)
		return usage_error(argv[0],
		                   "--since '%s' is not before --until '%s'",
		                   a->since_arg, a->until_arg);
	return PARSE_OK;
}

/*
 * Where to start and what to read.  A cursor wins, then -n all, then
 * --since without -n (all records since); else the last N.  --since and
 * --until are filters too, so -n N with --since is the last N of that range.
 * A query (logbusctl query) goes to logbusd as far as it can; when some of
 * it is left to us, its last N are counted here: read from the start (or
 * --since) and keep them in the ring (scan_tail).
 */
static void tail_options(struct tail_args *a, logbus_reader_options *ro)
{
	ro->run_dir = a->run_dir;
	ro->filter.services = a->nservices ? a->services : NULL;
	ro->filter.nservices = a->nservices;
	ro->filter.min_level = a->min_level;
	ro->filter.max_level = a->max_level;
	publisher_matches_filter(&a->matches, &ro->filter);
	ro->filter.logger_prefix = a->logger_prefix;
	ro->filter.streams = a->streams;
	ro->filter.fields = a->nfields ? a->fields : NULL;
	ro->filter.nfields = a->nfields;
	ro->filter.message_regex = a->regex;
	ro->filter.since_ns = a->since_arg ? a->since_ns : 0;
	ro->filter.until_ns = a->until_arg ? a->until_ns : 0;
	ro->timeout_ms = a->timeout_ms;
	ro->follow = a->follow;
	if (a->query != NULL) {
		/* logbusd counts a tail only of what it filters itself */
		logql_push(a->query, &ro->filter);
		a->scan_tail = !logql_pushed_all(a->query) &&
		               a->cursor == NULL && !a->n_all &&
		               (a->n_given || a->since_arg == NULL);
	}
	if (a->cursor != NULL) {
		ro->start = LOGBUS_START_CURSOR;
		ro->cursor = a->cursor;
	} else if (a->scan_tail) {
		ro->start =
		    a->since_arg ? LOGBUS_START_SINCE : LOGBUS_START_HEAD;
		ro->since_ns = a->since_ns;
	} else if (a->n_all) {
		ro->start = LOGBUS_START_HEAD;
	} else if (a->since_arg != NULL && !a->n_given) {
		ro->start = LOGBUS_START_SINCE;
		ro->since_ns = a->since_ns;
	} else {
		ro->start = LOGBUS_START_TAIL;
		ro->tail_n = (uint64_t)a->n;
	}
}

/* ---- reading what is there --------------------------------------------- */

/* Whether rec passes the part of the query logbusd did not apply: 1 yes,
 * 0 no, -1 a regex gave up on it (said here). */
static int tail_keep(const struct tail_args *a, const logbus_record *rec)
{
	if (a->query == NULL)
		return 1;
	switch (logql_test(a->query, rec)) {
	case FILTER_YES:
		return 1;
	case FILTER_NO:
		return 0;
	default:
		fail("the query's regular expression gave up on record %llu "
		     "(over %d steps of backtracking): simplify it, e.g. "
		     "without nested or overlapping repeats like (a|a?)+",
		     (unsigned long long)rec->seq, REGEXP_MATCH_LIMIT);
		return -1;
	}
}

/* A record as -o, --utc and -o short-* say, into b. */
static int tail_format(const logbus_record *rec, const struct tail_args *a,
                       struct strbuf *b)
{
	int rc =
	    out_format_record(rec, a->format, &a->time, a->color, a->raw, b);

	if (rc != LOGBUS_OK)
		return rc;
	if (a->pretty)
		return out_json_pretty(b);
	return b->failed ? LOGBUS_ENOMEM : LOGBUS_OK;
}

/* journalctl's line for an empty result, in the formats read by people
 * (json and cat print nothing, as journalctl's do), unless -q. */
static enum out_result tail_no_entries(const struct tail_args *a)
{
	static const char line[] = "-- No entries --\n";

	if (a->quiet || (a->format != OUT_TEXT && a->format != OUT_VERBOSE))
		return OUT_OK;
	return out_write(line, sizeof line - 1);
}

/* A reader's failure as one line; exit 1, or 2 when the command line is
 * to blame.  r is NULL when opening failed; open_err then says why. */
static int tail_failed(logbus_reader *r, const struct tail_args *a, int rc,
                       const char *open_err)
{
	char dir[4096];
	const char *detail =
	    detail_or(r ? logbus_reader_error(r) : open_err, rc);

	switch (rc) {
	case LOGBUS_EUNREACHABLE:
		if (r != NULL && *logbus_reader_error(r) != '\0')
			return fail("%s", detail);
		return fail("cannot reach logbusd at %s/%s: is logbusd "
		            "running?",
		            run_dir_name(a->run_dir, dir, sizeof dir),
		            SOCK_QUERY);
	case LOGBUS_ETIMEDOUT:
		return fail("%s: try a longer --timeout", detail);
	case LOGBUS_EEXPIRED:
		if (a->after_cursor != NULL)
			return fail(
			    "%s; to read from the oldest record kept "
			    "(number %llu), use -n all instead of "
			    "--after-cursor",
			    detail,
			    r ? (unsigned long long)logbus_reader_oldest_seq(r)
			      : 0ull);
		if (a->cursor != NULL)
			return fail("%s; the cursor in %s is older than the "
			            "journal keeps: remove the file to start "
			            "afresh",
			            detail, a->cursor_file);
		return fail("%s", detail);
	case LOGBUS_ECURSOR:
		if (a->after_cursor != NULL)
			return fail(
			    "bad --after-cursor '%s': %s (a cursor comes "
			    "from --show-cursor or a JSON record of this "
			    "journal)",
			    a->cursor, detail);
		if (a->cursor != NULL)
			return fail("the cursor in %s ('%s') is not one of "
			            "this journal: %s; remove the file to "
			            "start afresh",
			            a->cursor_file, a->cursor, detail);
		return fail("logbusd's journal changed while it was read: %s",
		            detail);
	case LOGBUS_EINVAL:
		if (r == NULL && a->regex != NULL &&
		    strstr(detail, "regular expression") != NULL)
			return usage_error("tail", "bad -g '%s': %s", a->regex,
			                   detail);
		if (r == NULL)
			return usage_error("tail", "%s", detail);
		return fail("cannot read: %s (check the filters)", detail);
	default:
		return fail("%s", detail);
	}
}

/*
 * The end of a read whose records all went to stdout: --show-cursor's line
 * (unless more is to follow), flush, then the cursor file, which is not
 * moved past records that may not have reached the reader of our output.
 * Returns an exit status.
 */
static int tail_end(logbus_reader *r, const struct tail_args *a,
                    bool show_cursor)
{
	const char *cursor = logbus_reader_cursor(r);
	enum out_result o = OUT_OK;

	if (show_cursor && a->show_cursor && cursor != NULL) {
		o = out_write("-- cursor: ", strlen("-- cursor: "));
		if (o == OUT_OK)
			o = out_write(cursor, strlen(cursor));
		if (o == OUT_OK)
			o = out_write("\n", 1);
	}
	if (o == OUT_OK)
		o = out_flush();
	if (o != OUT_OK)
		return o == OUT_ERROR ? EXIT_FAIL : 0;
	if (a->cursor_file != NULL && cursor != NULL)
		return cursor_file_write(a->cursor_file, cursor);
	return 0;
}

/* The last max formatted records, for -n with a cursor.  Slots keep
 * their buffers, so a record is formatted straight into its slot. */
struct line_ring {
	struct strbuf *slots;
	size_t nslots, max, start, count;
};

static void ring_fini(struct line_ring *ring)
{
	for (size_t i = 0; i < ring->nslots; i++)
		sb_free(&ring->slots[i]);
	free(ring->slots);
}

/* The slot the next line goes to, or NULL when out of memory.  The ring
 * grows only while it is not full, so start is 0 until then. */
static struct strbuf *ring_next(struct line_ring *ring)
{
	struct strbuf *s;

	if (ring->count < ring->max) {
		if (ring->count == ring->nslots) {
			size_t n = ring->nslots ? ring->nslots * 2 : 64;
			if (n > ring->max)
				n = ring->max;
			s = realloc(ring->slots, n * sizeof *s);
			if (s == NULL)
				return NULL;
			memset(s + ring->nslots, 0,
			       (n - ring->nslots) * sizeof *s);
			ring->slots = s;
			ring->nslots = n;
		}
		return &ring->slots[ring->count++];
	}
	s = &ring->slots[ring->start];
	ring->start = (ring->start + 1) % ring->max;
	return s;
}

/* The lines oldest first, or newest first (-r). */
static enum out_result ring_write(const struct line_ring *ring, bool reverse)
{
	for (size_t k = 0; k < ring->count; k++) {
		size_t i = reverse ? ring->count - 1 - k : k;
		const struct strbuf *s =
		    &ring->slots[(ring->start + i) % ring->count];
		enum out_result o = out_write(s->p, s->len);
		if (o != OUT_OK)
			return o;
	}
	return OUT_OK;
}

/* Whether what is printed is the last N matching records: the reader
 * reads only those (a tail), or all after a cursor of which the ring
 * keeps N. */
static bool tail_bounded(const struct tail_args *a)
{
	if (a->scan_tail)
		return true;
	if (a->n_all)
		return false;
	if (a->cursor != NULL)
		return a->n_given;
	return a->n_given || a->since_arg == NULL;
}

/* Read a snapshot to its end; with a cursor and -n N print only the last
 * N; with -r hold what is to be printed and write it newest first at the
 * end (the reader hands records out oldest first).  last: nothing follows
 * (the cursor line and "-- No entries --" are printed). */
static int tail_snapshot(logbus_reader *r, const struct tail_args *a, bool last)
{
	struct line_ring ring = {0};
	struct strbuf buf = {0};
	const logbus_record *rec;
	enum out_result o = OUT_OK;
	int rc, st;

	/* journalctl --after-cursor -n N: read all after the cursor, keep
	 * the last N. */
	bool use_ring = (a->cursor != NULL && a->n_given && !a->n_all) ||
	                a->reverse || a->scan_tail;

	ring.max = !use_ring         ? 0
	           : tail_bounded(a) ? (size_t)a->n
	                             : SIZE_MAX / sizeof(struct strbuf);
	bool any = false, lost = false, gave_up = false;
	size_t printed = 0;
	int k;
	for (;;) {
		rc = logbus_reader_next(r, &rec, -1);
		/* Records gone on the way (a gap, or retention while this
		 * read ran): say what, go on, and end with status 1.  A
		 * cursor given that points into them is an error at once. */
		if (rc == LOGBUS_EEXPIRED &&
		    (any || (a->after_cursor == NULL && a->cursor == NULL))) {
			fail("%s; going on from number %llu",
			     logbus_reader_error(r),
			     (unsigned long long)logbus_reader_oldest_seq(r));
			lost = true;
			if ((rc = logbus_reader_skip_expired(r)) == 0)
				continue;
		}
		if (rc != 1)
			break;
		any = true;
		if ((k = tail_keep(a, rec)) < 0) {
			gave_up = true;
			break;
		}
		if (k == 0)
			continue;
		if (use_ring) {
			struct strbuf *s;
			if (ring.max == 0)
				continue;
			if ((s = ring_next(&ring)) == NULL) {
				rc = LOGBUS_ENOMEM;
				break;
			}
			if ((rc = tail_format(rec, a, s)) != LOGBUS_OK)
				break;
			continue;
		}
		if ((rc = tail_format(rec, a, &buf)) != LOGBUS_OK)
			break;
		if ((o = out_write(buf.p, buf.len)) != OUT_OK)
			break;
		printed++;
	}
	sb_free(&buf);
	if (o == OUT_OK && rc == 0 && use_ring) {
		o = ring_write(&ring, a->reverse);
		printed = ring.count;
	}
	ring_fini(&ring);
	if (gave_up)
		return EXIT_FAIL;
	if (o == OUT_OK && rc == 0 && last && printed == 0)
		o = tail_no_entries(a);
	if (o == OUT_CLOSED)
		return 0;
	if (o == OUT_ERROR)
		return EXIT_FAIL;
	if (rc == LOGBUS_ENOMEM)
		return fail("out of memory after reading records");
	if (rc < 0) {
		/* What was printed is printed: the cursor file says so. */
		if (!use_ring && (st = tail_end(r, a, false)) != 0)
			return st;
		return tail_failed(r, a, rc, NULL);
	}
	st = tail_end(r, a, last);
	return st == 0 && lost ? EXIT_FAIL : st;
}

/* ---- following --------------------------------------------------------- */

/* Set by SIGINT and SIGTERM while following: the follow then ends as if
 * it had caught up (the only state of ours outside a command's frame). */
static volatile sig_atomic_t follow_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	follow_stop = 1;
}

/* The follow loop looks at the flag every FOLLOW_POLL_MS; SA_RESTART, so
 * that a write to a full pipe is not cut short when the signal comes. */
static void follow_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* A follower that saw no error for this long after saying it waits for
 * logbusd takes it as back (an idle reader asks logbusd every second), so
 * that the next outage is said again. */
#define FOLLOW_BACK_MS 3000

struct follow {
	char saved[CURSOR_TEXT_MAX]; /* in the cursor file */
	bool dirty;                  /* output not flushed yet */
	bool waiting;                /* said that logbusd is away */
	bool started;                /* a record went out, or none came */
	int64_t flush_at;            /* ms, monotonic: flush a burst then */
	int64_t error_at;            /* ms, monotonic: the last passing error */
};

/* What the follow loop's steps return while it goes on. */
#define FOLLOW_ON -1

/* The end of a burst of output: flush it, then save the cursor.  Returns
 * FOLLOW_ON or the exit status. */
static int follow_flush(logbus_reader *r, const struct tail_args *a,
                        struct follow *f)
{
	const char *cursor;
	enum out_result o;
	int st;

	if (!f->dirty)
		return FOLLOW_ON;
	f->dirty = false;
	if ((o = out_flush()) != OUT_OK)
		return o == OUT_ERROR ? EXIT_FAIL : 0;
	cursor = logbus_reader_cursor(r);
	if (a->cursor_file == NULL || cursor == NULL ||
	    strcmp(cursor, f->saved) == 0)
		return FOLLOW_ON;
	if ((st = cursor_file_write(a->cursor_file, cursor)) != 0)
		return st;
	snprintf(f->saved, sizeof f->saved, "%s", cursor);
	return FOLLOW_ON;
}

static int follow_print(logbus_reader *r, const struct tail_args *a,
                        struct follow *f, const logbus_record *rec,
                        struct strbuf *buf)
{
	enum out_result o;

	if (tail_format(rec, a, buf) != LOGBUS_OK)
		return fail("out of memory after reading records");
	if ((o = out_write(buf->p, buf->len)) != OUT_OK)
		return o == OUT_ERROR ? EXIT_FAIL : 0;
	f->started = true;
	f->waiting = false;
	if (!f->dirty) {
		f->dirty = true;
		f->flush_at = monotonic_ms() + FOLLOW_FLUSH_MS;
	}
	return monotonic_ms() >= f->flush_at ? follow_flush(r, a, f)
	                                     : FOLLOW_ON;
}

/* "cannot reach logbusd at X (no socket file): ..." says "no socket
 * file"; any other text is the reason as it stands. */
static const char *waiting_reason(logbus_reader *r, int rc, char *buf,
                                  size_t len)
{
	const char *detail = detail_or(logbus_reader_error(r), rc);
	const char *open = strchr(detail, '(');
	const char *close = open ? strchr(open, ')') : NULL;

	if (rc == LOGBUS_ETIMEDOUT)
		return "it does not answer";
	if (open == NULL || close == NULL)
		return detail;
	snprintf(buf, len, "%.*s", (int)(close - open - 1), open + 1);
	return buf;
}

/*
 * Print records as they are committed until SIGINT or SIGTERM.  A broker
 * that goes away is said once and waited for: the reader carries on from
 * its position when it is back, so nothing is lost or repeated.
 */
static int tail_follow(logbus_reader *r, const struct tail_args *a)
{
	struct follow f;
	struct strbuf buf = {0};
	char dir[4096], why[256];
	const logbus_record *rec;
	int rc, st = FOLLOW_ON;

	memset(&f, 0, sizeof f);
	if (a->cursor != NULL)
		snprintf(f.saved, sizeof f.saved, "%s", a->cursor);
	while (st == FOLLOW_ON && !follow_stop) {
		rc = logbus_reader_next(r, &rec, FOLLOW_POLL_MS);
		if (rc == 1) {
			int k = tail_keep(a, rec);
			st = k < 0    ? EXIT_FAIL
			     : k == 0 ? FOLLOW_ON
			              : follow_print(r, a, &f, rec, &buf);
		} else if (rc == 0) {
			f.started = true;
			st = follow_flush(r, a, &f);
			if (monotonic_ms() - f.error_at >= FOLLOW_BACK_MS)
				f.waiting = false;
		} else if (rc == LOGBUS_EUNREACHABLE ||
		           rc == LOGBUS_ETIMEDOUT) {
			st = follow_flush(r, a, &f);
			if (!f.waiting)
				fail("waiting for logbusd at %s/%s: %s",
				     run_dir_name(a->run_dir, dir, sizeof dir),
				     SOCK_QUERY,
				     waiting_reason(r, rc, why, sizeof why));
			f.waiting = true;
			f.error_at = monotonic_ms();
		} else if (rc == LOGBUS_EEXPIRED && f.started) {
			/* Fell behind retention, or came to a gap (a segment
			 * removed or damaged), while following (not at the
			 * start: that is a bad cursor): say what was lost, in
			 * logbusd's words, rather than end the follow. */
			fail("%s; going on from number %llu",
			     logbus_reader_error(r),
			     (unsigned long long)logbus_reader_oldest_seq(r));
			if ((rc = logbus_reader_skip_expired(r)) != 0)
				st = tail_failed(r, a, rc, NULL);
		} else {
			if ((st = follow_flush(r, a, &f)) == FOLLOW_ON)
				st = tail_failed(r, a, rc, NULL);
		}
	}
	sb_free(&buf);
	if (st != FOLLOW_ON)
		return st;
	return tail_end(r, a, true);
}

int cmd_tail(int argc, char **argv)
{
	return tail_command(argc, argv, false);
}

int tail_command(int argc, char **argv, bool query_mode)
{
	struct tail_args a = {
	    .n = 10,
	    .format = OUT_TEXT,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	    .vacuum_bytes = -1,
	    .vacuum_age_s = -1,
	    .query_mode = query_mode,
	};
	logbus_reader_options ro = {0};
	logbus_reader *r = NULL;
	char err[512] = "", cursor[CURSOR_TEXT_MAX];
	int rc;

	/* At most one service, field or match per argument. */
	a.services = calloc((size_t)argc, sizeof *a.services);
	a.fields = calloc((size_t)argc, sizeof *a.fields);
	a.matches.comms = calloc((size_t)argc, sizeof *a.matches.comms);
	for (int k = 0; k < MATCH_COMM; k++)
		a.matches.ids[k] =
		    calloc((size_t)argc, sizeof *a.matches.ids[k]);
	if (a.services == NULL || a.fields == NULL || a.matches.comms == NULL ||
	    a.matches.ids[MATCH_PID] == NULL ||
	    a.matches.ids[MATCH_UID] == NULL ||
	    a.matches.ids[MATCH_GID] == NULL) {
		rc = fail("out of memory");
		goto out;
	}
	if ((rc = tail_parse(argc, argv, &a)) != PARSE_OK)
		goto out;
	if (a.query_mode) {
		if ((rc = query_compile(argv[0], a.query_text, &a.query)) !=
		    PARSE_OK)
			goto out;
		rc = 0;
	}
	if (a.disk_usage) {
		rc = journal_disk_usage(a.run_dir);
		goto out;
	}
	if (a.vacuum_bytes >= 0 || a.vacuum_age_s >= 0) {
		rc = journal_vacuum_now(a.run_dir, a.vacuum_bytes,
		                        a.vacuum_age_s);
		goto out;
	}
	bool tty = isatty(STDOUT_FILENO);
	a.color = (a.format == OUT_TEXT || a.format == OUT_CAT) &&
	          !a.no_color && getenv("NO_COLOR") == NULL && tty;
	/* cat is the message's bytes, escaped only for a terminal */
	a.raw = a.all || (a.format == OUT_CAT && !tty);
	a.cursor = a.after_cursor;
	if (a.cursor_file != NULL) {
		if ((rc = cursor_file_read(a.cursor_file, a.file_cursor)) != 0)
			goto out;
		if (a.file_cursor[0] != '\0')
			a.cursor = a.file_cursor;
	}
	if (a.follow)
		follow_signals();

	tail_options(&a, &ro);
	ro.error = err;
	ro.error_len = sizeof err;
	/* -f, a cursor and -n N: the last N after the cursor from a
	 * snapshot, then follow from where it ended. */
	if (a.follow &&
	    ((a.cursor != NULL && a.n_given && !a.n_all) || a.scan_tail)) {
		ro.follow = 0;
		if ((rc = logbus_reader_open(&r, &ro)) != LOGBUS_OK) {
			rc = tail_failed(NULL, &a, rc, err);
			goto out;
		}
		rc = tail_snapshot(r, &a, false);
		snprintf(cursor, sizeof cursor, "%s",
		         logbus_reader_cursor(r) ? logbus_reader_cursor(r)
		         : a.cursor              ? a.cursor
		                                 : "");
		logbus_reader_close(r);
		if (rc != 0)
			goto out;
		ro.follow = 1;
		ro.cursor = cursor;
		ro.start = cursor[0] ? LOGBUS_START_CURSOR : LOGBUS_START_NEW;
	}
	if ((rc = logbus_reader_open(&r, &ro)) != LOGBUS_OK) {
		rc = tail_failed(NULL, &a, rc, err);
		goto out;
	}
	rc = a.follow ? tail_follow(r, &a) : tail_snapshot(r, &a, true);
	logbus_reader_close(r);
out:
	logql_free(a.query);
	free(a.services);
	free(a.fields);
	free(a.matches.comms);
	for (int k = 0; k < MATCH_COMM; k++)
		free(a.matches.ids[k]);
	return rc;
}

/* clang-format off */
const char ctl_tail_help[] =
"usage: logbusctl tail [options] [_PID=N|_UID=N|_GID=N|_COMM=NAME]...\n"
"       logbusctl tail --disk-usage | --vacuum-size=BYTES "
"--vacuum-time=TIME\n"
"\n"
"Print records from logbusd's journal, oldest first: by default the "
"last 10,\n"
"then exit; with -f, go on printing records as they are committed.  "
"Filters\n"
"apply before counting.\n"
"\n"
"  -f, --follow           after the last N records (default 10), "
"print new\n"
"                         ones as they come until Ctrl-C or SIGTERM "
"(exit 0);\n"
"                         while logbusd is away, say so once and "
"wait for it\n"
"  -n, --lines N|all      the last N records (default 10; 0: none, "
"which with\n"
"                         --show-cursor gives the end's cursor); "
"all: from\n"
"                         the oldest record kept\n"
"  -r, --reverse          newest first (with -n N: the newest N); "
"not with -f\n"
"  -e, --pager-end        the end: -n 1000 unless -n is given "
"(journalctl's\n"
"                         -e without a pager)\n"
"  -s, --service ID       only this service; repeat for more\n"
"  -u, --unit ID          the same as -s\n"
"  -p, --priority LEVEL   only this level and above, or a range "
"FROM..TO\n"
"                         (warning..err, either order): journalctl's "
"emerg 0,\n"
"                         alert 1, crit 2 (all three: CRITICAL), err "
"3, warning 4,\n"
"                         notice 5 (INFO: logbus has no NOTICE), info "
"6, debug 7;\n"
"                         or Python's debug, info, warning, error, "
"critical,\n"
"                         10..255; 8 and 9 are refused\n"
"  -l, --logger PREFIX    only this logger and its children (pactown "
"matches\n"
"                         pactown.sandbox, not pactownx)\n"
"  -g, --grep REGEX       only messages REGEX matches (PCRE2; (?i) "
"ignores\n"
"                         case, as in "
"'(?i)(error|exception|failed)')\n"
"      --stream STREAM    only records of log, stdout or stderr; "
"repeat, or\n"
"                         give a list like stdout,stderr, for more\n"
"  -F, --field KEY=VALUE  only records whose field KEY, written as "
"text, is\n"
"                         VALUE (user=user123, port=8001); repeat: "
"all hold.\n"
"                         pid=, uid=, gid=, comm= are the publisher's "
"(as _PID=\n"
"                         ...); field.uid= is a field named uid\n"
"  _PID=N, _UID=N, _GID=N, _COMM=NAME\n"
"                         only records of this publisher, as logbusd "
"saw it\n"
"                         (journalctl's matches): the same key "
"repeated is\n"
"                         either value, different keys all hold\n"
"  -S, --since TIME       only records from TIME on; without -n, all "
"of them\n"
"  -U, --until TIME       only records before TIME\n"
"      --after-cursor CUR only records after CUR (from --show-cursor "
"or a\n"
"                         JSON record's cursor); with -n N, the last "
"N of them\n"
"      --cursor-file FILE start after the cursor stored in FILE "
"(without one,\n"
"                         as -n says), and store the cursor there at "
"the end\n"
"                         and, with -f, after each burst of output\n"
"      --show-cursor      end with a line \"-- cursor: CUR\" for "
"--after-cursor,\n"
"                         in json output too (skip it when parsing)\n"
"  -o, --output FORMAT    text or short (the Python logging layout), "
"short-iso\n"
"                         (2026-11-22T10:00:00+0100 ...), "
"short-precise\n"
"                         (microseconds), json (an object per line), "
"json-pretty\n"
"                         (a key per line), cat (the message only) or "
"verbose\n"
"                         (a line \"TIME [CURSOR]\", then \"    "
"KEY=VALUE\"\n"
"                         lines: seq ... comm, the fields, the "
"message)\n"
"      --utc              times of text and short-* in UTC (--since "
"stays local)\n"
"  -q, --quiet            no \"-- No entries --\" line when nothing "
"matched\n"
"                         (text, short-* and verbose print it, like "
"journalctl)\n"
"                         text and verbose mark a message's further "
"lines\n"
"                         (\"    | \", deeper indent) and escape "
"control\n"
"                         characters (\\x1b, \\r, \\u009b); cat does "
"on a\n"
"                         terminal, and writes the bytes to a pipe\n"
"  -a, --all              control characters as they are, unescaped "
"(text,\n"
"                         verbose, and cat on a terminal)\n"
"      --no-color         no colour; on a terminal, text and cat "
"show\n"
"                         WARNING in yellow and ERROR and above in "
"red, unless\n"
"                         NO_COLOR is set\n"
"      --no-pager         accepted (journalctl's habit); we never "
"page\n"
"      --timeout SEC      wait this long for each answer of logbusd "
"(default 5)\n"
"      --disk-usage       print how much the journal takes up, and "
"exit\n"
"      --vacuum-size=BYTES, --vacuum-time=TIME\n"
"                         remove the oldest journal segments until "
"it is at most\n"
"                         BYTES (500M, 2G) and holds no segment "
"wholly older\n"
"                         than TIME (2d, 12h, 1month); never the "
"segment being\n"
"                         written; print what went (root and the "
"reader group)\n" RUN_DIR_HELP "  -h, --help             this text\n"
"\n"
"TIME: RFC 3339 (2026-11-22T10:00:00Z, 2026-11-22T10:00:00.5+02:00); "
"local\n"
"time as '2026-11-22 10:00:00', 2026-11-22 or 10:00; relative to now "
"as\n"
"-10min, -2h, -30s, -1d, -1w or '1h 30min ago'; today, yesterday, "
"tomorrow,\n"
"now; or @SECONDS since the epoch.\n"
"\n"
"Exit status: 0 done (also when the reader of the output went away, "
"and\n"
"after Ctrl-C or SIGTERM while following); 1 logbusd not reachable, "
"a bad\n"
"or expired cursor, or a read error; 2 bad arguments.\n";
/* clang-format on */
