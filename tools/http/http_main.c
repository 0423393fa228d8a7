/*
 * http_main.c: logbus-http's main(): settings, tokens, the server, and the
 * signals.  SIGTERM and SIGINT stop it (open streams end within a quarter
 * of a second; a follower's client reconnects and resumes by cursor);
 * every thread but main blocks them, and main waits for them with sigwait.
 * Exit status 0 after a signal, 1 when it cannot serve, 2 for a bad
 * command line or configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

int main(int argc, char **argv)
{
	struct http_config cfg;
	struct http_server srv;
	struct tokens *tokens = NULL;
	char err[1024];
	sigset_t sigs;
	int rc, sig;

	rc = http_config_load(&cfg, argc, argv, err, sizeof err);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "logbus-http: %s\n", err);
		return rc < 0 ? 2 : 0;
	}
	if (cfg.tokens_file[0] &&
	    (tokens = tokens_load(cfg.tokens_file, err, sizeof err)) == NULL) {
		fprintf(stderr, "logbus-http: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (http_server_start(&srv, &cfg, tokens, err, sizeof err) < 0) {
		fprintf(stderr, "logbus-http: %s\n", err);
		tokens_free(tokens);
		return 1;
	}
	fprintf(stderr, "logbus-http: serving logbusd at %s%s; %zu tokens%s\n",
	        cfg.run_dir[0] ? cfg.run_dir : "the default run directory",
	        cfg.config_file[0] ? "" : " (no configuration file)",
	        tokens_count(tokens),
	        tokens ? "" : ": loopback only, with this user's read rights");
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			fprintf(stderr, "logbus-http: SIGHUP: restart to read "
			                "the configuration and tokens again\n");
			continue;
		}
		break;
	}
	fprintf(stderr, "logbus-http: %s: stopping\n", strsignal(sig));
	http_server_stop(&srv);
	tokens_free(tokens);
	return 0;
}
