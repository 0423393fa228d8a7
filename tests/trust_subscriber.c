/*
 * trust_subscriber.c: a test helper for test_trust.sh.  Follows every
 * record with logbus_subscribe (from now on) and prints one line per record
 * delivered, "UID MESSAGE", flushed at once, until SIGTERM or SIGINT.  Run
 * as another user (setpriv) it shows what that user's subscription sees.
 *
 * With --raw-live it subscribes to the live socket itself, with nng, as a
 * client that ignores what the broker says: it prints "ready" once it
 * dialed and "live N" for each message that reaches it (none should, for a
 * reader outside the reader group: the broker closes its pipes).
 *
 * Usage: trust_subscriber [--raw-live] RUN_DIR
 * Exit status: 0 stopped by a signal, 1 the subscription failed (said on
 * stderr), 2 bad arguments.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "logbus/logbus.h"

/* Print "live N" per live message until a signal in set. */
static int raw_live(const char *run_dir, sigset_t *set)
{
	char url[4200];
	nng_socket s;
	int sig, n = 0;
	struct timespec zero = {0, 0};

	snprintf(url, sizeof url, "ipc://%s/live.sock", run_dir);
	if (nng_sub0_open(&s) != 0 ||
	    nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 50) != 0 ||
	    nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "trust_subscriber: cannot dial %s\n", url);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (sigtimedwait(set, NULL, &zero) < 0) {
		nng_msg *m;
		if (nng_recvmsg(s, &m, 0) == 0) {
			printf("live %d\n", ++n);
			fflush(stdout);
			nng_msg_free(m);
		}
	}
	(void)sig;
	nng_close(s);
	return 0;
}

static int on_log(const logbus_record *rec, void *user)
{
	(void)user;
	printf("%" PRIu32 " %s\n", rec->uid, rec->message);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	logbus_subscription *sub;
	char err[256] = "";
	sigset_t set;
	int sig;

	bool raw = argc == 3 && strcmp(argv[1], "--raw-live") == 0;
	if (argc != 2 + raw) {
		fprintf(stderr,
		        "usage: trust_subscriber [--raw-live] RUN_DIR\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Blocked before the subscription's thread starts, so it inherits
	 * the mask and the signal comes to sigwait. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (raw)
		return raw_live(argv[2], &set);
	logbus_reader_options o = {.run_dir = argv[1],
	                           .start = LOGBUS_START_NEW,
	                           .follow = 1,
	                           .error = err,
	                           .error_len = sizeof err};
	int rc = logbus_subscribe(&sub, &o, on_log, NULL, NULL);
	if (rc != 0) {
		fprintf(stderr, "trust_subscriber: %s: %s\n",
		        logbus_strerror(rc), err);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	logbus_subscription_close(sub);
	return 0;
}
