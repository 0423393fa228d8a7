/*
 * logbusctl.c: the admin command line of logbus (publish, tail, ...).
 *
 * Built only on liblogbus's public API (logbus/logbus.h): if this tool needs
 * something the library does not offer, the library is what grows.
 *
 * Shape: one table of subcommands.  Each is a function cmd_NAME(argc, argv)
 * that parses its own options with getopt_long, argv[0] being the command's
 * name.  Every command accepts the shared options (--run-dir, --help); a
 * --run-dir given before the command is handed on by inserting it in front
 * of the command's own arguments, so a command parses one option set and a
 * --run-dir after the command wins.  No global state of our own: only
 * getopt's (optind is reset to 0 before each command, which makes glibc's
 * getopt start afresh, including the "+" of the global option string).
 *
 * Exit status, for every command: 0 done, 1 the operation failed (logbusd
 * unreachable, a record refused, a read error), 2 the command line is wrong.
 * Every message is one line on stderr starting "logbusctl: ".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#define EXIT_FAIL  1
#define EXIT_USAGE 2

/* The broker's socket names in its run directory, for error messages. */
#define INGEST_SOCK "ingest.sock"
#define QUERY_SOCK  "query.sock"

#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_S      86400

/* Queue of a publishing logbusctl; stdin mode waits for acknowledgements
 * whenever about half of it may be in flight, so that a logging call never
 * blocks for longer than --timeout on a broker that does not answer. */
#define PUBLISH_QUEUE_BYTES (8u << 20)

/* Long-only options get values above any character. */
enum {
	OPT_RUN_DIR = 0x100,
	OPT_TIMEOUT,
	OPT_STREAM,
	OPT_AFTER_CURSOR,
	OPT_SHOW_CURSOR,
};

/* The options every command takes, at the end of each command's table. */
/* clang-format off */
#define COMMON_LONG_OPTIONS \
	{"run-dir", required_argument, NULL, OPT_RUN_DIR}, \
	{"help", no_argument, NULL, 'h'}
/* clang-format on */

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
__attribute__((format(printf, 2, 3))) static int
usage_error(const char *cmd, const char *fmt, ...)
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
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap, "");
	va_end(ap);
	return EXIT_FAIL;
}

/* The run directory the library will use, for messages. */
static const char *run_dir_name(const char *run_dir, char *buf, size_t len)
{
	if (run_dir != NULL)
		return run_dir;
	if (logbus_default_run_dir(buf, len) == NULL)
		return "the default run directory";
	return buf;
}

/* A handle's error text, or the code's name when the handle has none. */
static const char *detail_or(const char *detail, int rc)
{
	return (detail != NULL && *detail != '\0') ? detail
	                                           : logbus_strerror(rc);
}

/* ---- option parsing ---------------------------------------------------- */

/*
 * getopt_long's '?' and ':' results as a usage error.  opterr is 0 and every
 * option string starts with ':', so getopt itself prints nothing.  The
 * option is named as the user wrote it: argv[optind - 1] for a long one
 * (optopt is 0 for an unknown one, else its val), "-c" for a short one, as
 * argv[optind - 1] may then be a cluster like "-xv" or an earlier argument.
 */
static int option_error(const char *cmd, int c, char **argv,
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

/* What a parse function returns when the command is to run; any other
 * value is the exit status to return at once. */
#define PARSE_OK   -1
#define NOT_COMMON -2

/*
 * An option every command shares, or a getopt error.  Returns NOT_COMMON
 * when c is none of those (the command handles it), PARSE_OK when it was
 * handled and parsing goes on, or the exit status to return now.
 */
static int common_option(int c, char **argv, char **run_dir,
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

#define BAD_LEVEL                                                              \
	"unknown level '%s': use debug, info, warning, error, critical or "    \
	"0..255"
#define BAD_SERVICE                                                            \
	"invalid service id '%s': use 1 to %d letters, digits, '.', '_' or "   \
	"'-', not starting with '.'"
#define BAD_TIMEOUT "bad --timeout '%s': seconds, more than 0 and at most %d"

/* A whole decimal int64 in [min, max], nothing else (no space, no '+'). */
static bool parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!((*s >= '0' && *s <= '9') ||
	      (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* "5", "0.5", "1.25": seconds, more than 0 and at most a day, in ms. */
static bool parse_timeout(const char *s, int *ms)
{
	size_t dots = 0, digits = 0;
	char *end;
	double v;

	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return false;
	}
	if (digits == 0 || dots > 1)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v > 0) || v > MAX_TIMEOUT_S)
		return false;
	*ms = (int)(v * 1000 + 0.5);
	if (*ms < 1)
		*ms = 1;
	return true;
}

static bool parse_level(const char *s, int *level)
{
	int v = logbus_level_parse(s);

	if (v < 0)
		return false;
	*level = v;
	return true;
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

static bool field_key_ok(const char *s, size_t len)
{
	if (len == 0 || len > LOGBUS_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

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

	if (int_text(v) && parse_int64(v, INT64_MIN, INT64_MAX, &i)) {
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
	if (!field_key_ok(arg, klen))
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
			if (strcmp(optarg, "log") == 0)
				a->stream = LOGBUS_STREAM_LOG;
			else if (strcmp(optarg, "stdout") == 0)
				a->stream = LOGBUS_STREAM_STDOUT;
			else if (strcmp(optarg, "stderr") == 0)
				a->stream = LOGBUS_STREAM_STDERR;
			else
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
	if (a->service == NULL)
		return usage_error(argv[0], "-s SERVICE is required");
	if (logbus_service_valid(a->service) != LOGBUS_OK)
		return usage_error(argv[0], BAD_SERVICE, a->service,
		                   LOGBUS_SERVICE_MAX);
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
	            run_dir_name(a->run_dir, dir, sizeof dir), INGEST_SOCK,
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

/* Copy of s with every byte that is not part of valid UTF-8 replaced by
 * U+FFFD; *out is grown with realloc.  Returns the length or -1. */
static long utf8_repair(const char *str, size_t len, char **out, size_t *cap)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0;

	if (len > (SIZE_MAX - 1) / 3)
		return -1;
	if (*cap < 3 * len + 1) {
		char *p = realloc(*out, 3 * len + 1);
		if (p == NULL)
			return -1;
		*out = p;
		*cap = 3 * len + 1;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i], lo = 0x80, hi = 0xbf;
		size_t n = 0, k;

		if (c < 0x80) {
			(*out)[o++] = (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		}
		k = 0;
		if (n > 0 && i + n < len && s[i + 1] >= lo && s[i + 1] <= hi)
			for (k = 1; k < n && (s[i + 1 + k] & 0xc0) == 0x80; k++)
				;
		if (n > 0 && k == n) {
			memcpy(*out + o, s + i, n + 1);
			o += n + 1;
			i += n + 1;
		} else {
			memcpy(*out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	return (long)o;
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

/* ---- tail -------------------------------------------------------------- */

struct tail_args {
	char *run_dir;
	const char **services;
	size_t nservices;
	int min_level;
	const char *logger_prefix;
	const char *cursor;
	bool n_given, n_all, show_cursor;
	int64_t n;
	enum logbus_format format;
	int timeout_ms;
};

/* The last max formatted lines, for -n with --after-cursor.  Slots keep
 * their buffers, so a record is formatted straight into its slot. */
struct line_ring {
	struct line_slot {
		char *buf;
		size_t cap, len;
	} * slots;
	size_t nslots, max, start, count;
};

static void ring_fini(struct line_ring *ring)
{
	for (size_t i = 0; i < ring->nslots; i++)
		free(ring->slots[i].buf);
	free(ring->slots);
}

/* The slot the next line goes to, or NULL when out of memory.  The ring
 * grows only while it is not full, so start is 0 until then. */
static struct line_slot *ring_next(struct line_ring *ring)
{
	struct line_slot *s;

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
		const struct line_slot *s =
		    &ring->slots[(ring->start + i) % ring->count];
		enum out_result o = out_write(s->buf, s->len);
		if (o != OUT_OK)
			return o;
	}
	return OUT_OK;
}

/* Returns PARSE_OK or an exit status. */
static int tail_parse(int argc, char **argv, struct tail_args *a)
{
	static const struct option longopts[] = {
	    {"lines", required_argument, NULL, 'n'},
	    {"service", required_argument, NULL, 's'},
	    {"level", required_argument, NULL, 'p'},
	    {"logger", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {"after-cursor", required_argument, NULL, OPT_AFTER_CURSOR},
	    {"show-cursor", no_argument, NULL, OPT_SHOW_CURSOR},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	while ((c = getopt_long(argc, argv, ":n:s:p:l:o:h", longopts, NULL)) !=
	       -1) {
		if ((rc = common_option(c, argv, &a->run_dir, longopts)) !=
		    NOT_COMMON) {
			if (rc != PARSE_OK)
				return rc;
			continue;
		}
		switch (c) {
		case 'n':
			a->n_given = true;
			a->n_all = strcmp(optarg, "all") == 0;
			if (!a->n_all &&
			    !parse_int64(optarg, 0, INT64_MAX, &a->n))
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
		case 'o':
			if (strcmp(optarg, "text") == 0)
				a->format = LOGBUS_FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				a->format = LOGBUS_FORMAT_JSON;
			else
				return usage_error(argv[0],
				                   "unknown output '%s': use "
				                   "text or json",
				                   optarg);
			break;
		case OPT_AFTER_CURSOR:
			if (*optarg == '\0')
				return usage_error(argv[0],
				                   "--after-cursor is empty");
			a->cursor = optarg;
			break;
		case OPT_SHOW_CURSOR:
			a->show_cursor = true;
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
	if (optind < argc)
		return usage_error(argv[0], "unexpected argument '%s'",
		                   argv[optind]);
	return PARSE_OK;
}

/* A reader's failure as one line; exit 1.  r is NULL when opening it
 * failed (the library then has no detail to give). */
static int tail_failed(logbus_reader *r, const struct tail_args *a, int rc)
{
	char dir[4096];
	const char *detail = detail_or(r ? logbus_reader_error(r) : NULL, rc);

	switch (rc) {
	case LOGBUS_EUNREACHABLE:
		if (r != NULL && *logbus_reader_error(r) != '\0')
			return fail("%s", detail);
		return fail("cannot reach logbusd at %s/%s: is logbusd "
		            "running?",
		            run_dir_name(a->run_dir, dir, sizeof dir),
		            QUERY_SOCK);
	case LOGBUS_ETIMEDOUT:
		return fail("%s: try a longer --timeout", detail);
	case LOGBUS_EEXPIRED:
		return fail("%s; to read from the oldest record kept (number "
		            "%llu), use -n all instead of --after-cursor",
		            detail,
		            r ? (unsigned long long)logbus_reader_oldest_seq(r)
		              : 0ull);
	case LOGBUS_ECURSOR:
		return fail("bad --after-cursor '%s': %s (a cursor comes from "
		            "--show-cursor or a JSON record of this journal)",
		            a->cursor, detail);
	case LOGBUS_EINVAL:
		return fail("cannot read: %s (check -s, -p and -l)", detail);
	default:
		return fail("%s", detail);
	}
}

static int tail_read(logbus_reader *r, const struct tail_args *a)
{
	struct line_ring ring = {0};
	char *buf = NULL;
	size_t cap = 0;
	const logbus_record *rec;
	const char *cursor;
	enum out_result o = OUT_OK;
	int rc;

	/* journalctl --after-cursor -n N: read all after the cursor, keep
	 * the last N. */
	bool use_ring = a->cursor != NULL && a->n_given && !a->n_all;

	ring.max = use_ring ? (size_t)a->n : 0;
	while ((rc = logbus_reader_next(r, &rec, -1)) == 1) {
		long len;

		if (use_ring) {
			struct line_slot *s;
			if (ring.max == 0)
				continue;
			if ((s = ring_next(&ring)) == NULL) {
				rc = LOGBUS_ENOMEM;
				break;
			}
			len = logbus_record_format(rec, a->format, &s->buf,
			                           &s->cap);
			if (len < 0) {
				rc = (int)len;
				break;
			}
			s->len = (size_t)len;
			continue;
		}
		len = logbus_record_format(rec, a->format, &buf, &cap);
		if (len < 0) {
			rc = (int)len;
			break;
		}
		if ((o = out_write(buf, (size_t)len)) != OUT_OK)
			break;
	}
	free(buf);
	if (o == OUT_OK && rc == 0 && use_ring)
		o = ring_write(&ring);
	ring_fini(&ring);
	if (o == OUT_CLOSED)
		return 0;
	if (o == OUT_ERROR)
		return EXIT_FAIL;
	if (rc == LOGBUS_ENOMEM)
		return fail("out of memory after reading records");
	if (rc < 0)
		return tail_failed(r, a, rc);

	if (a->show_cursor && (cursor = logbus_reader_cursor(r)) != NULL) {
		o = out_write("-- cursor: ", strlen("-- cursor: "));
		if (o == OUT_OK)
			o = out_write(cursor, strlen(cursor));
		if (o == OUT_OK)
			o = out_write("\n", 1);
	}
	if (o == OUT_OK)
		o = out_flush();
	return o == OUT_ERROR ? EXIT_FAIL : 0;
}

static int cmd_tail(int argc, char **argv)
{
	struct tail_args a = {
	    .n = 10,
	    .format = LOGBUS_FORMAT_TEXT,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	};
	logbus_reader_options ro = {0};
	logbus_reader *r = NULL;
	int rc;

	/* At most one service per argument. */
	if ((a.services = calloc((size_t)argc, sizeof *a.services)) == NULL)
		return fail("out of memory");
	if ((rc = tail_parse(argc, argv, &a)) != PARSE_OK)
		goto out;

	ro.run_dir = a.run_dir;
	ro.filter.services = a.nservices ? a.services : NULL;
	ro.filter.nservices = a.nservices;
	ro.filter.min_level = a.min_level;
	ro.filter.logger_prefix = a.logger_prefix;
	ro.timeout_ms = a.timeout_ms;
	if (a.cursor != NULL) {
		ro.start = LOGBUS_START_CURSOR;
		ro.cursor = a.cursor;
	} else if (a.n_all) {
		ro.start = LOGBUS_START_HEAD;
	} else {
		ro.start = LOGBUS_START_TAIL;
		ro.tail_n = (uint64_t)a.n;
	}
	if ((rc = logbus_reader_open(&r, &ro)) != LOGBUS_OK) {
		rc = tail_failed(NULL, &a, rc);
		goto out;
	}
	rc = tail_read(r, &a);
	logbus_reader_close(r);
out:
	free(a.services);
	return rc;
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

#define RUN_DIR_HELP                                                           \
	"      --run-dir DIR      logbusd's run directory (default: "          \
	"$LOGBUS_RUN_DIR,\n"                                                   \
	"                         /run/logbus as root, "                       \
	"$XDG_RUNTIME_DIR/logbus,\n"                                           \
	"                         /tmp/logbus-$UID)\n"

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
    {"tail", cmd_tail, "print the last records of the journal",
     "usage: logbusctl tail [options]\n"
     "\n"
     "Print records from logbusd's journal, oldest first, and exit: by "
     "default the\n"
     "last 10.  Filters apply before counting.\n"
     "\n"
     "  -n, --lines N|all      the last N records (default 10; 0: none, "
     "which with\n"
     "                         --show-cursor gives the end's cursor); "
     "all: from\n"
     "                         the oldest record kept\n"
     "  -s, --service ID       only this service; repeat for more\n"
     "  -p, --level LEVEL      only this level and above (error: error "
     "and critical)\n"
     "  -l, --logger PREFIX    only this logger and its children "
     "(pactown matches\n"
     "                         pactown.sandbox, not pactownx)\n"
     "      --after-cursor CUR only records after CUR (from "
     "--show-cursor or a\n"
     "                         JSON record's cursor); with -n N, the "
     "last N of them\n"
     "      --show-cursor      end with a line \"-- cursor: CUR\" for "
     "--after-cursor,\n"
     "                         in json output too (skip it when "
     "parsing)\n"
     "  -o, --output FORMAT    text (the Python logging layout) or json "
     "(an object\n"
     "                         per line)\n"
     "      --timeout SEC      wait this long for each answer of "
     "logbusd (default 5)\n" RUN_DIR_HELP "  -h, --help             this text\n"
     "\n"
     "Exit status: 0 done (also when the reader of the output went away); "
     "1\n"
     "logbusd not reachable, a bad or expired cursor, or a read error; 2 "
     "bad\n"
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
