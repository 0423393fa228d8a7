/*
 * http_main.c: logbus-http's main(): settings, tokens, the server, and the
 * signals.  SIGTERM and SIGINT stop it (open streams end within a quarter
 * of a second; a follower's client reconnects and resumes by cursor).
 * SIGHUP reads the token file again: new requests are checked against the
 * new tokens, streams already open keep the scope they were opened with;
 * a file that does not load is reported and the tokens in use stay.  Other
 * settings are read at start only.  Every thread but main blocks these
 * signals, and main waits for them with sigwait.
 * Exit status 0 after a signal, 1 when it cannot serve, 2 for a bad
 * command line or configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

/* SIGHUP: the token file again, or a line saying why not. */
static void reload_tokens(struct http_server *srv,
                          const struct http_config *cfg)
{
	struct tokens *t, *old;
	char err[1024];
	size_t n;

	if (cfg->tokens_file[0] == '\0') {
		fprintf(stderr, "logbus-http: SIGHUP: no token file is set "
		                "([http] tokens), nothing to read again; other "
		                "settings need a restart\n");
		return;
	}
	if ((t = tokens_load(cfg->tokens_file, err, sizeof err)) == NULL) {
		old = http_server_tokens(srv);
		fprintf(stderr,
		        "logbus-http: SIGHUP: %s; keeping the %zu tokens "
		        "in use\n",
		        err, tokens_count(old));
		tokens_unref(old);
		return;
	}
	n = tokens_count(t);
	http_server_set_tokens(srv, t);
	fprintf(stderr,
	        "logbus-http: SIGHUP: %zu tokens from %s, for new "
	        "requests; open streams keep theirs until they end\n",
	        n, cfg->tokens_file);
}

int main(int argc, char **argv)
{
	struct http_config cfg;
	struct http_server srv;
	struct tokens *tokens = NULL;
	char err[1024];
	sigset_t sigs;
	size_t ntokens;
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
	ntokens = tokens_count(tokens); /* the server owns them from here */
	if (http_server_start(&srv, &cfg, tokens, err, sizeof err) < 0) {
		fprintf(stderr, "logbus-http: %s\n", err);
		return 1;
	}
	fprintf(stderr, "logbus-http: serving logbusd at %s%s; %zu tokens%s\n",
	        cfg.run_dir[0] ? cfg.run_dir : "the default run directory",
	        cfg.config_file[0] ? "" : " (no configuration file)", ntokens,
	        ntokens ? "" : ": loopback only, with this user's read rights");
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload_tokens(&srv, &cfg);
			continue;
		}
		break;
	}
	fprintf(stderr, "logbus-http: %s: stopping\n", strsignal(sig));
	http_server_stop(&srv);
	return 0;
}
