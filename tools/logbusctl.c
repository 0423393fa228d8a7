/*
 * logbusctl.c: the admin command line of logbus: main() and the table of
 * commands.  Each command lives in a file of its own (logbusctl.h lists
 * them and what they share).
 *
 * Built on liblogbus's public API (logbus/logbus.h) for everything that
 * talks to logbusd: if this tool needs something the library does not
 * offer, the library is what grows.  The rules and text helpers the broker
 * and the library apply (service ids, field keys, UTF-8, JSON, socket
 * names) come from shared/, linked in, so that a check is the same code
 * wherever it is made.
 *
 * Shape: one table of subcommands.  Each is a function cmd_NAME(argc, argv)
 * that parses its own options with getopt_long, argv[0] being the command's
 * name.  Every command accepts the shared options (--run-dir, --help); a
 * --run-dir given before the command is handed on by inserting it in front
 * of the command's own arguments, so a command parses one option set and a
 * --run-dir after the command wins.  No global state of our own but the
 * flag SIGINT and SIGTERM set to end `tail -f` cleanly (ctl_tail.c); and
 * getopt's (optind is reset to 0 before each command, which makes glibc's
 * getopt start afresh, including the "+" of the global option string).
 *
 * Exit status, for every command: 0 done, 1 the operation failed (logbusd
 * unreachable, a record refused, a read error), 2 the command line is wrong.
 * Every message is one line on stderr starting "logbusctl: ".
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#include "logbusctl.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line for logbusctl --help */
	const char *help;    /* logbusctl COMMAND --help */
};

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
    {"publish", cmd_publish, "publish a record, or one per line of stdin",
     ctl_publish_help},
    {"tail", cmd_tail, "print the last records of the journal, or follow it",
     ctl_tail_help},
    {"run", cmd_run, "run a command, recording its output and its exit",
     ctl_run_help},
    {"query", cmd_query,
     "records a LogQL query selects: {service=\"api\"} |= \"error\"",
     ctl_query_help},
    {"errors", cmd_errors, "list error reports, or print a service's",
     ctl_errors_help},
    {"stats", cmd_stats, "logbusd's figures: records, rates, journal, fsync",
     ctl_stats_help},
    {"services", cmd_services,
     "each service seen: records by level, last record, last error report",
     ctl_services_help},
    {"rotate", cmd_rotate, "make logbusd reopen the files it writes",
     ctl_rotate_help},
    {"alerts", cmd_alerts, "alert rules: positions, actions; test one",
     ctl_alerts_help},
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

void command_help(const char *name, FILE *f)
{
	const struct command *cmd = command_find(name);

	if (cmd != NULL)
		fputs(cmd->help, f);
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

static int cmd_help(int argc, char **argv)
{
	const struct command *cmd;
	char *run_dir = NULL;
	int rc;

	/* --run-dir is accepted, like everywhere, and means nothing here. */
	if ((rc = common_options_only(argc, argv, &run_dir)) != PARSE_OK)
		return rc;
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	if (argc - optind > 1)
		return usage_error(argv[0], "one COMMAND only");
	if ((cmd = command_find(argv[optind])) == NULL)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);
	fputs(cmd->help, stdout);
	return 0;
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
