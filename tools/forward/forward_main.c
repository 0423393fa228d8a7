/*
 * forward_main.c: logbus-forward's command line and its threads: one per
 * [output NAME] (forward_output.c), and the main thread, which waits for
 * signals and writes the status file every second.
 *
 * SIGTERM and SIGINT stop it: each output finishes the send in flight (at
 * most its timeout), writes its position if that send was acknowledged,
 * and the process exits 0.  Signals are blocked in every thread and taken
 * with sigtimedwait on the main one, so no handler runs inside libcurl,
 * librelp or liblogbus.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "forward.h"

#ifndef LOGBUS_SYSCONFDIR
#define LOGBUS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG LOGBUS_SYSCONFDIR "/logbus/forward.conf"

static const char usage[] =
    "usage: logbus-forward [--config FILE] [--check-config | --stats]\n"
    "\n"
    "Send logbusd's records to ClickHouse, rsyslog (RELP or RFC 5424 over\n"
    "TCP) and Loki, at least once, each [output NAME] of FILE from its own\n"
    "position (README.md, \"logbus-forward\").\n"
    "\n"
    "  -c, --config FILE   the configuration (default: " DEFAULT_CONFIG ")\n"
    "      --check-config  check FILE, print \"configuration OK\" and exit\n"
    "      --stats         print the running forwarder's status file: each\n"
    "                      output's state, counts, position and lag\n"
    "  -h, --help          this text\n"
    "      --version       the version\n";

void fwd_log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "logbus-forward: %s\n", line);
}

static int run(struct fwd_config *cfg)
{
	static volatile int stop;
	struct fwd_output *outs = calloc(cfg->noutputs, sizeof *outs);
	char err[FWD_ERR_MAX];
	sigset_t sigs;
	size_t started = 0;
	int status = 0;

	if (outs == NULL) {
		fwd_log("out of memory");
		return 1;
	}
	struct fwd_state *st = state_open(cfg->state_file, err, sizeof err);
	if (st == NULL) {
		fwd_log("%s", err);
		free(outs);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	for (; started < cfg->noutputs; started++) {
		struct fwd_output *o = &outs[started];
		o->cfg = &cfg->outputs[started];
		o->run_dir = cfg->run_dir;
		o->state = st;
		o->state_path = cfg->state_file;
		o->stop = &stop;
		if (output_start(o) != 0) {
			fwd_log("cannot start a thread for output %s",
			        o->cfg->name);
			stop = 1;
			status = 1;
			break;
		}
	}
	fwd_log("forwarding %zu outputs; positions in %s, status in %s",
	        started, cfg->state_file, cfg->status_file);
	while (!stop) {
		struct timespec one = {.tv_sec = 1};
		int sig = sigtimedwait(&sigs, NULL, &one);
		if (sig == SIGTERM || sig == SIGINT)
			stop = 1;
		size_t failed = 0;
		for (size_t i = 0; i < started; i++)
			failed += output_failed(&outs[i]);
		if (failed == started) {
			fwd_log("every output stopped: see the errors above");
			stop = 1;
			status = 1;
		}
		if (status_write(cfg, outs, started, err, sizeof err) < 0)
			fwd_log("%s", err);
	}
	for (size_t i = 0; i < started; i++)
		output_join(&outs[i]);
	if (status_write(cfg, outs, started, err, sizeof err) < 0)
		fwd_log("%s", err);
	for (size_t i = 0; i < started; i++)
		status |= output_failed(&outs[i]);
	state_close(st);
	free(outs);
	curl_global_cleanup();
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"stats", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	const char *path = DEFAULT_CONFIG;
	bool check = false, stats = false;
	struct fwd_config cfg;
	char err[FWD_ERR_MAX];
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'S':
			stats = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("logbus-forward %s\n", LOGBUS_VERSION_STRING);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc || (check && stats)) {
		fputs(usage, stderr);
		return 2;
	}
	if (config_load(&cfg, path, err, sizeof err) < 0) {
		fwd_log("%s", err);
		return 2;
	}
	if (check) {
		printf("logbus-forward: configuration OK (%s, %zu outputs)\n",
		       path, cfg.noutputs);
		rc = 0;
	} else if (stats) {
		rc = status_print(&cfg);
	} else {
		rc = run(&cfg);
	}
	config_fini(&cfg);
	return rc;
}
