/*
 * ctl_publish.c: `logbusctl publish`, a record from the command line, or one
 * per line of standard input, acknowledged before we exit 0.
 *
 * A field's value takes the type its text reads as (5 an integer, 0.5 a
 * float, true a boolean) only when it would print back the same, so that
 * nothing typed is changed.  From standard input, a line that is not UTF-8
 * is repaired (U+FFFD) and a line too big for a record is skipped with a
 * message: the rest is still published, and the exit status says so.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#include "args.h"
#include "logbusctl.h"
#include "proto.h"
#include "record.h"
#include "utf8.h"

/* Queue of a publishing logbusctl; stdin mode waits for acknowledgements
 * whenever about half of it may be in flight, so that a logging call never
 * blocks for longer than --timeout on a broker that does not answer. */
#define PUBLISH_QUEUE_BYTES (8u << 20)

struct publish_args {
	char *run_dir;
	const char *service;
	const char *logger; /* NULL: the service id */
	int level;
	enum logbus_stream stream;
	int timeout_ms;
	logbus_field fields[LOGBUS_FIELDS_MAX];
	char keys[LOGBUS_FIELDS_MAX][LOGBUS_KEY_MAX + 1];
	size_t nfields;
	const char *message; /* "-": standard input */
};

/* -?(0|[1-9][0-9]*): an integer written the way it prints. */
static bool int_text(const char *v)
{
	if (*v == '-')
		v++;
	if (*v == '0')
		return v[1] == '\0';
	if (*v < '1' || *v > '9')
		return false;
	while (*v >= '0' && *v <= '9')
		v++;
	return *v == '\0';
}

/* Only digits, signs, '.' and exponents, with a digit and a '.' or an
 * exponent: what strtod may take as a decimal float (not "inf", "0x1p3"). */
static bool float_text(const char *v)
{
	bool digit = false, point = false;

	for (; *v != '\0'; v++) {
		if (*v >= '0' && *v <= '9')
			digit = true;
		else if (*v == '.' || *v == 'e' || *v == 'E')
			point = true;
		else if (*v != '+' && *v != '-')
			return false;
	}
	return digit && point;
}

/*
 * A field value's type, from its text: an integer when it is written the
 * way an integer prints and fits int64, a float when strtod takes all of it
 * and it has a '.' or an exponent (and neither overflows nor underflows),
 * true and false as booleans, anything else a string.  Text that would not
 * come back the same ("007", 2^64) stays a string, so nothing is lost.
 */
static void field_set_value(logbus_field *f, const char *v)
{
	int64_t i;
	char *end;
	double x;

	if (int_text(v) && args_int64(v, INT64_MIN, INT64_MAX, &i)) {
		f->type = LOGBUS_FIELD_INT;
		f->v.i = i;
		return;
	}
	if (float_text(v)) {
		errno = 0;
		x = strtod(v, &end);
		if (*end == '\0' && errno == 0) {
			f->type = LOGBUS_FIELD_FLOAT;
			f->v.f = x;
			return;
		}
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		f->type = LOGBUS_FIELD_BOOL;
		f->v.b = v[0] == 't';
		return;
	}
	f->type = LOGBUS_FIELD_STR;
	f->v.s = v;
}

/* -f KEY=VALUE; returns PARSE_OK or the exit status of a usage error. */
static int field_add(struct publish_args *a, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t klen;

	if (eq == NULL)
		return usage_error("publish",
		                   "field '%s' has no '=': write -f KEY=VALUE",
		                   arg);
	klen = (size_t)(eq - arg);
	if (!field_key_valid(arg, klen))
		return usage_error("publish",
		                   "field key '%.*s' is not 1 to %d of "
		                   "A-Z a-z 0-9 . _ -",
		                   (int)klen, arg, LOGBUS_KEY_MAX);
	if (a->nfields == LOGBUS_FIELDS_MAX)
		return usage_error("publish", "more than %d fields (-f)",
		                   LOGBUS_FIELDS_MAX);
	for (size_t i = 0; i < a->nfields; i++)
		if (strlen(a->keys[i]) == klen &&
		    memcmp(a->keys[i], arg, klen) == 0)
			return usage_error("publish",
			                   "field '%.*s' is given twice",
			                   (int)klen, arg);
	memcpy(a->keys[a->nfields], arg, klen);
	a->keys[a->nfields][klen] = '\0';
	a->fields[a->nfields].key = a->keys[a->nfields];
	field_set_value(&a->fields[a->nfields], eq + 1);
	a->nfields++;
	return PARSE_OK;
}

/* Returns PARSE_OK or an exit status. */
static int publish_parse(int argc, char **argv, struct publish_args *a)
{
	static const struct option longopts[] = {
	    {"service", required_argument, NULL, 's'},
	    {"logger", required_argument, NULL, 'l'},
	    {"level", required_argument, NULL, 'p'},
	    {"field", required_argument, NULL, 'f'},
	    {"stream", required_argument, NULL, OPT_STREAM},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	while ((c = command_getopt(argc, argv, ":s:l:p:f:h", longopts,
	                           &a->run_dir, &a->timeout_ms, &rc)) != -1) {
		switch (c) {
		case OPT_STOP:
			return rc;
		case 's':
			a->service = optarg;
			break;
		case 'l':
			a->logger = optarg;
			break;
		case 'p':
			if ((rc = level_arg(argv[0], optarg, &a->level)) !=
			    PARSE_OK)
				return rc;
			break;
		case 'f':
			if ((rc = field_add(a, optarg)) != PARSE_OK)
				return rc;
			break;
		case OPT_STREAM:
			if (!parse_stream(optarg, strlen(optarg), &a->stream))
				return usage_error(argv[0],
				                   "unknown stream '%s': use "
				                   "log, stdout or stderr",
				                   optarg);
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	if ((rc = require_service(argv[0], a->service)) != PARSE_OK)
		return rc;
	if (a->logger != NULL && *a->logger == '\0')
		return usage_error(argv[0], "the logger name (-l) is empty");
	if (optind >= argc)
		return usage_error(argv[0],
		                   "no MESSAGE given (\"-\" reads standard "
		                   "input)");
	if (argc - optind > 1)
		return usage_error(argv[0],
		                   "one MESSAGE only, got %d arguments: quote "
		                   "the message",
		                   argc - optind);
	a->message = argv[optind];
	return PARSE_OK;
}

/*
 * Why logbusd did not acknowledge in time, as one line; exit 1.  The
 * library's last error on the handle says what it saw ("cannot reach
 * logbusd at ... (no socket file): is logbusd running?").
 */
static int publish_unreachable(logbus_publisher *pub,
                               const struct publish_args *a, int rc)
{
	char dir[4096], err[512];
	logbus_publisher_stats st;
	const char *detail = logbus_publisher_error(pub, err, sizeof err);

	logbus_publisher_get_stats(pub, &st);
	if (rc != LOGBUS_ETIMEDOUT)
		return fail("publishing failed: %s", detail_or(detail, rc));
	if (st.connected)
		return fail("logbusd did not acknowledge within %g s, though "
		            "connected (%s): it may be overloaded; try a "
		            "longer --timeout",
		            a->timeout_ms / 1000.0, detail_or(detail, rc));
	if (*detail != '\0')
		return fail("logbusd did not acknowledge within %g s: %s",
		            a->timeout_ms / 1000.0, detail);
	return fail("cannot reach logbusd at %s/%s (no answer within %g s): "
	            "is logbusd running?",
	            run_dir_name(a->run_dir, dir, sizeof dir), SOCK_INGEST,
	            a->timeout_ms / 1000.0);
}

/* What a logging call's error means here (the library gives no detail for
 * the checks it makes before queueing). */
static const char *write_error_text(int rc)
{
	switch (rc) {
	case LOGBUS_EUTF8:
		return "the message or a field value is not valid UTF-8";
	case LOGBUS_ETOOBIG:
		return "the record is larger than 256 KiB, the most logbusd "
		       "takes";
	case LOGBUS_EINVAL:
		return "the level, the logger or a field is invalid";
	default:
		return logbus_strerror(rc);
	}
}

/* A record the library refused before sending; exit 2 when the command
 * line is to blame, else 1. */
static int publish_write_failed(int rc, const char *what)
{
	if (rc == LOGBUS_EINVAL || rc == LOGBUS_EUTF8 || rc == LOGBUS_ETOOBIG)
		return usage_error("publish", "cannot publish %s: %s", what,
		                   write_error_text(rc));
	return fail("cannot publish %s: %s", what, write_error_text(rc));
}

/* s as valid UTF-8 (utf8_sanitize) in *out, grown with realloc.  Returns
 * the length or -1. */
static long utf8_repair(const char *s, size_t len, char **out, size_t *cap)
{
	if (len > (SIZE_MAX - 1) / 3)
		return -1;
	if (*cap < 3 * len + 1) {
		char *p = realloc(*out, 3 * len + 1);
		if (p == NULL)
			return -1;
		*out = p;
		*cap = 3 * len + 1;
	}
	return (long)utf8_sanitize(s, len, *out);
}

/* Wait for every record so far; returns 0, or an exit status when the
 * broker did not answer in time.  Refusals and records dropped by a rate
 * limit are counted, not fatal. */
static int publish_wait(logbus_publisher *pub, const struct publish_args *a)
{
	int rc = logbus_flush(pub, a->timeout_ms);

	if (rc == LOGBUS_OK || rc == LOGBUS_EREJECTED || rc == LOGBUS_ELIMITED)
		return 0;
	return publish_unreachable(pub, a, rc);
}

/*
 * One record per line of standard input.  A line that is not UTF-8 is
 * repaired (U+FFFD), a line too big for a record is reported and skipped;
 * either way the rest is still published, and the exit status says so.
 */
static int publish_stdin(logbus_publisher *pub, const struct publish_args *a)
{
	char *line = NULL, *fixed = NULL, err[512];
	size_t cap = 0, fixcap = 0, pending = 0, overhead = 128;
	uint64_t lineno = 0, skipped = 0;
	logbus_publisher_stats st;
	ssize_t n;
	int rc = 0;

	for (size_t i = 0; i < a->nfields; i++)
		overhead += strlen(a->keys[i]) + 16 +
		            (a->fields[i].type == LOGBUS_FIELD_STR
		                 ? strlen(a->fields[i].v.s)
		                 : 8);
	if (a->logger != NULL)
		overhead += strlen(a->logger);

	while ((n = getline(&line, &cap, stdin)) > 0) {
		size_t len = (size_t)n;
		logbus_entry e = {
		    .level = a->level,
		    .stream = a->stream,
		    .fields = a->fields,
		    .nfields = a->nfields,
		};
		int w;

		lineno++;
		if (line[len - 1] == '\n')
			len--;
		e.message = line;
		e.message_len = len;
		w = logbus_write(pub, &e);
		if (w == LOGBUS_EUTF8) {
			long fl = utf8_repair(line, len, &fixed, &fixcap);
			if (fl < 0) {
				rc = fail("out of memory");
				goto out;
			}
			e.message = fixed;
			e.message_len = (size_t)fl;
			w = logbus_write(pub, &e);
		}
		if (w == LOGBUS_ETOOBIG) {
			fail("standard input line %llu: %s; skipped it",
			     (unsigned long long)lineno, write_error_text(w));
			skipped++;
			continue;
		}
		if (w != LOGBUS_OK) {
			rc = publish_write_failed(w, "standard input");
			goto out;
		}
		pending += e.message_len + overhead;
		if (pending >= PUBLISH_QUEUE_BYTES / 2) {
			if ((rc = publish_wait(pub, a)) != 0)
				goto out;
			pending = 0;
		}
	}
	if (ferror(stdin)) {
		rc = fail("cannot read standard input (%s)", strerror(errno));
		goto out;
	}
	if ((rc = publish_wait(pub, a)) != 0)
		goto out;
	logbus_publisher_get_stats(pub, &st);
	if (st.rejected > 0)
		rc =
		    fail("%llu of %llu records from standard input were "
		         "refused; the last: %s",
		         (unsigned long long)st.rejected,
		         (unsigned long long)st.logged,
		         detail_or(logbus_publisher_error(pub, err, sizeof err),
		                   LOGBUS_EREJECTED));
	else if (st.limited > 0)
		rc = fail("%llu of %llu records from standard input were "
		          "dropped by logbusd's rate limit for the service",
		          (unsigned long long)st.limited,
		          (unsigned long long)st.logged);
	else if (skipped > 0)
		rc = EXIT_FAIL;
out:
	free(line);
	free(fixed);
	return rc;
}

static int publish_message(logbus_publisher *pub, const struct publish_args *a)
{
	logbus_entry e = {
	    .level = a->level,
	    .stream = a->stream,
	    .message = a->message,
	    .message_len = strlen(a->message),
	    .fields = a->fields,
	    .nfields = a->nfields,
	};
	char err[512];
	int rc;

	if ((rc = logbus_write(pub, &e)) != LOGBUS_OK)
		return publish_write_failed(rc, "the message");
	rc = logbus_flush(pub, a->timeout_ms);
	if (rc == LOGBUS_OK)
		return 0;
	if (rc == LOGBUS_EREJECTED)
		return fail("%s", detail_or(logbus_publisher_error(pub, err,
		                                                   sizeof err),
		                            rc));
	if (rc == LOGBUS_ELIMITED)
		return fail("the message was dropped: %s", logbus_strerror(rc));
	return publish_unreachable(pub, a, rc);
}

int cmd_publish(int argc, char **argv)
{
	struct publish_args a = {
	    .level = LOGBUS_INFO,
	    .stream = LOGBUS_STREAM_LOG,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	};
	logbus_publisher_options po = {0};
	logbus_publisher *pub = NULL;
	int rc;

	if ((rc = publish_parse(argc, argv, &a)) != PARSE_OK)
		return rc;

	po.run_dir = a.run_dir;
	po.service = a.service;
	po.logger = a.logger;
	po.queue_bytes = PUBLISH_QUEUE_BYTES;
	po.on_full = LOGBUS_ON_FULL_BLOCK;
	po.fail_fast = 1; /* no socket file: say so now, not after --timeout */
	if ((rc = logbus_publisher_open(&pub, &po)) != LOGBUS_OK) {
		/* The service id was checked: the logger is to blame. */
		if (rc == LOGBUS_EINVAL)
			return usage_error(argv[0],
			                   "invalid logger name '%s': use 1 to "
			                   "%d bytes of UTF-8 without control "
			                   "characters",
			                   a.logger ? a.logger : a.service,
			                   LOGBUS_LOGGER_MAX);
		return fail("cannot start publishing as '%s': %s", a.service,
		            logbus_strerror(rc));
	}
	if (strcmp(a.message, "-") == 0)
		rc = publish_stdin(pub, &a);
	else
		rc = publish_message(pub, &a);
	/* Everything is acknowledged, or we already said why not. */
	logbus_publisher_close(pub, 0);
	return rc;
}

/* clang-format off */
const char ctl_publish_help[] =
"usage: logbusctl publish -s SERVICE [options] MESSAGE\n"
"       logbusctl publish -s SERVICE [options] -\n"
"\n"
"Publish MESSAGE as one record, or each line of standard input as a\n"
"record when MESSAGE is \"-\", and exit 0 only once logbusd has\n"
"acknowledged every record (it is then in the journal).\n"
"\n"
"  -s, --service ID       the service that logs (required): "
"letters, digits,\n"
"                         '.', '_', '-', not starting with '.'\n"
"  -l, --logger NAME      logger name, like pactown.sandbox "
"(default: the\n"
"                         service id)\n"
"  -p, --level LEVEL      debug, info, warning, error, critical, or "
"a number\n"
"                         0..255 (default info)\n"
"  -f, --field KEY=VALUE  a structured field; repeat for more (up "
"to 64).\n"
"                         VALUE is an integer when written like one "
"(5, -12;\n"
"                         not 007), a float when it has a '.' or an "
"exponent\n"
"                         (0.5, 1e3), true or false a boolean, "
"else a string\n"
"      --stream STREAM    log, stdout or stderr (default log)\n"
"      --timeout SEC      wait this long for logbusd (default 5; "
"fractions\n"
"                         allowed)\n" RUN_DIR_HELP
"  -h, --help             this text\n"
"\n"
"With \"-\", a line is a record without its newline; a last line "
"without a\n"
"newline is one too.  Bytes that are not UTF-8 become U+FFFD; a "
"line too long\n"
"for a record is reported and skipped, and the rest is still "
"published.\n"
"\n"
"Exit status: 0 all acknowledged; 1 logbusd not reachable in time, "
"or it\n"
"refused a record (the reason is printed); 2 bad arguments.\n";
/* clang-format on */
