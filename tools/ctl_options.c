/*
 * ctl_options.c: the options and values every logbusctl command reads the
 * same way: --run-dir and --help (command_getopt), getopt's errors named
 * as the user wrote the option, service ids, -o text|json, --timeout,
 * levels and stream names.
 *
 * Every option string starts with ':' and opterr is 0, so getopt itself
 * prints nothing: each mistake is one usage_error line.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <logbus/logbus.h>

#include "args.h"
#include "logbusctl.h"

#define BAD_LEVEL                                                              \
	"unknown level '%s': use debug, info, warning, error, critical or "    \
	"0..255"
#define BAD_SERVICE                                                            \
	"invalid service id '%s': use 1 to %d letters, digits, '.', '_' or "   \
	"'-', not starting with '.'"
#define BAD_TIMEOUT "bad --timeout '%s': seconds, more than 0 and at most %d"

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

int command_getopt(int argc, char **argv, const char *optstring,
                   const struct option *longopts, char **run_dir,
                   int *timeout_ms, int *status)
{
	int c;

	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RUN_DIR:
			if (*optarg == '\0') {
				*status =
				    usage_error(argv[0], "--run-dir is empty");
				return OPT_STOP;
			}
			*run_dir = optarg;
			break;
		case OPT_TIMEOUT:
			if (timeout_ms == NULL)
				return c;
			*status = timeout_arg(argv[0], optarg, timeout_ms);
			if (*status != PARSE_OK)
				return OPT_STOP;
			break;
		case 'h':
			command_help(argv[0], stdout);
			*status = 0;
			return OPT_STOP;
		case ':':
		case '?':
			*status = option_error(argv[0], c, argv, longopts);
			return OPT_STOP;
		default:
			return c;
		}
	}
	return -1;
}

int common_options_only(int argc, char **argv, char **run_dir)
{
	static const struct option longopts[] = {COMMON_LONG_OPTIONS,
	                                         {NULL, 0, NULL, 0}};
	int c, status = 0;

	c = command_getopt(argc, argv, ":h", longopts, run_dir, NULL, &status);
	if (c == -1)
		return PARSE_OK;
	return c == OPT_STOP ? status
	                     : option_error(argv[0], c, argv, longopts);
}

int no_arguments(int argc, char **argv)
{
	if (optind < argc)
		return usage_error(argv[0], "unexpected argument '%s'",
		                   argv[optind]);
	return PARSE_OK;
}

int service_arg(const char *cmd, const char *arg)
{
	if (logbus_service_valid(arg) != LOGBUS_OK)
		return usage_error(cmd, BAD_SERVICE, arg, LOGBUS_SERVICE_MAX);
	return PARSE_OK;
}

int require_service(const char *cmd, const char *service)
{
	if (service == NULL)
		return usage_error(cmd, "-s SERVICE is required");
	return service_arg(cmd, service);
}

/* "5", "0.5", "1.25": seconds, more than 0 and at most a day, in ms. */
int timeout_arg(const char *cmd, const char *arg, int *ms)
{
	double v;

	if (!args_seconds(arg, MAX_TIMEOUT_S, &v))
		return usage_error(cmd, BAD_TIMEOUT, arg, MAX_TIMEOUT_S);
	*ms = (int)(v * 1000 + 0.5);
	if (*ms < 1)
		*ms = 1;
	return PARSE_OK;
}

int level_arg(const char *cmd, const char *arg, int *level)
{
	int v = logbus_level_parse(arg);

	if (v < 0)
		return usage_error(cmd, BAD_LEVEL, arg);
	*level = v;
	return PARSE_OK;
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
bool parse_stream(const char *s, size_t n, enum logbus_stream *out)
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
