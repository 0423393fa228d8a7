/*
 * crash_campaign.c: logbusd killed again and again under load, and what
 * was acknowledged checked afterwards (issue 15, item 1).
 *
 * Several publishers (one thread and one logbus_publisher each, service
 * campN, every record carrying its publisher's sequence number n = 1, 2,
 * ... in a field and in a message derived from it) and several followers
 * (logbus_reader threads and logbus_subscribe callbacks, each on a set of
 * services) run against a real logbusd while it dies, --kills times:
 *
 *  - by default by SIGKILL at a random moment (a random wait after the
 *    publishers made progress since the last start);
 *  - with --fault NAME:N by its own abort() at a fault point of a test
 *    build (broker/fault.h), the Nth time the point is reached after each
 *    start: the worst moments (half-way through a segment rotation,
 *    retention, an error report's replacement, a routed file's rotation,
 *    between a journal write and its ack).
 *
 * It is started again each time.  Publisher 0 also reports a process exit
 * of the service campexit every few batches, so that error reports are
 * being replaced all along.  Then the publishers close (their last flush
 * must succeed) and the campaign checks:
 *
 *  - the journal, read back whole record by record: every publisher's
 *    records are there exactly once, in order, n = 1 .. the last it logged
 *    (so every acknowledged one: what a flush returned OK for), and each
 *    message is the one derived from its n (none corrupt); the broker
 *    reported no damage (no CRITICAL record of its own);
 *  - every follower delivered every record of its services once and in
 *    order, across every restart;
 *  - a cursor taken before each crash (the newest record then) resumes at
 *    exactly the record after it;
 *  - after each crash, before the restart, the error report and its .1
 *    are each a whole report (never half), and at the end the report is
 *    the last exit's;
 *  - all.log and its backups hold every record whose flush returned OK
 *    before the crash that followed, and none twice.
 *
 * With --retention the journal is kept small (--max-total 256K), so that
 * retention removes segments all along: records older than the journal's
 * first one are gone by design, followers may be told "cursor expired",
 * and only what is left is checked (contiguous, in order, to the end).
 *
 * Small counts run in the test command (tests/CMakeLists.txt); the
 * README's reliability table comes from long runs by hand, e.g.
 *
 *	build-test/bin/crash_campaign --kills 200 --publishers 6 --followers 4
 *
 * --strict-fanout also fails when a crash cost a routed line or an error
 * report of a batch whose flush returned OK only after the restart (the
 * broker writes them at start from journal/fanout's positions,
 * broker/fanout.h; the test command runs every campaign so).  Without it
 * such lines are only counted, as before that was so.
 *
 * With --fault a start may die at the fault point before it serves (it
 * writes first what the last crash cost the routed files, rotating them
 * as a batch would): that is one of the --kills crashes, checked like the
 * others; the last start is always without the fault.  --start-crashes N
 * fails a run with fewer such crashes (a test that means to cover them).
 *
 * Exit status 0 when everything held, 1 with a line per failure, 2 for a
 * bad option.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_proc.h"
#include "files.h"
#include "logbus/logbus.h"

#define PUB_MAX       32
#define FOLLOWER_MAX  16
#define CURSORS_MAX   1024
#define WAIT_MS       120000
#define EXIT_SERVICE  "campexit"
#define ROUTE_BACKUPS 100

struct campaign;

struct pub {
	struct campaign *c;
	int i;
	pthread_t thread;
	logbus_publisher *p;
	_Atomic uint64_t logged; /* n of the last record logged */
	_Atomic uint64_t acked;  /* n of the last record a flush returned OK
	                            for */
	int close_rc;
	char close_err[256];
};

struct follower {
	struct campaign *c;
	int f;
	bool subscription;
	bool pubs[PUB_MAX];             /* which publishers it follows */
	_Atomic uint64_t next[PUB_MAX]; /* n of the last record delivered */
	uint64_t next_seq[PUB_MAX];     /* and its seq */
	_Atomic uint64_t delivered;
	_Atomic int stop;
	/* told "cursor expired" since its last record of publisher i
	 * (retention mode): the next one of each may follow a gap */
	bool expired[PUB_MAX];
	pthread_t thread;
	logbus_reader *r;
	logbus_subscription *s;
};

struct cursor_taken {
	char *cursor;
	uint64_t seq; /* the record it names */
};

struct campaign {
	/* options */
	int kills, npubs, nfollowers, max_delay_ms;
	unsigned seed;
	const char *fault; /* NAME:N or NULL */
	bool retention, keep;
	/* fail when a crash cost a routed line or an error report whose
	 * flush returned OK after the restart (see check_routes) */
	bool strict_fanout;

	struct broker_proc b;
	char logbusd[4096];
	char wrapper[512]; /* runs logbusd with LOGBUS_FAULT */
	struct pub pubs[PUB_MAX];
	struct follower followers[FOLLOWER_MAX];
	_Atomic int stop_pubs;

	/* error reports: publisher 0 reports exit k = 1, 2, ... */
	_Atomic uint64_t exits_logged, exits_acked;

	/* per crash and publisher: the last n a flush had returned OK for,
	 * and the last n logged, when the broker died; records between the
	 * two were in flight */
	uint64_t (*acked_at)[PUB_MAX], (*logged_at)[PUB_MAX];
	uint64_t *exits_at, *exits_logged_at; /* the same for exits */

	struct cursor_taken cursors[CURSORS_MAX];
	size_t ncursors;

	pthread_mutex_t lock; /* failures */
	unsigned failures;
	unsigned crashes;
	/* of them, starts that died at the fault point before serving (the
	 * start writes what the last crash cost the routed files, rotating
	 * them as it goes); --start-crashes: at least that many wanted */
	unsigned start_crashes, want_start_crashes;
	uint64_t route_missing_inflight;
};

static void fail(struct campaign *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct campaign *c, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->lock);
	if (c->failures++ < 50) {
		fputs("crash_campaign: FAILED: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&c->lock);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- records: what publisher i's record n says ------------------------- */

/* The message of record n of publisher i: its identity and a payload of a
 * length and content that depend on both, so that a record with bytes of
 * another is seen. */
static void record_message(int i, uint64_t n, char *buf, size_t len)
{
	int off = snprintf(buf, len, "campaign p%d n%" PRIu64 " ", i, n);
	size_t plen = (size_t)((i * 31 + n * 17) % 200);

	for (size_t k = 0; k < plen && (size_t)off + 1 < len; k++)
		buf[off++] = (char)('a' + (i + n + k) % 26);
	buf[off] = '\0';
}

/* Publisher i of "campN", or -1. */
static int service_pub(const char *service)
{
	char *end;

	if (strncmp(service, "camp", 4) != 0 ||
	    !(service[4] >= '0' && service[4] <= '9'))
		return -1;
	long i = strtol(service + 4, &end, 10);
	return *end == '\0' && i < PUB_MAX ? (int)i : -1;
}

static bool record_n(const logbus_record *rec, uint64_t *n)
{
	for (size_t k = 0; k < rec->nfields; k++) {
		const logbus_field *f = &rec->fields[k];
		if (strcmp(f->key, "n") == 0 && f->type == LOGBUS_FIELD_INT &&
		    f->v.i > 0) {
			*n = (uint64_t)f->v.i;
			return true;
		}
	}
	return false;
}

/* Check that rec is publisher i's record n, whole; says what is wrong. */
static bool record_intact(const logbus_record *rec, int i, uint64_t n,
                          char *why, size_t len)
{
	char want[512];

	record_message(i, n, want, sizeof want);
	if (rec->message_len != strlen(want) ||
	    memcmp(rec->message, want, rec->message_len) != 0) {
		snprintf(why, len, "message '%.*s', expected '%.80s'",
		         (int)(rec->message_len > 80 ? 80 : rec->message_len),
		         rec->message, want);
		return false;
	}
	return true;
}

/* ---- publishers -------------------------------------------------------- */

static void report_exit(struct pub *pb)
{
	struct campaign *c = pb->c;
	uint64_t k = atomic_load(&c->exits_logged) + 1;
	char num[32], end[48];
	const char *argv[2] = {"campaign-exit", num};
	const char *files[1] = {end};
	logbus_tail *err = logbus_tail_new(0);

	snprintf(num, sizeof num, "%" PRIu64, k);
	snprintf(end, sizeof end, "end-%" PRIu64, k);
	/* a report of a few KiB, so that its write is no single page */
	for (int line = 0; err != NULL && line < 60; line++) {
		char l[128];
		int m = snprintf(l, sizeof l,
		                 "Traceback line %d of exit %" PRIu64
		                 " ......................................\n",
		                 line, k);
		logbus_tail_add(err, l, (size_t)m);
	}
	logbus_exit e = {
	    .pid = 4242,
	    .exit_code = 3,
	    .argv = argv,
	    .argc = 2,
	    .stderr_tail = err,
	    .files = files,
	    .nfiles = 1,
	    .service = EXIT_SERVICE,
	};
	atomic_store(&c->exits_logged, k);
	if (logbus_report_exit(pb->p, &e, 30000) == LOGBUS_OK)
		atomic_store(&c->exits_acked, k);
	logbus_tail_free(err);
}

static void *pub_main(void *arg)
{
	struct pub *pb = arg;
	struct campaign *c = pb->c;
	unsigned rnd = c->seed * 7919u + (unsigned)pb->i;
	char msg[512], logger[32];
	uint64_t n = 0;
	unsigned rounds = 0;

	snprintf(logger, sizeof logger, "campaign.p%d", pb->i);
	while (!atomic_load(&c->stop_pubs)) {
		int batch = 1 + (int)(rand_r(&rnd) % 64);
		for (int k = 0; k < batch; k++) {
			n++;
			record_message(pb->i, n, msg, sizeof msg);
			logbus_field f = LOGBUS_INT("n", (int64_t)n);
			logbus_entry e = {
			    .level = LOGBUS_INFO,
			    .logger = logger,
			    .message = msg,
			    .message_len = (size_t)-1,
			    .fields = &f,
			    .nfields = 1,
			};
			/* logged before the call: the library may send the
			 * record, and the broker commit it and die, before
			 * logbus_write returns (as for exits_logged) */
			atomic_store(&pb->logged, n);
			int rc = logbus_write(pb->p, &e);
			if (rc != LOGBUS_OK) {
				fail(c,
				     "publisher %d: logbus_write of n=%" PRIu64
				     ": %s",
				     pb->i, n, logbus_strerror(rc));
				return NULL;
			}
		}
		int rc = logbus_flush(pb->p, 30000);
		if (rc == LOGBUS_OK)
			atomic_store(&pb->acked, n);
		else if (rc != LOGBUS_ETIMEDOUT)
			fail(c, "publisher %d: flush: %s", pb->i,
			     logbus_strerror(rc));
		if (pb->i == 0 && ++rounds % 8 == 0)
			report_exit(pb);
		sleep_ms((int)(rand_r(&rnd) % 4));
	}
	return NULL;
}

/* ---- followers --------------------------------------------------------- */

/* One record delivered to follower fl; false ends it. */
static bool follower_take(struct follower *fl, const logbus_record *rec)
{
	struct campaign *c = fl->c;
	char why[256];
	uint64_t n;
	int i = service_pub(rec->service);

	if (i < 0)
		return true; /* the broker's own, campexit */
	if (i >= c->npubs || !fl->pubs[i]) {
		fail(c, "follower %d: a record of %s, which it does not follow",
		     fl->f, rec->service);
		return false;
	}
	if (!record_n(rec, &n)) {
		fail(c, "follower %d: record seq %" PRIu64 " of %s has no n",
		     fl->f, rec->seq, rec->service);
		return false;
	}
	uint64_t last = atomic_load(&fl->next[i]);
	bool gap_ok = c->retention && (fl->expired[i] || last == 0);
	if (n != last + 1 && !(gap_ok && n > last)) {
		fail(c,
		     "follower %d (%s): camp%d record n=%" PRIu64
		     " (seq %" PRIu64 ") after n=%" PRIu64 " (seq %" PRIu64 ")",
		     fl->f, fl->subscription ? "subscription" : "reader", i, n,
		     rec->seq, last, fl->next_seq[i]);
		return false;
	}
	if (!record_intact(rec, i, n, why, sizeof why)) {
		fail(c, "follower %d: camp%d n=%" PRIu64 ": %s", fl->f, i, n,
		     why);
		return false;
	}
	fl->expired[i] = false;
	atomic_store(&fl->next[i], n);
	fl->next_seq[i] = rec->seq;
	atomic_fetch_add(&fl->delivered, 1);
	return true;
}

/* Told "cursor expired": retention took records of any publisher. */
static void follower_expired(struct follower *fl)
{
	for (int i = 0; i < PUB_MAX; i++)
		fl->expired[i] = true;
}

static bool passing(int rc)
{
	return rc == LOGBUS_EUNREACHABLE || rc == LOGBUS_ETIMEDOUT;
}

static void *follower_main(void *arg)
{
	struct follower *fl = arg;
	struct campaign *c = fl->c;
	const logbus_record *rec;

	while (!atomic_load(&fl->stop)) {
		int rc = logbus_reader_next(fl->r, &rec, 200);
		if (rc == 1) {
			if (!follower_take(fl, rec))
				return NULL;
		} else if (rc == 0 || passing(rc)) {
			continue;
		} else if (rc == LOGBUS_EEXPIRED && c->retention) {
			follower_expired(fl);
			logbus_reader_skip_expired(fl->r);
		} else if (rc == LOGBUS_ECLOSED && atomic_load(&fl->stop)) {
			return NULL;
		} else {
			fail(c, "follower %d: logbus_reader_next: %s: %s",
			     fl->f, logbus_strerror(rc),
			     logbus_reader_error(fl->r));
			return NULL;
		}
	}
	return NULL;
}

static int on_log(const logbus_record *rec, void *user)
{
	return follower_take(user, rec) ? 0 : 1;
}

static int on_error(int code, const char *message, void *user)
{
	struct follower *fl = user;

	if (passing(code))
		return 1;
	if (code == LOGBUS_EEXPIRED && fl->c->retention) {
		follower_expired(fl);
		return 1;
	}
	fail(fl->c, "follower %d (subscription): %s: %s", fl->f,
	     logbus_strerror(code), message);
	return 0;
}

static int follower_start(struct campaign *c, struct follower *fl)
{
	const char *names[PUB_MAX];
	char bufs[PUB_MAX][16];
	size_t nn = 0;
	char err[512] = "";

	/* follower 0 follows everything, unfiltered; the others a share of
	 * the publishers each, filtered by the broker and the library */
	for (int i = 0; i < c->npubs; i++) {
		fl->pubs[i] =
		    fl->f == 0 || i % (c->nfollowers - 1) == fl->f - 1;
		if (fl->f != 0 && fl->pubs[i]) {
			snprintf(bufs[nn], sizeof bufs[nn], "camp%d", i);
			names[nn] = bufs[nn];
			nn++;
		}
	}
	logbus_reader_options o = {
	    .run_dir = c->b.run_dir,
	    .start = LOGBUS_START_HEAD,
	    .follow = 1,
	    .filter = {.services = nn ? names : NULL, .nservices = nn},
	    .error = err,
	    .error_len = sizeof err,
	};
	int rc;
	if (fl->subscription)
		rc = logbus_subscribe(&fl->s, &o, on_log, on_error, fl);
	else if ((rc = logbus_reader_open(&fl->r, &o)) == LOGBUS_OK &&
	         pthread_create(&fl->thread, NULL, follower_main, fl) != 0)
		rc = LOGBUS_ESYS;
	if (rc != LOGBUS_OK)
		fail(c, "follower %d: cannot start: %s %s", fl->f,
		     logbus_strerror(rc), err);
	return rc;
}

static void follower_stop(struct follower *fl)
{
	atomic_store(&fl->stop, 1);
	if (fl->s) {
		logbus_subscription_close(fl->s);
		fl->s = NULL;
	}
	if (fl->r) {
		logbus_reader_interrupt(fl->r);
		pthread_join(fl->thread, NULL);
		logbus_reader_close(fl->r);
		fl->r = NULL;
	}
}

/* ---- the broker -------------------------------------------------------- */

/* Start logbusd: 0 once it serves; 1 when with_fault and it died at the
 * fault point while starting, a crash like any other (its start replays
 * what the last crash cost the routed files, and may reach the point as
 * often as a served batch would: a routed file and its by-logger twin
 * rotate at the same record); -1 otherwise, said. */
static int broker_start(struct campaign *c, bool with_fault)
{
	snprintf(c->b.bin, sizeof c->b.bin, "%s",
	         with_fault ? c->wrapper : c->logbusd);
	int e = broker_proc_spawn(&c->b);
	if (e != 0) {
		fail(c, "cannot start %s: %s", c->b.bin, strerror(e));
		return -1;
	}
	enum broker_proc_wait w = broker_proc_wait(&c->b, 60000, NULL);
	if (w == BROKER_PROC_SERVING)
		return 0;
	int st = c->b.exit_status;
	if (w == BROKER_PROC_EXITED && with_fault && st != -1 &&
	    WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)
		return 1;
	char line[512];
	broker_proc_last_line(&c->b, line, sizeof line);
	fail(c, "logbusd did not start (crash %u): %s", c->crashes, line);
	return -1;
}

static int write_wrapper(struct campaign *c)
{
	snprintf(c->wrapper, sizeof c->wrapper, "%s/logbusd-fault", c->b.dir);
	FILE *f = fopen(c->wrapper, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "#!/bin/sh\nLOGBUS_FAULT='%s' exec '%s' \"$@\"\n", c->fault,
	        c->logbusd);
	if (fclose(f) != 0 || chmod(c->wrapper, 0700) < 0)
		return -1;
	return 0;
}

static uint64_t total_acked(struct campaign *c)
{
	uint64_t t = 0;
	for (int i = 0; i < c->npubs; i++)
		t += atomic_load(&c->pubs[i].acked);
	return t;
}

/* Wait until the publishers had more acknowledged than since. */
static bool wait_progress(struct campaign *c, uint64_t since)
{
	int64_t end = now_ms() + WAIT_MS;

	while (total_acked(c) <= since + (uint64_t)c->npubs) {
		if (now_ms() > end)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* The cursor of the newest record now, to resume from at the end. */
static void take_cursor(struct campaign *c)
{
	logbus_reader *r;
	const logbus_record *rec;
	logbus_reader_options o = {
	    .run_dir = c->b.run_dir,
	    .start = LOGBUS_START_TAIL,
	    .tail_n = 1,
	};

	if (c->ncursors == CURSORS_MAX)
		return;
	int rc = logbus_reader_open(&r, &o);
	if (rc != LOGBUS_OK) {
		fail(c, "tail reader: %s", logbus_strerror(rc));
		return;
	}
	rc = logbus_reader_next(r, &rec, 10000);
	if (c->fault && passing(rc))
		rc = 0; /* it reached its fault point meanwhile */
	if (rc == 1) {
		c->cursors[c->ncursors].cursor = strdup(rec->cursor);
		c->cursors[c->ncursors].seq = rec->seq;
		if (c->cursors[c->ncursors].cursor)
			c->ncursors++;
	} else if (rc < 0) {
		fail(c, "tail reader: %s: %s", logbus_strerror(rc),
		     logbus_reader_error(r));
	}
	logbus_reader_close(r);
}

/* The error report (name) is whole: k in its Command line, and its end
 * the FILES list of the same k.  k of it, 0 when absent, -1 when torn. */
static int64_t report_whole(struct campaign *c, const char *name)
{
	char path[700];
	size_t len;
	uint64_t k, k2;

	snprintf(path, sizeof path, "%s/%s", c->b.log_dir, name);
	char *text = files_slurp(path, &len);
	if (text == NULL)
		return errno == ENOENT ? 0 : -1;
	const char *cmd = strstr(text, "\nCommand: campaign-exit ");
	const char *files = strstr(text, "--- FILES ---\n['end-");
	char tail[64];
	int64_t r = -1;
	if (cmd && files &&
	    sscanf(cmd, "\nCommand: campaign-exit %" SCNu64, &k) == 1 &&
	    sscanf(files, "--- FILES ---\n['end-%" SCNu64 "']", &k2) == 1 &&
	    k == k2) {
		snprintf(tail, sizeof tail, "['end-%" PRIu64 "']\n", k);
		if (len >= strlen(tail) &&
		    strcmp(text + len - strlen(tail), tail) == 0)
			r = (int64_t)k;
	}
	if (r < 0)
		fail(c,
		     "crash %u: %s is not a whole report (%zu bytes): %.200s",
		     c->crashes, path, len, text);
	free(text);
	return r;
}

/* The oldest exit whose report must be on disk when exit k is the last
 * acknowledged: k, unless k was in flight at a crash (logged before it,
 * acknowledged after it: the broker does not write a report again after
 * a restart, README "What is durable when"); then what was acknowledged
 * before that crash.  --strict-fanout: always k. */
static uint64_t report_floor(const struct campaign *c, uint64_t k)
{
	for (unsigned j = 0; j < c->crashes && !c->strict_fanout; j++)
		if (c->exits_logged_at[j] >= k)
			return c->exits_at[j] < k ? c->exits_at[j] : k;
	return k;
}

/* After a crash, before the restart: the report and its backup are whole,
 * and the report is the last exit acknowledged, or a later one. */
static void check_reports(struct campaign *c)
{
	int64_t k = report_whole(c, EXIT_SERVICE "_error.log");
	int64_t k1 = report_whole(c, EXIT_SERVICE "_error.log.1");
	uint64_t acked = report_floor(c, atomic_load(&c->exits_acked));
	uint64_t logged = atomic_load(&c->exits_logged);

	if (k < 0 || k1 < 0)
		return;
	/* .1 equal to the report: the old one linked as .1, not yet
	 * replaced (error_report_replace) */
	if ((uint64_t)k > logged || (k1 > 0 && k1 > k))
		fail(c,
		     "crash %u: report of exit %" PRId64 ", .1 of exit %" PRId64
		     " (%" PRIu64 " logged)",
		     c->crashes, k, k1, logged);
	if ((uint64_t)k < acked)
		fail(c,
		     "crash %u: the report is of exit %" PRId64
		     " but exit %" PRIu64 " was acknowledged",
		     c->crashes, k, acked);
}

/* The broker is dead: wait for it, check how it died. */
static bool wait_death(struct campaign *c, int sig)
{
	int64_t end = now_ms() + WAIT_MS;
	int st;

	for (;;) {
		pid_t w = waitpid(c->b.pid, &st, WNOHANG);
		if (w == c->b.pid)
			break;
		if (w < 0 || now_ms() > end) {
			fail(c,
			     "crash %u: logbusd (pid %d) did not die "
			     "within %d s: the fault point %s was not "
			     "reached",
			     c->crashes, (int)c->b.pid, WAIT_MS / 1000,
			     c->fault);
			broker_proc_stop(&c->b, SIGKILL, -1);
			return false;
		}
		sleep_ms(10);
	}
	c->b.pid = -1;
	if (!WIFSIGNALED(st) || WTERMSIG(st) != sig) {
		char line[512];
		broker_proc_last_line(&c->b, line, sizeof line);
		fail(c,
		     "crash %u: logbusd ended with status 0x%x, not by "
		     "signal %d: %s",
		     c->crashes, st, sig, line);
		return false;
	}
	return true;
}

static void note_crash(struct campaign *c)
{
	for (int i = 0; i < c->npubs; i++) {
		c->acked_at[c->crashes][i] = atomic_load(&c->pubs[i].acked);
		c->logged_at[c->crashes][i] = atomic_load(&c->pubs[i].logged);
	}
	c->exits_at[c->crashes] = atomic_load(&c->exits_acked);
	c->exits_logged_at[c->crashes] = atomic_load(&c->exits_logged);
}

/* Bring the serving broker down: kill -9 at a random moment, or its own
 * abort() at the fault point.  False, said, when it did not go so. */
static bool crash_serving(struct campaign *c, unsigned *rnd)
{
	uint64_t base = total_acked(c);

	/* a fault point may be reached before much progress */
	if (c->fault == NULL && !wait_progress(c, base)) {
		fail(c,
		     "crash %u: publishers made no progress in "
		     "%d s after the start",
		     c->crashes, WAIT_MS / 1000);
		return false;
	}
	take_cursor(c);
	if (c->fault != NULL) {
		if (!wait_death(c, SIGABRT))
			return false;
		/* the acknowledged ones were acknowledged before */
		note_crash(c);
		return true;
	}
	sleep_ms((int)(rand_r(rnd) % (unsigned)(c->max_delay_ms + 1)));
	note_crash(c);
	int st = broker_proc_stop(&c->b, SIGKILL, -1);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		fail(c,
		     "crash %u: logbusd ended with status 0x%x before SIGKILL",
		     c->crashes, st);
		return false;
	}
	return true;
}

/* Crash the broker --kills times and start it again each time; a start
 * that died at the fault point is one of the crashes. */
static void run_crashes(struct campaign *c)
{
	unsigned rnd = c->seed;
	int started = 0; /* broker_start's answer */

	for (int k = 0; k < c->kills && c->failures == 0; k++) {
		if (started == 1) {
			note_crash(c); /* nothing was acknowledged since */
			c->start_crashes++;
		} else if (!crash_serving(c, &rnd)) {
			return;
		}
		c->crashes++;
		check_reports(c);
		/* the last start without the fault: the campaign ends on a
		 * broker that serves */
		started = broker_start(c, c->fault && k + 1 < c->kills);
		if (started < 0)
			return;
	}
}

/* ---- the checks at the end --------------------------------------------- */

struct readback {
	uint64_t *seqs; /* every record's seq, in order */
	size_t n, cap;
	uint64_t last[PUB_MAX];  /* n of the last record read per publisher */
	uint64_t first[PUB_MAX]; /* n of the first */
};

static void read_back(struct campaign *c, struct readback *rb)
{
	logbus_reader *r;
	const logbus_record *rec;
	char err[512] = "", why[256];
	logbus_reader_options o = {
	    .run_dir = c->b.run_dir,
	    .start = LOGBUS_START_HEAD,
	    .timeout_ms = 30000,
	    .error = err,
	    .error_len = sizeof err,
	};
	int rc = logbus_reader_open(&r, &o);

	if (rc != LOGBUS_OK) {
		fail(c, "read back: %s %s", logbus_strerror(rc), err);
		return;
	}
	while ((rc = logbus_reader_next(r, &rec, 30000)) == 1) {
		uint64_t n;
		if (rb->n == rb->cap) {
			rb->cap = rb->cap ? rb->cap * 2 : 4096;
			rb->seqs =
			    realloc(rb->seqs, rb->cap * sizeof *rb->seqs);
			if (rb->seqs == NULL)
				abort();
		}
		rb->seqs[rb->n++] = rec->seq;
		if (strcmp(rec->service, "logbusd") == 0 &&
		    rec->level >= LOGBUS_CRITICAL)
			fail(c,
			     "logbusd reported damage: seq %" PRIu64 ": %.*s",
			     rec->seq, (int)rec->message_len, rec->message);
		int i = service_pub(rec->service);
		if (i < 0)
			continue;
		if (i >= c->npubs || !record_n(rec, &n)) {
			fail(c, "read back: seq %" PRIu64 " of %s without n",
			     rec->seq, rec->service);
			continue;
		}
		if (rb->last[i] == 0 && c->retention)
			rb->first[i] = n;
		else if (n != rb->last[i] + 1)
			fail(c,
			     "read back: camp%d record n=%" PRIu64
			     " after n=%" PRIu64 " (seq %" PRIu64 ")%s",
			     i, n, rb->last[i], rec->seq,
			     n <= rb->last[i] ? ": twice" : ": records lost");
		if (rb->last[i] == 0 && !c->retention)
			rb->first[i] = n;
		rb->last[i] = n;
		if (!record_intact(rec, i, n, why, sizeof why))
			fail(c,
			     "read back: camp%d n=%" PRIu64 " seq %" PRIu64
			     " corrupt: %s",
			     i, n, rec->seq, why);
	}
	if (rc != 0)
		fail(c, "read back: %s: %s", logbus_strerror(rc),
		     logbus_reader_error(r));
	logbus_reader_close(r);
	for (int i = 0; i < c->npubs; i++) {
		uint64_t logged = atomic_load(&c->pubs[i].logged);
		/* retention may have taken all of a slow publisher's records:
		 * the journal keeps only the newest --max-total */
		if (rb->last[i] == 0 && c->retention)
			continue;
		if (rb->last[i] != logged)
			fail(c,
			     "read back: camp%d ends at n=%" PRIu64
			     ", it logged %" PRIu64 " (acknowledged %" PRIu64
			     ")",
			     i, rb->last[i], logged,
			     atomic_load(&c->pubs[i].acked));
	}
}

/* The smallest seq read back above seq, 0 when none. */
static uint64_t seq_after(const struct readback *rb, uint64_t seq)
{
	size_t lo = 0, hi = rb->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rb->seqs[mid] <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rb->n ? rb->seqs[lo] : 0;
}

static void check_cursors(struct campaign *c, const struct readback *rb)
{
	for (size_t k = 0; k < c->ncursors; k++) {
		logbus_reader *r;
		const logbus_record *rec;
		char err[512] = "";
		logbus_reader_options o = {
		    .run_dir = c->b.run_dir,
		    .start = LOGBUS_START_CURSOR,
		    .cursor = c->cursors[k].cursor,
		    .timeout_ms = 30000,
		    .error = err,
		    .error_len = sizeof err,
		};
		uint64_t want = seq_after(rb, c->cursors[k].seq);
		int rc = logbus_reader_open(&r, &o);
		if (rc != LOGBUS_OK) {
			fail(c, "cursor %zu (seq %" PRIu64 "): %s %s", k,
			     c->cursors[k].seq, logbus_strerror(rc), err);
			continue;
		}
		rc = logbus_reader_next(r, &rec, 30000);
		if (rc == LOGBUS_EEXPIRED && c->retention && rb->n > 0 &&
		    c->cursors[k].seq + 1 < rb->seqs[0]) {
			/* retention removed it: said, not skipped */
		} else if (rc == 1 ? rec->seq != want
		                   : (rc != 0 || want != 0)) {
			fail(c,
			     "cursor %zu of seq %" PRIu64
			     " resumed at %s%" PRIu64 ", expected seq %" PRIu64
			     " (%s)",
			     k, c->cursors[k].seq, rc == 1 ? "seq " : "rc ",
			     rc == 1 ? rec->seq : (uint64_t)(int64_t)rc, want,
			     rc < 0 ? logbus_reader_error(r) : "");
		}
		logbus_reader_close(r);
	}
}

/* all.log and its backups: each record once; every record flushed before
 * the last crash there.  Records of a batch the broker was writing out
 * when it died may be missing (README, "What is durable when"): counted. */
static void check_routes(struct campaign *c)
{
	uint64_t *seen[PUB_MAX] = {0};
	uint64_t lo[PUB_MAX];
	unsigned dups = 0;
	bool oldest_kept = false;

	for (int i = 0; i < c->npubs; i++) {
		seen[i] = calloc(atomic_load(&c->pubs[i].logged) + 2,
		                 sizeof *seen[i]);
		lo[i] = 1;
		if (seen[i] == NULL)
			abort();
	}
	for (int g = ROUTE_BACKUPS; g >= 0; g--) {
		char path[700];
		size_t len;
		if (g)
			snprintf(path, sizeof path, "%s/all.log.%d",
			         c->b.log_dir, g);
		else
			snprintf(path, sizeof path, "%s/all.log", c->b.log_dir);
		char *text = files_slurp(path, &len);
		if (text == NULL)
			continue;
		if (g == ROUTE_BACKUPS)
			oldest_kept = true;
		for (char *p = text; (p = strstr(p, " campaign p")) != NULL;
		     p++) {
			int i;
			uint64_t n;
			if (sscanf(p, " campaign p%d n%" SCNu64, &i, &n) != 2 ||
			    i < 0 || i >= c->npubs ||
			    n > atomic_load(&c->pubs[i].logged))
				continue;
			if (seen[i][n]++ == 1 && dups++ < 10)
				fail(c, "%s: camp%d n=%" PRIu64 " twice", path,
				     i, n);
			if (oldest_kept && (lo[i] == 1 || n < lo[i]))
				lo[i] = n;
		}
		free(text);
	}
	unsigned missing = 0;
	uint64_t inflight = 0;
	for (int i = 0; i < c->npubs; i++) {
		unsigned k = 0; /* the first crash at which n was logged */
		for (uint64_t n = lo[i]; n <= atomic_load(&c->pubs[i].logged);
		     n++) {
			while (k < c->crashes && c->logged_at[k][i] < n)
				k++;
			if (seen[i][n])
				continue;
			if (k < c->crashes && n > c->acked_at[k][i] &&
			    !c->strict_fanout) {
				inflight++; /* in flight at crash k */
			} else if (missing++ < 10) {
				fail(c,
				     "all.log: camp%d n=%" PRIu64
				     " is missing, though its flush returned "
				     "before %s",
				     i, n,
				     k < c->crashes ? "a crash" : "the end");
			}
		}
		free(seen[i]);
	}
	c->route_missing_inflight = inflight;
}

/* At the end the report is the last exit's; without --strict-fanout, an
 * exit acknowledged only after a crash that followed its commit may have
 * no report (README, "What is durable when"): then one of the exits
 * acknowledged before that crash, or later. */
static void check_final_report(struct campaign *c)
{
	int64_t k = report_whole(c, EXIT_SERVICE "_error.log");
	uint64_t logged = atomic_load(&c->exits_logged);
	uint64_t least = report_floor(c, logged);
	if (k >= 0 && (uint64_t)k < least)
		fail(c,
		     "the error report is of exit %" PRId64
		     ", the last exit is %" PRIu64,
		     k, logged);
	else if (k >= 0 && (uint64_t)k != logged)
		printf("crash_campaign: the last crash cost the error report "
		       "of exit %" PRIu64 " (the report is of exit %" PRId64
		       ")\n",
		       logged, k);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: crash_campaign [--kills N] [--publishers N] "
	      "[--followers N]\n"
	      "                      [--delay-ms MS] [--seed N] "
	      "[--fault NAME:N] [--retention] [--keep]\n"
	      "                      [--strict-fanout] [--start-crashes N]\n",
	      f);
}

static int parse_args(struct campaign *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kills", required_argument, NULL, 'k'},
	    {"publishers", required_argument, NULL, 'p'},
	    {"followers", required_argument, NULL, 'f'},
	    {"delay-ms", required_argument, NULL, 'd'},
	    {"seed", required_argument, NULL, 's'},
	    {"fault", required_argument, NULL, 'F'},
	    {"retention", no_argument, NULL, 'r'},
	    {"keep", no_argument, NULL, 'K'},
	    {"strict-fanout", no_argument, NULL, 'S'},
	    {"start-crashes", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int o;

	c->kills = 20;
	c->npubs = 4;
	c->nfollowers = 3;
	c->max_delay_ms = 300;
	c->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k':
			c->kills = atoi(optarg);
			break;
		case 'p':
			c->npubs = atoi(optarg);
			break;
		case 'f':
			c->nfollowers = atoi(optarg);
			break;
		case 'd':
			c->max_delay_ms = atoi(optarg);
			break;
		case 's':
			c->seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'F':
			c->fault = optarg;
			break;
		case 'r':
			c->retention = true;
			break;
		case 'K':
			c->keep = true;
			break;
		case 'S':
			c->strict_fanout = true;
			break;
		case 'C':
			c->want_start_crashes = (unsigned)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || c->kills < 1 || c->npubs < 1 ||
	    c->npubs > PUB_MAX || c->nfollowers < 2 ||
	    c->nfollowers > FOLLOWER_MAX || c->max_delay_ms < 0) {
		fprintf(stderr,
		        "crash_campaign: --kills >= 1, --publishers "
		        "1..%d, --followers 2..%d, --delay-ms >= 0\n",
		        PUB_MAX, FOLLOWER_MAX);
		return -1;
	}
	if (c->fault && strncmp(c->fault, "retention:", 10) == 0)
		c->retention = true;
	return 0;
}

int main(int argc, char **argv)
{
	static struct campaign c;
	struct rlimit no_core = {0, 0};
	int64_t t0 = now_ms();

	pthread_mutex_init(&c.lock, NULL);
	if (parse_args(&c, argc, argv) < 0)
		return 2;
	c.acked_at = calloc((size_t)c.kills, sizeof *c.acked_at);
	c.logged_at = calloc((size_t)c.kills, sizeof *c.logged_at);
	c.exits_at = calloc((size_t)c.kills, sizeof *c.exits_at);
	c.exits_logged_at = calloc((size_t)c.kills, sizeof *c.exits_logged_at);
	if (c.acked_at == NULL || c.logged_at == NULL || c.exits_at == NULL ||
	    c.exits_logged_at == NULL)
		return 1;
	setrlimit(RLIMIT_CORE, &no_core); /* abort() leaves no core */
	snprintf(c.logbusd, sizeof c.logbusd, "%s/logbusd", LOGBUS_BIN_DIR);
	if (broker_proc_init(&c.b, "/tmp", "logbus-campaign-") < 0) {
		perror("crash_campaign: temporary directory");
		return 1;
	}
	int x = 0;
	c.b.extra[x++] = "--segment-size";
	c.b.extra[x++] = "64K";
	c.b.extra[x++] = "--max-total";
	c.b.extra[x++] = c.retention ? "256K" : "4G";
	c.b.extra[x++] = "--route-max-size";
	c.b.extra[x++] = "256K";
	c.b.extra[x++] = "--route-backups";
	c.b.extra[x++] = "100";
	c.b.extra[x] = NULL;
	printf("crash_campaign: seed %u, %d %s, %d publishers, %d followers, "
	       "in %s\n",
	       c.seed, c.kills, c.fault ? c.fault : "kill -9s", c.npubs,
	       c.nfollowers, c.b.dir);
	fflush(stdout);
	if (c.fault && write_wrapper(&c) < 0) {
		fail(&c, "cannot write %s: %s", c.wrapper, strerror(errno));
		goto out;
	}
	int started = broker_start(&c, c.fault != NULL);
	if (started == 1)
		fail(&c,
		     "logbusd reached its fault point %s before it first "
		     "served: nothing to crash",
		     c.fault);
	if (started != 0)
		goto out;

	for (int f = 0; f < c.nfollowers; f++) {
		c.followers[f].c = &c;
		c.followers[f].f = f;
		c.followers[f].subscription = f % 2 == 1;
		if (follower_start(&c, &c.followers[f]) != LOGBUS_OK)
			goto out;
	}
	for (int i = 0; i < c.npubs; i++) {
		struct pub *pb = &c.pubs[i];
		char svc[16];
		snprintf(svc, sizeof svc, "camp%d", i);
		logbus_publisher_options o = {.run_dir = c.b.run_dir,
		                              .service = svc};
		pb->c = &c;
		pb->i = i;
		if (logbus_publisher_open(&pb->p, &o) != LOGBUS_OK ||
		    pthread_create(&pb->thread, NULL, pub_main, pb) != 0) {
			fail(&c, "publisher %d: cannot start", i);
			goto out;
		}
	}

	run_crashes(&c);
	if (c.b.pid <= 0)
		goto out; /* a failure said why: no broker to end against */
	if (c.start_crashes < c.want_start_crashes)
		fail(&c,
		     "%u of the %u crashes were at a start, "
		     "--start-crashes wants %u",
		     c.start_crashes, c.crashes, c.want_start_crashes);

	/* the publishers end; everything they logged must be acknowledged,
	 * within one deadline for all */
	atomic_store(&c.stop_pubs, 1);
	int64_t closed_by = now_ms() + WAIT_MS;
	for (int i = 0; i < c.npubs; i++) {
		struct pub *pb = &c.pubs[i];
		pthread_join(pb->thread, NULL);
		int64_t left = closed_by - now_ms();
		int rc =
		    logbus_publisher_close(pb->p, left > 0 ? (int)left : 0);
		pb->p = NULL;
		if (rc != LOGBUS_OK)
			fail(&c, "publisher %d: close: %s", i,
			     logbus_strerror(rc));
		else
			atomic_store(&pb->acked, atomic_load(&pb->logged));
	}

	/* the journal as it ends, read while the followers go on */
	struct readback rb = {0};
	read_back(&c, &rb);

	/* every follower gets to the end of each of its publishers: its last
	 * record, or with --retention its last one the journal still has
	 * (retention may have taken a slow publisher's last ones) */
	int64_t end = now_ms() + WAIT_MS;
	for (int f = 0; f < c.nfollowers; f++) {
		struct follower *fl = &c.followers[f];
		for (int i = 0; i < c.npubs; i++) {
			if (!fl->pubs[i])
				continue;
			uint64_t want = c.retention
			                    ? rb.last[i]
			                    : atomic_load(&c.pubs[i].logged);
			while (atomic_load(&fl->next[i]) < want &&
			       now_ms() < end && c.failures == 0)
				sleep_ms(10);
			if (c.retention ? atomic_load(&fl->next[i]) < want
			                : atomic_load(&fl->next[i]) != want)
				fail(&c,
				     "follower %d: camp%d delivered up to "
				     "n=%" PRIu64 " of %" PRIu64,
				     f, i, atomic_load(&fl->next[i]), want);
		}
	}
	for (int f = 0; f < c.nfollowers; f++)
		follower_stop(&c.followers[f]);

	check_cursors(&c, &rb);
	check_final_report(&c);
	check_routes(&c);

	uint64_t records = 0, delivered = 0;
	for (int i = 0; i < c.npubs; i++)
		records += atomic_load(&c.pubs[i].logged);
	for (int f = 0; f < c.nfollowers; f++)
		delivered += atomic_load(&c.followers[f].delivered);
	printf("crash_campaign: %u crashes (%s; %u while starting) in %.1f s: "
	       "%" PRIu64 " records acknowledged, %" PRIu64
	       " exits; read back %zu records; %" PRIu64
	       " deliveries to %d followers; %zu cursors resumed; all.log "
	       "lacks %" PRIu64 " lines of batches in flight at a crash; "
	       "%u failures\n",
	       c.crashes, c.fault ? c.fault : "kill -9", c.start_crashes,
	       (double)(now_ms() - t0) / 1000.0, records,
	       atomic_load(&c.exits_logged), rb.n, delivered, c.nfollowers,
	       c.ncursors, c.route_missing_inflight, c.failures);
	fflush(stdout);
	free(rb.seqs);
out:
	atomic_store(&c.stop_pubs, 1);
	for (int i = 0; i < c.npubs; i++)
		if (c.pubs[i].p) {
			pthread_join(c.pubs[i].thread, NULL);
			logbus_publisher_close(c.pubs[i].p, 0);
		}
	for (int f = 0; f < c.nfollowers; f++)
		follower_stop(&c.followers[f]);
	for (size_t k = 0; k < c.ncursors; k++)
		free(c.cursors[k].cursor);
	if (c.b.pid > 0)
		broker_proc_stop(&c.b, SIGTERM, 10000);
	free(c.acked_at);
	free(c.logged_at);
	free(c.exits_at);
	free(c.exits_logged_at);
	if (c.failures == 0 && !c.keep)
		broker_proc_remove(&c.b);
	else
		printf("crash_campaign: kept %s\n", c.b.dir);
	return c.failures ? 1 : 0;
}
