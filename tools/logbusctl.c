/*
 * logbusctl.c: the admin command line of logbus (publish, tail, errors,
 * rotate; run lives in ctl_run.c).
 *
 * Built only on liblogbus's public API (logbus/logbus.h): if this tool needs
 * something the library does not offer, the library is what grows.
 *
 * Shape: one table of subcommands.  Each is a function cmd_NAME(argc, argv)
 * that parses its own options with getopt_long, argv[0] being the command's
 * name.  Every command accepts the shared options (--run-dir, --help); a
 * --run-dir given before the command is handed on by inserting it in front
 * of the command's own arguments, so a command parses one option set and a
 * --run-dir after the command wins.  No global state of our own but the
 * flag SIGINT and SIGTERM set to end `tail -f` cleanly; and getopt's (optind
 * is reset to 0 before each command, which makes glibc's getopt start
 * afresh, including the "+" of the global option string).
 *
 * Exit status, for every command: 0 done, 1 the operation failed (logbusd
 * unreachable, a record refused, a read error), 2 the command line is wrong.
 * Every message is one line on stderr starting "logbusctl: ".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "args.h"
#include "logbusctl.h"
#include "proto.h"
#include "record.h"
#include "strbuf.h"
#include "timefmt.h"
#include "utf8.h"

/* Queue of a publishing logbusctl; stdin mode waits for acknowledgements
 * whenever about half of it may be in flight, so that a logging call never
 * blocks for longer than --timeout on a broker that does not answer. */
#define PUBLISH_QUEUE_BYTES (8u << 20)

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for logbusctl --help */
	const char *help;    /* logbusctl COMMAND --help */
};

static const struct command *command_find(const char *name);

/* ---- messages ---------------------------------------------------------- */

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

/* ---- option parsing ---------------------------------------------------- */

int output_text_or_json(const char *cmd, const char *arg, bool *json)
{
	if (strcmp(arg, "text") == 0 || strcmp(arg, "json") == 0) {
		*json = arg[0] == 'j';
		return PARSE_OK;
	}
	return usage_error(cmd, "unknown output '%s': use text or json", arg);
}

/*
 * getopt_long's '?' and ':' results as a usage error.  opterr is 0 and every
 * option string starts with ':', so getopt itself prints nothing.  The
 * option is named as the user wrote it: argv[optind - 1] for a long one
 * (optopt is 0 for an unknown one, else its val), "-c" for a short one, as
 * argv[optind - 1] may then be a cluster like "-xv" or an earlier argument.
 */
int option_error(const char *cmd, int c, char **argv,
                 const struct option *longopts)
{
	const char *arg = argv[optind - 1];
	char what[64];
	bool islong = false;

	if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
		size_t n = strcspn(arg + 2, "=");
		islong = optopt == 0;
		for (const struct option *o = longopts; o->name != NULL; o++)
			if (o->val == optopt &&
			    strncmp(o->name, arg + 2, n) == 0)
				islong = true;
		snprintf(what, sizeof what, "--%.*s", (int)n, arg + 2);
	}
	if (!islong)
		snprintf(what, sizeof what, "-%c", optopt);
	if (c == ':')
		return usage_error(cmd, "option %s needs a value", what);
	if (islong && optopt != 0)
		return usage_error(cmd, "option %s takes no value", what);
	return usage_error(cmd, "unknown option %s", what);
}

static void command_help(const struct command *cmd, FILE *f)
{
	fputs(cmd->help, f);
}

/*
 * An option every command shares, or a getopt error.  Returns NOT_COMMON
 * when c is none of those (the command handles it), PARSE_OK when it was
 * handled and parsing goes on, or the exit status to return now.
 */
int common_option(int c, char **argv, char **run_dir,
                  const struct option *longopts)
{
	switch (c) {
	case OPT_RUN_DIR:
		if (*optarg == '\0')
			return usage_error(argv[0], "--run-dir is empty");
		*run_dir = optarg;
		return PARSE_OK;
	case 'h':
		command_help(command_find(argv[0]), stdout);
		return 0;
	case ':':
	case '?':
		return option_error(argv[0], c, argv, longopts);
	default:
		return NOT_COMMON;
	}
}

/* "5", "0.5", "1.25": seconds, more than 0 and at most a day, in ms. */
bool parse_timeout(const char *s, int *ms)
{
	double v;

	if (!args_seconds(s, MAX_TIMEOUT_S, &v))
		return false;
	*ms = (int)(v * 1000 + 0.5);
	if (*ms < 1)
		*ms = 1;
	return true;
}

bool parse_level(const char *s, int *level)
{
	int v = logbus_level_parse(s);

	if (v < 0)
		return false;
	*level = v;
	return true;
}

static const struct {
	const char *name;
	enum logbus_stream stream;
} stream_names[] = {
    {"log", LOGBUS_STREAM_LOG},
    {"stdout", LOGBUS_STREAM_STDOUT},
    {"stderr", LOGBUS_STREAM_STDERR},
};

/* "log", "stdout" or "stderr": the n bytes at s. */
static bool stream_parse(const char *s, size_t n, enum logbus_stream *out)
{
	for (size_t i = 0; i < sizeof stream_names / sizeof stream_names[0];
	     i++)
		if (strlen(stream_names[i].name) == n &&
		    memcmp(stream_names[i].name, s, n) == 0) {
			*out = stream_names[i].stream;
			return true;
		}
	return false;
}

/* ---- output ------------------------------------------------------------ */

enum out_result { OUT_OK = 0, OUT_CLOSED = 1, OUT_ERROR = -1 };

/*
 * Write to stdout.  A reader that went away (EPIPE: SIGPIPE is ignored) is
 * OUT_CLOSED, the normal end of `logbusctl tail | head`; any other failure
 * is reported here.
 */
static enum out_result out_write(const char *p, size_t len)
{
	if (fwrite(p, 1, len, stdout) == len)
		return OUT_OK;
	if (errno == EPIPE)
		return OUT_CLOSED;
	fail("cannot write to standard output (%s)", strerror(errno));
	return OUT_ERROR;
}

static enum out_result out_flush(void)
{
	if (fflush(stdout) == 0)
		return OUT_OK;
	if (errno == EPIPE)
		return OUT_CLOSED;
	fail("cannot write to standard output (%s)", strerror(errno));
	return OUT_ERROR;
}

/* ---- publish ----------------------------------------------------------- */

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

int require_service(const char *cmd, const char *service)
{
	if (service == NULL)
		return usage_error(cmd, "-s SERVICE is required");
	if (logbus_service_valid(service) != LOGBUS_OK)
		return usage_error(cmd, BAD_SERVICE, service,
		                   LOGBUS_SERVICE_MAX);
	return PARSE_OK;
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

	while ((c = getopt_long(argc, argv, ":s:l:p:f:h", longopts, NULL)) !=
	       -1) {
		if ((rc = common_option(c, argv, &a->run_dir, longopts)) !=
		    NOT_COMMON) {
			if (rc != PARSE_OK)
				return rc;
			continue;
		}
		switch (c) {
		case 's':
			a->service = optarg;
			break;
		case 'l':
			a->logger = optarg;
			break;
		case 'p':
			if (!parse_level(optarg, &a->level))
				return usage_error(argv[0], BAD_LEVEL, optarg);
			break;
		case 'f':
			if ((rc = field_add(a, optarg)) != PARSE_OK)
				return rc;
			break;
		case OPT_STREAM:
			if (!stream_parse(optarg, strlen(optarg), &a->stream))
				return usage_error(argv[0],
				                   "unknown stream '%s': use "
				                   "log, stdout or stderr",
				                   optarg);
			break;
		case OPT_TIMEOUT:
			if (!parse_timeout(optarg, &a->timeout_ms))
				return usage_error(argv[0], BAD_TIMEOUT, optarg,
				                   MAX_TIMEOUT_S);
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
 * broker did not answer in time.  Refusals are counted, not fatal. */
static int publish_wait(logbus_publisher *pub, const struct publish_args *a)
{
	int rc = logbus_flush(pub, a->timeout_ms);

	if (rc == LOGBUS_OK || rc == LOGBUS_EREJECTED)
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
	return publish_unreachable(pub, a, rc);
}

static int cmd_publish(int argc, char **argv)
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

/* ---- times ------------------------------------------------------------- */

#define NS_PER_S INT64_C(1000000000)

/* The most seconds that still fit in int64 nanoseconds either way. */
#define SECONDS_MAX (INT64_MAX / NS_PER_S - 1)

#define BAD_TIME                                                               \
	"bad %s '%s': use 2026-11-22T10:00:00Z, '2026-11-22 10:00:00', "       \
	"2026-11-22, -10min, '2h ago', today, yesterday or now"

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
static bool parse_time(const char *s, int64_t now, int64_t *out)
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

/* ---- tail -------------------------------------------------------------- */

enum out_format { OUT_TEXT, OUT_JSON, OUT_CAT, OUT_VERBOSE };

/* A cursor as text is 53 bytes; a cursor file holding more is not one. */
#define CURSOR_TEXT_MAX 128

/* A follower asks for records this often, so that it notices Ctrl-C
 * soon, and output waits at most this long in stdout's buffer. */
#define FOLLOW_POLL_MS  200
#define FOLLOW_FLUSH_MS 200

/* Levels from WARNING up stand out on a terminal (journalctl's habit). */
#define COLOR_WARNING "\033[1;33m"
#define COLOR_ERROR   "\033[1;31m"
#define COLOR_OFF     "\033[0m"

struct tail_args {
	char *run_dir;
	const char **services;
	size_t nservices;
	const char **fields; /* -F KEY=VALUE, as given */
	size_t nfields;
	int min_level;
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
	int64_t n;
	enum out_format format;
	int timeout_ms;
};

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

/* ---- tail: formatting ---- */

/* Put the colour around the n bytes before b's final '\n'. */
static void color_tail(struct strbuf *b, size_t n, const char *color)
{
	size_t on = strlen(color), off = strlen(COLOR_OFF), start;

	if (b->len < n + 1)
		return;
	start = b->len - 1 - n;
	/* room for both codes; the bytes put here are overwritten */
	sb_puts(b, color);
	sb_puts(b, COLOR_OFF);
	if (b->failed)
		return;
	memmove(b->p + start + on, b->p + start, n);
	memcpy(b->p + start, color, on);
	memcpy(b->p + start + on + n, COLOR_OFF "\n", off + 1);
}

static const char *level_color(int level)
{
	if (level >= LOGBUS_ERROR)
		return COLOR_ERROR;
	if (level >= LOGBUS_WARNING)
		return COLOR_WARNING;
	return NULL;
}

/* "    KEY=VALUE\n"; further lines of a value are indented deeper, so that
 * only a record's first line starts at the margin. */
static void verbose_value(struct strbuf *b, const char *key, const char *v,
                          size_t n)
{
	const char *nl;

	sb_puts(b, "    ");
	sb_puts(b, key);
	sb_put(b, "=", 1);
	while ((nl = memchr(v, '\n', n)) != NULL) {
		sb_put(b, v, (size_t)(nl - v) + 1);
		sb_puts(b, "        ");
		n -= (size_t)(nl - v) + 1;
		v = nl + 1;
	}
	sb_put(b, v, n);
	sb_put(b, "\n", 1);
}

/* A field named like one of the record's own keys is written field.KEY,
 * so that a publisher cannot pass off pid=1 as the trusted pid. */
static const char *verbose_key(const char *key, char *buf, size_t len)
{
	static const char *const own[] = {
	    "seq", "service", "logger", "level",   "stream", "pid",
	    "uid", "gid",     "comm",   "message", NULL};
	for (int i = 0; own[i]; i++)
		if (strcmp(own[i], key) == 0) {
			snprintf(buf, len, "field.%s", key);
			return buf;
		}
	return key;
}

/*
 * journalctl -o verbose's layout: "TIME [CURSOR]", then one indented
 * KEY=VALUE line per part of the record: the broker's (seq, service, ...,
 * gid, comm), the structured fields in their order, the message last.
 */
static void format_verbose(struct strbuf *b, const logbus_record *r)
{
	char t[64], lv[16], kb[LOGBUS_KEY_MAX + 8];

	logbus_format_time(r->time_ns, LOGBUS_TIME_RFC3339, t, sizeof t);
	sb_printf(b, "%s [%s]\n", t, r->cursor);
	sb_printf(b, "    seq=%" PRIu64 "\n", r->seq);
	verbose_value(b, "service", r->service, strlen(r->service));
	verbose_value(b, "logger", r->logger, strlen(r->logger));
	sb_printf(b, "    level=%s\n",
	          logbus_level_name(r->level, lv, sizeof lv));
	sb_printf(b, "    stream=%s\n", stream_name(r->stream));
	sb_printf(b, "    pid=%" PRIu32 "\n    uid=%" PRIu32 "\n", r->pid,
	          r->uid);
	sb_printf(b, "    gid=%" PRIu32 "\n", r->gid);
	verbose_value(b, "comm", r->comm, strlen(r->comm));
	for (size_t i = 0; i < r->nfields; i++) {
		const logbus_field *f = &r->fields[i];
		const char *key = verbose_key(f->key, kb, sizeof kb);
		switch (f->type) {
		case LOGBUS_FIELD_STR:
			verbose_value(b, key, f->v.s, strlen(f->v.s));
			break;
		case LOGBUS_FIELD_INT:
			sb_printf(b, "    %s=%" PRId64 "\n", key, f->v.i);
			break;
		case LOGBUS_FIELD_FLOAT:
			sb_printf(b, "    %s=", key);
			sb_double(b, f->v.f);
			sb_put(b, "\n", 1);
			break;
		case LOGBUS_FIELD_BOOL:
			sb_printf(b, "    %s=%s\n", key,
			          f->v.b ? "true" : "false");
			break;
		}
	}
	verbose_value(b, "message", r->message, r->message_len);
}

/* A record as format's lines in *b, which it replaces, with the message
 * coloured by level when color: LOGBUS_OK or LOGBUS_ENOMEM. */
static int out_format_record(const logbus_record *rec, enum out_format format,
                             bool color, struct strbuf *b)
{
	const char *code = color ? level_color(rec->level) : NULL;
	long len;

	sb_reset(b);
	switch (format) {
	case OUT_JSON:
	case OUT_TEXT:
		len = logbus_record_format(rec,
		                           format == OUT_JSON
		                               ? LOGBUS_FORMAT_JSON
		                               : LOGBUS_FORMAT_TEXT,
		                           &b->p, &b->cap);
		if (len < 0)
			return (int)len;
		b->len = (size_t)len;
		if (format == OUT_JSON)
			return LOGBUS_OK;
		break;
	case OUT_CAT:
		sb_put(b, rec->message, rec->message_len);
		sb_put(b, "\n", 1);
		break;
	case OUT_VERBOSE:
		format_verbose(b, rec);
		code = NULL;
		break;
	}
	/* Text ends with the message, like cat: colour just the message. */
	if (code != NULL)
		color_tail(b, rec->message_len, code);
	return b->failed ? LOGBUS_ENOMEM : LOGBUS_OK;
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

static enum out_result ring_write(const struct line_ring *ring)
{
	for (size_t i = 0; i < ring->count; i++) {
		const struct strbuf *s =
		    &ring->slots[(ring->start + i) % ring->count];
		enum out_result o = out_write(s->p, s->len);
		if (o != OUT_OK)
			return o;
	}
	return OUT_OK;
}

/* ---- tail: the cursor file ---- */

/*
 * The cursor stored in a->cursor_file, into a->file_cursor: "" when there
 * is none (no file, or only white space in it).  Returns 0, or the exit
 * status after saying why the file cannot be read.
 */
static int cursor_file_read(struct tail_args *a)
{
	char *c = a->file_cursor;
	FILE *f = fopen(a->cursor_file, "r");
	size_t n;
	bool more;

	c[0] = '\0';
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return fail("cannot read the cursor file %s (%s)",
		            a->cursor_file, strerror(errno));
	}
	n = fread(c, 1, sizeof a->file_cursor - 1, f);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		return fail("cannot read the cursor file %s (%s)",
		            a->cursor_file, strerror(e));
	}
	more = fgetc(f) != EOF;
	fclose(f);
	c[n] = '\0';
	while (n > 0 && strchr(" \t\r\n", c[n - 1]) != NULL)
		c[--n] = '\0';
	if (more || strlen(c) != n)
		return fail("the cursor file %s does not hold a cursor: remove "
		            "it to start afresh",
		            a->cursor_file);
	return 0;
}

/* Replace the cursor file's content atomically: FILE.tmp, synced, then
 * renamed over FILE.  Returns 0 or the exit status after saying why not. */
static int cursor_file_write(const char *path, const char *cursor)
{
	char tmp[PATH_MAX];
	size_t len = strlen(cursor), off = 0;
	int fd, e;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return fail("cursor file path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("cannot write the cursor file %s (%s)", tmp,
		            strerror(errno));
	while (off <= len) {
		/* the cursor, then its newline */
		const char *p = off < len ? cursor + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fdatasync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return fail("cannot replace the cursor file %s (%s)", path,
		            strerror(e));
	}
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return fail("cannot write the cursor file %s (%s)", tmp, strerror(e));
}

/* ---- tail: command line ---- */

static bool parse_streams(const char *s, unsigned *mask)
{
	for (;;) {
		size_t n = strcspn(s, ",");
		enum logbus_stream st;

		if (!stream_parse(s, n, &st))
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
	    {"follow", no_argument, NULL, 'f'},
	    {"lines", required_argument, NULL, 'n'},
	    {"service", required_argument, NULL, 's'},
	    {"level", required_argument, NULL, 'p'},
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
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int64_t now = timefmt_now_ns();
	const char *eq;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":fn:s:p:l:g:F:S:U:o:h", longopts,
	                        NULL)) != -1) {
		if ((rc = common_option(c, argv, &a->run_dir, longopts)) !=
		    NOT_COMMON) {
			if (rc != PARSE_OK)
				return rc;
			continue;
		}
		switch (c) {
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
		case 's':
			if (logbus_service_valid(optarg) != LOGBUS_OK)
				return usage_error(argv[0], BAD_SERVICE, optarg,
				                   LOGBUS_SERVICE_MAX);
			a->services[a->nservices++] = optarg;
			break;
		case 'p':
			if (!parse_level(optarg, &a->min_level))
				return usage_error(argv[0], BAD_LEVEL, optarg);
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
			if (strcmp(optarg, "text") == 0)
				a->format = OUT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				a->format = OUT_JSON;
			else if (strcmp(optarg, "cat") == 0)
				a->format = OUT_CAT;
			else if (strcmp(optarg, "verbose") == 0)
				a->format = OUT_VERBOSE;
			else
				return usage_error(argv[0],
				                   "unknown output '%s': use "
				                   "text, json, cat or verbose",
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
		case OPT_TIMEOUT:
			if (!parse_timeout(optarg, &a->timeout_ms))
				return usage_error(argv[0], BAD_TIMEOUT, optarg,
				                   MAX_TIMEOUT_S);
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	if (optind < argc)
		return usage_error(argv[0], "unexpected argument '%s'",
		                   argv[optind]);
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
 */
static void tail_options(const struct tail_args *a, logbus_reader_options *ro)
{
	ro->run_dir = a->run_dir;
	ro->filter.services = a->nservices ? a->services : NULL;
	ro->filter.nservices = a->nservices;
	ro->filter.min_level = a->min_level;
	ro->filter.logger_prefix = a->logger_prefix;
	ro->filter.streams = a->streams;
	ro->filter.fields = a->nfields ? a->fields : NULL;
	ro->filter.nfields = a->nfields;
	ro->filter.message_regex = a->regex;
	ro->filter.since_ns = a->since_arg ? a->since_ns : 0;
	ro->filter.until_ns = a->until_arg ? a->until_ns : 0;
	ro->timeout_ms = a->timeout_ms;
	ro->follow = a->follow;
	if (a->cursor != NULL) {
		ro->start = LOGBUS_START_CURSOR;
		ro->cursor = a->cursor;
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

/* ---- tail: reading ---- */

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
		return fail("%s: retention removed records while they were "
		            "read; run the command again",
		            detail);
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

/* Read a snapshot to its end; with a cursor and -n N print only the last
 * N.  last: nothing follows (the cursor line is printed). */
static int tail_snapshot(logbus_reader *r, const struct tail_args *a, bool last)
{
	struct line_ring ring = {0};
	struct strbuf buf = {0};
	const logbus_record *rec;
	enum out_result o = OUT_OK;
	int rc, st;

	/* journalctl --after-cursor -n N: read all after the cursor, keep
	 * the last N. */
	bool use_ring = a->cursor != NULL && a->n_given && !a->n_all;

	ring.max = use_ring ? (size_t)a->n : 0;
	while ((rc = logbus_reader_next(r, &rec, -1)) == 1) {
		if (use_ring) {
			struct strbuf *s;
			if (ring.max == 0)
				continue;
			if ((s = ring_next(&ring)) == NULL) {
				rc = LOGBUS_ENOMEM;
				break;
			}
			if ((rc = out_format_record(rec, a->format, a->color,
			                            s)) != LOGBUS_OK)
				break;
			continue;
		}
		if ((rc = out_format_record(rec, a->format, a->color, &buf)) !=
		    LOGBUS_OK)
			break;
		if ((o = out_write(buf.p, buf.len)) != OUT_OK)
			break;
	}
	sb_free(&buf);
	if (o == OUT_OK && rc == 0 && use_ring)
		o = ring_write(&ring);
	ring_fini(&ring);
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
	return tail_end(r, a, last);
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

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

	if (out_format_record(rec, a->format, a->color, buf) != LOGBUS_OK)
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
			st = follow_print(r, a, &f, rec, &buf);
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
			/* Fell behind retention while following (not at the
			 * start: that is a bad cursor): say what was lost
			 * rather than end the follow. */
			fail("records before number %llu were removed by "
			     "retention before they could be read; going on "
			     "from there",
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

static int cmd_tail(int argc, char **argv)
{
	struct tail_args a = {
	    .n = 10,
	    .format = OUT_TEXT,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	};
	logbus_reader_options ro = {0};
	logbus_reader *r = NULL;
	char err[512] = "", cursor[CURSOR_TEXT_MAX];
	int rc;

	/* At most one service or field per argument. */
	a.services = calloc((size_t)argc, sizeof *a.services);
	a.fields = calloc((size_t)argc, sizeof *a.fields);
	if (a.services == NULL || a.fields == NULL) {
		rc = fail("out of memory");
		goto out;
	}
	if ((rc = tail_parse(argc, argv, &a)) != PARSE_OK)
		goto out;
	a.color = (a.format == OUT_TEXT || a.format == OUT_CAT) &&
	          !a.no_color && getenv("NO_COLOR") == NULL &&
	          isatty(STDOUT_FILENO);
	a.cursor = a.after_cursor;
	if (a.cursor_file != NULL) {
		if ((rc = cursor_file_read(&a)) != 0)
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
	if (a.follow && a.cursor != NULL && a.n_given && !a.n_all) {
		ro.follow = 0;
		if ((rc = logbus_reader_open(&r, &ro)) != LOGBUS_OK) {
			rc = tail_failed(NULL, &a, rc, err);
			goto out;
		}
		rc = tail_snapshot(r, &a, false);
		snprintf(cursor, sizeof cursor, "%s",
		         logbus_reader_cursor(r) ? logbus_reader_cursor(r)
		                                 : a.cursor);
		logbus_reader_close(r);
		if (rc != 0)
			goto out;
		ro.follow = 1;
		ro.cursor = cursor;
	}
	if ((rc = logbus_reader_open(&r, &ro)) != LOGBUS_OK) {
		rc = tail_failed(NULL, &a, rc, err);
		goto out;
	}
	rc = a.follow ? tail_follow(r, &a) : tail_snapshot(r, &a, true);
	logbus_reader_close(r);
out:
	free(a.services);
	free(a.fields);
	return rc;
}

/* ---- errors ------------------------------------------------------------ */

/* "2026-11-22 10:00:00", local time. */
void local_time_text(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
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

struct errors_args {
	char *run_dir;
	const char *service; /* NULL: list the services with a report */
	bool all, json;
};

static int errors_parse(int argc, char **argv, struct errors_args *a)
{
	static const struct option longopts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"output", required_argument, NULL, 'o'},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, ":ao:h", longopts, NULL)) != -1) {
		if ((rc = common_option(c, argv, &a->run_dir, longopts)) !=
		    NOT_COMMON) {
			if (rc != PARSE_OK)
				return rc;
			continue;
		}
		switch (c) {
		case 'a':
			a->all = true;
			break;
		case 'o':
			if ((rc = output_text_or_json(argv[0], optarg,
			                              &a->json)) != PARSE_OK)
				return rc;
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	if (argc - optind > 1)
		return usage_error(argv[0], "one SERVICE only, got %d",
		                   argc - optind);
	if (optind < argc) {
		a->service = argv[optind];
		if (logbus_service_valid(a->service) != LOGBUS_OK)
			return usage_error(argv[0], BAD_SERVICE, a->service,
			                   LOGBUS_SERVICE_MAX);
	}
	if (a->all && a->service == NULL)
		return usage_error(argv[0], "--all needs a SERVICE");
	if (a->json && a->service != NULL)
		return usage_error(argv[0], "-o json is for the list of "
		                            "reports: give no SERVICE");
	return PARSE_OK;
}

static int report_info_cmp(const void *x, const void *y)
{
	const logbus_report_info *a = x, *b = y;

	if (a->written_ns != b->written_ns)
		return a->written_ns < b->written_ns ? -1 : 1;
	return strcmp(a->service, b->service);
}

/* One line per service with a report, the newest last. */
static int errors_list(const struct errors_args *a)
{
	logbus_report_info *v;
	char err[512] = "", when[64];
	size_t n, wsvc = 0, wsize = 0;
	int rc;

	rc = logbus_error_reports(a->run_dir, &v, &n, err, sizeof err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot list error reports", a->run_dir, rc,
		                    err);
	qsort(v, n, sizeof *v, report_info_cmp);
	for (size_t i = 0; i < n; i++) {
		char size[32];
		size_t l = strlen(v[i].service);
		if (l > wsvc)
			wsvc = l;
		l = (size_t)snprintf(size, sizeof size, "%" PRIu64, v[i].size);
		if (l > wsize)
			wsize = l;
	}
	if (n == 0 && !a->json)
		printf("no error reports\n");
	for (size_t i = 0; i < n; i++) {
		if (a->json) {
			logbus_format_time(v[i].written_ns, LOGBUS_TIME_RFC3339,
			                   when, sizeof when);
			/* service ids need no escaping: [A-Za-z0-9._-] */
			printf("{\"service\":\"%s\",\"written\":\"%s\","
			       "\"size\":%" PRIu64 ",\"kept\":%d}\n",
			       v[i].service, when, v[i].size, v[i].kept);
		} else {
			local_time_text(v[i].written_ns, when, sizeof when);
			printf("%-*s  %s  %*" PRIu64 "  (%d kept)\n", (int)wsvc,
			       v[i].service, when, (int)wsize, v[i].size,
			       v[i].kept);
		}
	}
	free(v);
	return out_flush() == OUT_ERROR ? EXIT_FAIL : 0;
}

/* A service's report as stored; with --all the one before it too. */
static int errors_show(const struct errors_args *a)
{
	char err[512] = "", when[64], *text;
	size_t len;
	int64_t written;
	enum out_result o;
	int rc;

	rc = logbus_error_report(a->run_dir, a->service, 0, &text, &len,
	                         &written, err, sizeof err);
	if (rc == LOGBUS_ENOTFOUND)
		return fail("no error report for service %s", a->service);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot read the error report", a->run_dir,
		                    rc, err);
	o = out_write(text, len);
	free(text);
	if (o == OUT_OK && a->all) {
		err[0] = '\0';
		rc = logbus_error_report(a->run_dir, a->service, 1, &text, &len,
		                         &written, err, sizeof err);
		if (rc == LOGBUS_ENOTFOUND)
			return out_flush() == OUT_ERROR ? EXIT_FAIL : 0;
		if (rc != LOGBUS_OK) {
			out_flush();
			return admin_failed("cannot read the previous error "
			                    "report",
			                    a->run_dir, rc, err);
		}
		local_time_text(written, when, sizeof when);
		printf("==== previous report (written %s) ====\n", when);
		o = out_write(text, len);
		free(text);
	}
	if (o == OUT_OK)
		o = out_flush();
	return o == OUT_ERROR ? EXIT_FAIL : 0;
}

static int cmd_errors(int argc, char **argv)
{
	struct errors_args a = {0};
	int rc;

	if ((rc = errors_parse(argc, argv, &a)) != PARSE_OK)
		return rc;
	return a.service ? errors_show(&a) : errors_list(&a);
}

/* ---- rotate ------------------------------------------------------------ */

static int cmd_rotate(int argc, char **argv)
{
	static const struct option longopts[] = {COMMON_LONG_OPTIONS,
	                                         {NULL, 0, NULL, 0}};
	char *run_dir = NULL, err[512] = "";
	unsigned files = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		if ((rc = common_option(c, argv, &run_dir, longopts)) !=
		    PARSE_OK)
			return rc == NOT_COMMON
			           ? option_error(argv[0], c, argv, longopts)
			           : rc;
	if (optind < argc)
		return usage_error(argv[0], "unexpected argument '%s'",
		                   argv[optind]);
	rc = logbus_rotate(run_dir, &files, err, sizeof err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot make logbusd reopen its files",
		                    run_dir, rc, err);
	printf("reopened %u file%s\n", files, files == 1 ? "" : "s");
	return 0;
}

/* ---- help -------------------------------------------------------------- */

static void usage(FILE *f);

static int cmd_help(int argc, char **argv)
{
	static const struct option longopts[] = {COMMON_LONG_OPTIONS,
	                                         {NULL, 0, NULL, 0}};
	const struct command *cmd;
	char *run_dir = NULL;
	int c, rc;

	/* --run-dir is accepted, like everywhere, and means nothing here. */
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1)
		if ((rc = common_option(c, argv, &run_dir, longopts)) !=
		    PARSE_OK)
			return rc == NOT_COMMON
			           ? option_error(argv[0], c, argv, longopts)
			           : rc;
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	if (argc - optind > 1)
		return usage_error(argv[0], "one COMMAND only");
	if ((cmd = command_find(argv[optind])) == NULL)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);
	command_help(cmd, stdout);
	return 0;
}

/* ---- the table --------------------------------------------------------- */

#define TAIL_HELP                                                              \
	"usage: logbusctl tail [options]\n"                                    \
	"\n"                                                                   \
	"Print records from logbusd's journal, oldest first: by default the "  \
	"last 10,\n"                                                           \
	"then exit; with -f, go on printing records as they are committed.  "  \
	"Filters\n"                                                            \
	"apply before counting.\n"                                             \
	"\n"                                                                   \
	"  -f, --follow           after the last N records (default 10), "     \
	"print new\n"                                                          \
	"                         ones as they come until Ctrl-C or SIGTERM "  \
	"(exit 0);\n"                                                          \
	"                         while logbusd is away, say so once and "     \
	"wait for it\n"                                                        \
	"  -n, --lines N|all      the last N records (default 10; 0: none, "   \
	"which with\n"                                                         \
	"                         --show-cursor gives the end's cursor); "     \
	"all: from\n"                                                          \
	"                         the oldest record kept\n"                    \
	"  -s, --service ID       only this service; repeat for more\n"        \
	"  -p, --level LEVEL      only this level and above (error: error "    \
	"and critical)\n"                                                      \
	"  -l, --logger PREFIX    only this logger and its children (pactown " \
	"matches\n"                                                            \
	"                         pactown.sandbox, not pactownx)\n"            \
	"  -g, --grep REGEX       only messages REGEX matches (PCRE2; (?i) "   \
	"ignores\n"                                                            \
	"                         case, as in "                                \
	"'(?i)(error|exception|failed)')\n"                                    \
	"      --stream STREAM    only records of log, stdout or stderr; "     \
	"repeat, or\n"                                                         \
	"                         give a list like stdout,stderr, for more\n"  \
	"  -F, --field KEY=VALUE  only records whose field KEY, written as "   \
	"text, is\n"                                                           \
	"                         VALUE (user=user123, port=8001); repeat: "   \
	"all hold\n"                                                           \
	"  -S, --since TIME       only records from TIME on; without -n, all " \
	"of them\n"                                                            \
	"  -U, --until TIME       only records before TIME\n"                  \
	"      --after-cursor CUR only records after CUR (from --show-cursor " \
	"or a\n"                                                               \
	"                         JSON record's cursor); with -n N, the last " \
	"N of them\n"                                                          \
	"      --cursor-file FILE start after the cursor stored in FILE "      \
	"(without one,\n"                                                      \
	"                         as -n says), and store the cursor there at " \
	"the end\n"                                                            \
	"                         and, with -f, after each burst of output\n"  \
	"      --show-cursor      end with a line \"-- cursor: CUR\" for "     \
	"--after-cursor,\n"                                                    \
	"                         in json output too (skip it when parsing)\n" \
	"  -o, --output FORMAT    text (the Python logging layout), json (an " \
	"object\n"                                                             \
	"                         per line), cat (the message only) or "       \
	"verbose (a\n"                                                         \
	"                         line \"TIME [CURSOR]\", then \"    "         \
	"KEY=VALUE\" lines:\n"                                                 \
	"                         seq ... comm, the fields, the message)\n"    \
	"      --no-color         no colour; on a terminal, text and cat "     \
	"show\n"                                                               \
	"                         WARNING in yellow and ERROR and above in "   \
	"red, unless\n"                                                        \
	"                         NO_COLOR is set\n"                           \
	"      --no-pager         accepted (journalctl's habit); we never "    \
	"page\n"                                                               \
	"      --timeout SEC      wait this long for each answer of logbusd "  \
	"(default 5)\n" RUN_DIR_HELP "  -h, --help             this text\n"    \
	"\n"                                                                   \
	"TIME: RFC 3339 (2026-11-22T10:00:00Z, 2026-11-22T10:00:00.5+02:00); " \
	"local\n"                                                              \
	"time as '2026-11-22 10:00:00', 2026-11-22 or 10:00; relative to now " \
	"as\n"                                                                 \
	"-10min, -2h, -30s, -1d, -1w or '1h 30min ago'; today, yesterday, "    \
	"tomorrow,\n"                                                          \
	"now; or @SECONDS since the epoch.\n"                                  \
	"\n"                                                                   \
	"Exit status: 0 done (also when the reader of the output went away, "  \
	"and\n"                                                                \
	"after Ctrl-C or SIGTERM while following); 1 logbusd not reachable, "  \
	"a bad\n"                                                              \
	"or expired cursor, or a read error; 2 bad arguments.\n"

static const struct command commands[] = {
    {"publish", cmd_publish, "publish a record, or one per line of stdin",
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
     "refused a record (the reason is printed); 2 bad arguments.\n"},
    {"tail", cmd_tail, "print the last records of the journal, or follow it",
     TAIL_HELP},
    {"run", cmd_run, "run a command, recording its output and its exit",
     ctl_run_help},
    {"errors", cmd_errors, "list error reports, or print a service's",
     "usage: logbusctl errors [options]\n"
     "       logbusctl errors [options] SERVICE\n"
     "\n"
     "Without SERVICE, one line per service with an error report, the "
     "newest\n"
     "last: SERVICE  WRITTEN (local time)  SIZE (bytes)  (N kept), or "
     "\"no error\n"
     "reports\".  With SERVICE, its latest report "
     "(service_SERVICE_error.log in\n"
     "logbusd's log directory) exactly as stored.\n"
     "\n"
     "  -a, --all              with SERVICE: the latest report, then the "
     "previous\n"
     "                         one after a line \"==== previous report "
     "(written\n"
     "                         TIME) ====\"\n"
     "  -o, --output FORMAT    text (default) or json for the list: an "
     "object per\n"
     "                         line with service, written (RFC 3339), "
     "size, kept\n" RUN_DIR_HELP "  -h, --help             this text\n"
     "\n"
     "Exit status: 0 done; 1 no report for SERVICE, or logbusd not "
     "reachable; 2\n"
     "bad arguments.\n"},
    {"stats", cmd_stats, "logbusd's figures: records, rates, journal, fsync",
     ctl_stats_help},
    {"services", cmd_services,
     "each service seen: records by level, last record, last error report",
     ctl_services_help},
    {"rotate", cmd_rotate, "make logbusd reopen the files it writes",
     "usage: logbusctl rotate [options]\n"
     "\n"
     "Make logbusd close and reopen every file it writes (after logrotate "
     "moved\n"
     "them; the same as SIGHUP) and print \"reopened N files\".\n"
     "\n" RUN_DIR_HELP "  -h, --help             this text\n"
     "\n"
     "Exit status: 0 done; 1 logbusd not reachable or it failed; 2 bad "
     "arguments.\n"},
    {"help", cmd_help, "help on a command",
     "usage: logbusctl help [COMMAND]\n"
     "\n"
     "The help text of COMMAND, or the list of commands.\n"},
};

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fputs("usage: logbusctl [--run-dir DIR] COMMAND [options] [ARGS]\n"
	      "\n"
	      "The admin tool of logbus, the local log broker.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name,
		        commands[i].summary);
	fputs("\n"
	      "Options:\n" RUN_DIR_HELP
	      "                         (may also follow COMMAND)\n"
	      "  -h, --help             this text; logbusctl COMMAND --help "
	      "for a command\n"
	      "  -V, --version          the version\n"
	      "\n"
	      "Exit status: 0 done, 1 the operation failed, 2 bad arguments.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"run-dir", required_argument, NULL, OPT_RUN_DIR},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char run_dir_opt[] = "--run-dir";
	const struct command *cmd;
	char *run_dir = NULL;
	char **cargv;
	int c, cargc, rc;

	/* A closed stdout is EPIPE from write(2), handled where we write. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RUN_DIR:
			if (*optarg == '\0')
				return usage_error(NULL, "--run-dir is empty");
			run_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return out_flush() == OUT_ERROR ? EXIT_FAIL : 0;
		case 'V':
			printf("logbusctl %s\n", LOGBUS_VERSION_STRING);
			return out_flush() == OUT_ERROR ? EXIT_FAIL : 0;
		default:
			return option_error(NULL, c, argv, longopts);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "no command given");
	if ((cmd = command_find(argv[optind])) == NULL)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);

	/* COMMAND [--run-dir DIR] ARGS...: one option set per command. */
	cargc = argc - optind + (run_dir ? 2 : 0);
	if ((cargv = calloc((size_t)cargc + 1, sizeof *cargv)) == NULL)
		return fail("out of memory");
	cargv[0] = argv[optind];
	c = 1;
	if (run_dir != NULL) {
		cargv[c++] = run_dir_opt;
		cargv[c++] = run_dir;
	}
	for (int i = optind + 1; i < argc; i++)
		cargv[c++] = argv[i];
	optind = 0;
	rc = cmd->run(cargc, cargv);
	free(cargv);
	/* help text and anything a command left in the buffer */
	if (rc == 0 && out_flush() == OUT_ERROR)
		rc = EXIT_FAIL;
	return rc;
}
