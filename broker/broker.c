/*
 * broker.c: logbusd's life: check the run and log directories and hold
 * them open (dirs.h), lock the run directory, open the journal, listen, run
 * the loop, drain on SIGTERM, clean up.
 *
 * Order matters at start: the run directory's lock is taken before any
 * nng_listen, because a second nng_listen on a live socket path stops the
 * first broker's listener (nng bug #1518).  A stale socket file from a
 * crashed broker is harmless: nng finds nobody behind it and binds again.
 *
 * At SIGTERM/SIGINT the broker stops receiving, handles what nng already
 * delivered, acknowledges it, syncs the journal, then gives the replies a
 * moment to leave before it closes the sockets (nng_close has no linger);
 * a reply lost anyway is harmless: the client resends and the dedup table,
 * rebuilt from the journal at the next start, acknowledges without writing.
 *
 * Under systemd (notify.c) the broker says READY=1 only when the loop is
 * about to run, the journal recovered and every socket listening; the
 * watchdog is fed by a timer of that loop, so a loop that hangs gets the
 * broker restarted; STOPPING=1 goes out as the signal is taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "alerts.h"
#include "broker.h"
#include "config.h"
#include "error_report.h"
#include "fanout.h"
#include "ingest.h"
#include "journal.h"
#include "logbus/logbus.h"
#include "owners.h"
#include "paths.h"
#include "proto.h"
#include "query.h"
#include "routes.h"
#include "services.h"
#include "sessions.h"
#include "syncer.h"
#include "timefmt.h"
#include "waiters.h"

#define REPLY_GRACE_S   0.2  /* time for last replies to leave before close */
#define PROBE_CHECK_S   0.5  /* a self-dial that saw no pipe by then failed */
#define ROUTES_RETRY_S  5.0  /* a routed file that failed is tried again */
#define JOURNAL_INDEX_S 0.05 /* a segment indexed each tick after start */
#define JOURNAL_CHECK_S 1.0  /* the journal directory checked, healed */
#define STATUS_EVERY_S  5.0  /* the service manager's status line */

static int lock_run_dir(struct broker *b)
{
	if ((size_t)snprintf(b->lock_path, sizeof b->lock_path, "%s/%s",
	                     b->cfg.run_dir, RUN_LOCK) >= sizeof b->lock_path) {
		broker_log(b, LOGBUS_ERROR, "run directory path too long: %s",
		           b->cfg.run_dir);
		return -1;
	}
	/* Through the checked directory, never a link planted at its name. */
	b->lock_fd = openat(b->dirs.run_fd, RUN_LOCK,
	                    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (b->lock_fd < 0) {
		broker_log(b, LOGBUS_ERROR, "cannot open %s: %s", b->lock_path,
		           strerror(errno));
		return -1;
	}
	if (flock(b->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(b->lock_fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		broker_log(b, LOGBUS_ERROR,
		           "another logbusd (pid %s) already serves %s; "
		           "stop it or use another --run-dir",
		           *pid ? pid : "?", b->cfg.run_dir);
		close(b->lock_fd);
		b->lock_fd = -1;
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(b->lock_fd, 0) < 0 || pwrite(b->lock_fd, pid, n, 0) != n)
		broker_log(b, LOGBUS_WARNING, "cannot write pid to %s: %s",
		           b->lock_path, strerror(errno));
	return 0;
}

/* A send to the service manager failed or worked again: say so once per
 * change, not at every watchdog ping. */
static void notified(struct broker *b, int rv)
{
	if (rv < 0 && !b->notify.failed)
		broker_log(b, LOGBUS_WARNING,
		           "cannot notify the service manager at "
		           "NOTIFY_SOCKET=%s: %s; systemd may think logbusd "
		           "hangs",
		           getenv("NOTIFY_SOCKET"), strerror(errno));
	else if (rv == 0 && b->notify.failed)
		broker_log(b, LOGBUS_INFO,
		           "notifying the service manager works again");
	b->notify.failed = rv < 0;
}

/* 1234, 12.3k, 1.2M, 3.4G */
static const char *human(uint64_t v, char *buf, size_t len)
{
	static const char unit[] = "kMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 10000) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return buf;
	}
	while (d >= 1000 && u < 5) {
		d /= 1000;
		u++;
	}
	snprintf(buf, len, "%.1f%c", d, unit[u]);
	return buf;
}

/* "serving: 1234 records/s (56.7k bytes/s), 1.2M committed": the rate
 * since the previous line.  Cheap: counters the broker keeps anyway. */
static void status_line(struct broker *b, char *buf, size_t len)
{
	ev_tstamp now = ev_now(b->loop);
	double dt = now - b->status_at;
	uint64_t dn = b->stats.records_committed - b->status_committed;
	uint64_t db = b->stats.bytes_committed - b->status_bytes;
	char rate[16], bytes[16], total[16];

	if (dt <= 0)
		dt = 1;
	snprintf(buf, len, "serving: %s records/s (%s bytes/s), %s committed",
	         human((uint64_t)(dn / dt + 0.5), rate, sizeof rate),
	         human((uint64_t)(db / dt + 0.5), bytes, sizeof bytes),
	         human(b->stats.records_committed, total, sizeof total));
	b->status_at = now;
	b->status_committed = b->stats.records_committed;
	b->status_bytes = b->stats.bytes_committed;
}

void broker_notify_ready(struct broker *b)
{
	char status[256];

	if (!notify_enabled(&b->notify))
		return;
	status_line(b, status, sizeof status);
	notified(b, notify_ready(&b->notify, status));
}

void broker_notify_reloading(struct broker *b)
{
	notified(b, notify_reloading(&b->notify, "reloading"));
}

static void on_status(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, status_w));
	char status[256];

	(void)loop;
	(void)revents;
	status_line(b, status, sizeof status);
	notified(b, notify_status(&b->notify, status));
}

/* From the loop itself: a loop that hangs stops feeding the watchdog, and
 * systemd restarts the broker. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, watchdog_w));

	(void)loop;
	(void)revents;
	notified(b, notify_watchdog(&b->notify));
}

/* One descriptor per connected client: 1,000 publishers need more than
 * the usual soft limit of 1,024. */
static void raise_fd_limit(struct broker *b)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		broker_log(b, LOGBUS_WARNING,
		           "cannot raise the open files limit from %llu to "
		           "%llu: %s; at most about that many clients",
		           (unsigned long long)was,
		           (unsigned long long)rl.rlim_max, strerror(errno));
}

static void on_fsync(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, fsync_w));
	(void)loop;
	(void)revents;
	journal_sync_later(b->journal);
}

static void on_sync_error(void *arg, const char *msg)
{
	broker_log(arg, LOGBUS_ERROR, "journal: %s", msg);
}

static void on_probe(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, probe_w));
	(void)revents;
	endpoint_probe_start(&b->ingest);
	endpoint_probe_start(&b->query);
	endpoint_probe_start(&b->live);
	/* A probe interval shorter than the check delay restarts the check:
	 * libev forbids setting a running timer. */
	ev_timer_stop(loop, &b->probe_check_w);
	ev_timer_set(&b->probe_check_w, PROBE_CHECK_S, 0.);
	ev_timer_start(loop, &b->probe_check_w);
}

static void on_probe_check(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w -
	                      offsetof(struct broker, probe_check_w));
	(void)loop;
	(void)revents;
	endpoint_probe_check(&b->ingest);
	endpoint_probe_check(&b->query);
	endpoint_probe_check(&b->live);
}

static void on_stop_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Like journald's SystemMaxUse: 10% of the file system, at most 4 GiB, at
 * least four segments. */
static uint64_t default_max_total(const char *dir)
{
	struct statvfs sv;
	uint64_t cap = 4ull << 30;

	if (statvfs(dir, &sv) == 0) {
		uint64_t tenth = (uint64_t)sv.f_blocks * sv.f_frsize / 10;
		if (tenth < cap)
			cap = tenth;
	}
	return cap < (256ull << 20) ? (256ull << 20) : cap;
}

/* The journal's size limit: as configured, or journald's habit. */
static uint64_t max_total(const struct broker_config *cfg)
{
	return cfg->max_total_bytes ? cfg->max_total_bytes
	                            : default_max_total(cfg->log_dir);
}

/*
 * SIGHUP: reopen the routed files (logrotate's postrotate), then read the
 * configuration again and apply what can change in a running broker:
 * routes, journal limits, fsync interval (and whatever else config.c's
 * table marks reloadable).  A configuration that does not build changes
 * nothing.  Settings that need a restart are named and left as they are.
 */
static void reload_config(struct broker *b)
{
	struct broker_config next;
	char err[1024], note[512];

	if (config_build(&next, b->cfg.src, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR,
		           "reload: %s; the running configuration is unchanged",
		           err);
		config_fini(&next);
		return;
	}
	struct routes_config rc = config_routes(&next);
	if (owners_config_check(&next, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR,
		           "reload: %s; the running configuration is unchanged",
		           err);
		config_fini(&next);
		return;
	}
	if (!routes_config_same(b->routes, &rc)) {
		struct routes *routes = routes_new(b, &rc, err, sizeof err);
		if (routes == NULL) {
			broker_log(b, LOGBUS_ERROR,
			           "reload: routes: %s; the running "
			           "configuration is unchanged",
			           err);
			config_fini(&next);
			return;
		}
		routes_inherit(routes, b->routes);
		routes_free(b->routes);
		b->routes = routes;
	}
	if (alerts_configure(b->alerts, &next, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR,
		           "reload: alerts: %s; the alert rules are unchanged",
		           err);
	}
	bool next_read = next.file_read;
	owners_configure(b->owners, &next, err, sizeof err); /* checked */
	double fsync_s = b->cfg.fsync_interval_s;
	int kept = config_apply_reloadable(&b->cfg, &next, note, sizeof note);
	journal_set_limits(b->journal, b->cfg.segment_bytes, max_total(&b->cfg),
	                   b->cfg.max_age_s);
	if (fsync_s != b->cfg.fsync_interval_s) {
		ev_timer_set(&b->fsync_w, b->cfg.fsync_interval_s,
		             b->cfg.fsync_interval_s);
		ev_timer_again(b->loop, &b->fsync_w);
	}
	config_fini(&next);
	if (kept)
		broker_log(b, LOGBUS_WARNING,
		           "reload: changed but kept until a restart: %s",
		           note);
	if (next_read)
		broker_log(b, LOGBUS_INFO,
		           "reload: configuration from %s applied; %zu routes, "
		           "%zu alert rules",
		           b->cfg.src->path, rc.nspecs,
		           alerts_count(b->alerts));
	else
		broker_log(b, LOGBUS_INFO,
		           "reload: no configuration file (%s does not exist); "
		           "defaults and command-line options applied; %zu "
		           "routes",
		           b->cfg.src->path, rc.nspecs);
}

static void reload(struct broker *b)
{
	unsigned reopened = routes_reopen(b->routes);
	broker_log(b, LOGBUS_INFO, "SIGHUP: reopened %u routed files",
	           reopened);
	broker_notify_reloading(b);
	reload_config(b);
	broker_notify_ready(b);
}

static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	reload(w->data);
}

static void on_routes_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, routes_w));
	(void)loop;
	(void)revents;
	if (b->routes)
		routes_tick(b->routes);
	error_report_tick(b);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct broker *b = w->data;
	char err[256];

	(void)revents;
	if (b->stopping)
		return;
	b->stopping = true;
	notified(b, notify_stopping(&b->notify,
	                            "stopping: finishing what is in hand"));
	broker_log(b, LOGBUS_INFO,
	           "signal %d: finishing what is in hand, then exiting",
	           w->signum);
	endpoint_pause(&b->ingest);
	endpoint_pause(&b->query);
	waiters_release(b->waiters);
	query_release(b);
	ev_timer_stop(loop, &b->probe_w);
	ev_timer_stop(loop, &b->probe_check_w);
	ev_timer_stop(loop, &b->status_w); /* keep the "stopping" status */
	/* What nng already holds was sent before the signal: take it all. */
	while (endpoint_drain(&b->ingest, 1024) == 1024)
		;
	ratelimit_flush(b);
	if (journal_sync(b->journal, err, sizeof err) < 0)
		broker_log(b, LOGBUS_ERROR, "journal: %s", err);
	ev_timer_init(&b->stop_w, on_stop_grace, REPLY_GRACE_S, 0.);
	ev_timer_start(loop, &b->stop_w);
}

/* The journal's segments come and go: a record of the broker's own each. */
static void on_journal_segment(void *arg, const char *path, uint64_t first_seq,
                               int removed)
{
	if (removed)
		broker_log(arg, LOGBUS_INFO,
		           "journal: removed %s (retention), its records from "
		           "%llu on are gone",
		           path, (unsigned long long)first_seq);
	else
		broker_log(arg, LOGBUS_INFO,
		           "journal: started %s, first record %llu", path,
		           (unsigned long long)first_seq);
}

/* Damage the journal found and what it did about it: loud, it lost records
 * (or set them aside). */
static void on_journal_damage(void *arg, const char *what)
{
	struct broker *b = arg;

	/* Found while the journal opens: kept until it can take records. */
	if (b->journal == NULL && b->early_damage.n < EARLY_DAMAGE_MAX) {
		char *copy = strdup(what);
		if (copy != NULL) {
			b->early_damage.what[b->early_damage.n++] = copy;
			return;
		}
	}
	broker_log(b, LOGBUS_CRITICAL, "%s", what);
}

/* The damage journal_open reported, as records now that it is open (or on
 * stderr only, when it did not open). */
static void log_early_damage(struct broker *b)
{
	for (size_t i = 0; i < b->early_damage.n; i++) {
		broker_log(b, LOGBUS_CRITICAL, "%s", b->early_damage.what[i]);
		free(b->early_damage.what[i]);
	}
	b->early_damage.n = 0;
}

/* journal/fanout cannot be written: what that costs. */
static void fanout_warn(struct broker *b)
{
	broker_log(b, LOGBUS_WARNING,
	           "fan-out positions: cannot %s; after a crash, lines of the "
	           "batch being written may be missing from the routed files",
	           fanout_error(b->fanout));
}

/* The journal made the log directory again: the files follow it there,
 * once it passes the same checks as at start. */
static void reopen_log_dir(struct broker *b)
{
	char err[1024];

	if (dirs_reopen_log(&b->dirs, b->cfg.log_dir, err, sizeof err) < 0)
		broker_log(b, LOGBUS_ERROR,
		           "%s; routed files and error reports are not written "
		           "until it is fixed",
		           err);
	if (b->routes)
		routes_reopen(b->routes);
	if (b->fanout && fanout_rewrite(b->fanout) < 0)
		fanout_warn(b);
	alerts_reopen(b->alerts);
}

/*
 * The journal's upkeep, on its own timer: index what start-up left
 * unindexed (a segment a tick, quickly, so that damage is reported soon
 * after start), and once a second check that the journal directory is still
 * there (rm -rf of the log directory) and heal a journal left broken.
 */
static void on_journal_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, journal_w));
	char err[512];
	int rc;

	(void)revents;
	if (b->journal_indexing) {
		rc = journal_index_next(b->journal, err, sizeof err);
		if (rc < 0)
			broker_log(b, LOGBUS_ERROR, "journal: %s", err);
		b->journal_indexing = rc == 1;
	}
	rc = journal_check(b->journal, err, sizeof err);
	if (rc > 0) /* the log directory may be new */
		reopen_log_dir(b);
	if (rc < 0 && !b->journal_failing)
		broker_log(b, LOGBUS_CRITICAL, "%s", err);
	b->journal_failing = rc < 0;
	w->repeat = b->journal_indexing ? JOURNAL_INDEX_S : JOURNAL_CHECK_S;
	ev_timer_again(loop, w);
}

/* selflog's commit: the broker's own records take the publishers' path
 * from the journal append on. */
static int commit_own(void *arg, struct batch *bt, uint64_t session,
                      uint64_t bn, char *err, size_t errlen)
{
	struct broker *b = arg;

	if (ingest_append(b, session, bn, bt, err, errlen) < 0)
		return -1;
	ingest_fanout(b, bt);
	return 0;
}

static int open_journal(struct broker *b)
{
	char dir[4096], err[512];
	struct journal_recovery rec;

	if ((size_t)snprintf(dir, sizeof dir, "%s/journal", b->cfg.log_dir) >=
	    sizeof dir) {
		broker_log(b, LOGBUS_ERROR, "log directory path too long: %s",
		           b->cfg.log_dir);
		return -1;
	}
	struct journal_config jc = {
	    .dir = dir,
	    .segment_bytes = b->cfg.segment_bytes,
	    .max_total_bytes = max_total(&b->cfg),
	    .max_age_s = b->cfg.max_age_s,
	    .max_record = LOGBUS_RECORD_MAX,
	    .on_batch = ingest_on_journal_batch,
	    /* without a sessions file (a journal of an older logbusd), a
	     * resend after a crash is known if its batch is in the last
	     * 128 MiB of the journal (two default segments) */
	    .replay_bytes = 128ull << 20,
	    .each_batch = ingest_each_journal_batch,
	    .arg = b,
	    .sync_async = syncer_submit,
	    .release_async = syncer_release,
	    .sync_arg = b->syncer,
	    .on_segment = on_journal_segment,
	    .on_damage = on_journal_damage,
	};
	int rc = journal_open(&b->journal, &jc, &rec, err, sizeof err);
	log_early_damage(b);
	if (rc < 0) {
		broker_log(b, LOGBUS_ERROR, "cannot open the journal: %s", err);
		return -1;
	}
	if (rec.truncated_bytes)
		broker_log(b, LOGBUS_WARNING,
		           "journal: truncated a torn tail of %llu bytes "
		           "(records never acknowledged)",
		           (unsigned long long)rec.truncated_bytes);
	if (rec.corrupt_skipped)
		broker_log(b, LOGBUS_WARNING,
		           "journal: %llu corrupt frame(s) in the newest "
		           "segment will be skipped by every reader%s",
		           (unsigned long long)rec.corrupt_skipped,
		           rec.sealed_corrupt ? "; new records go to a new "
		                                "segment"
		                              : "");
	if (journal_last_seq(b->journal) == 0)
		broker_log(b, LOGBUS_INFO, "journal %s: empty", dir);
	else
		broker_log(b, LOGBUS_INFO, "journal %s: records %llu..%llu",
		           dir,
		           (unsigned long long)journal_first_seq(b->journal),
		           (unsigned long long)journal_last_seq(b->journal));
	return 0;
}

/* journal/fanout (fanout.h): where the routed files and error reports had
 * got when the broker stopped or crashed. */
static int open_fanout(struct broker *b)
{
	char note[4400];

	b->fanout = fanout_open(b->dirs.log_fd, b->cfg.log_dir,
	                        journal_id(b->journal), note, sizeof note);
	if (b->fanout == NULL) {
		broker_log(b, LOGBUS_ERROR, "out of memory");
		return -1;
	}
	if (*note)
		broker_log(b, LOGBUS_WARNING, "fan-out positions: %s", note);
	if (*fanout_error(b->fanout))
		fanout_warn(b);
	return 0;
}

/* Before any request: what a crash kept from the routed files and the
 * error reports is written from the journal, so that a publisher's resend
 * of that batch (acknowledged as a duplicate) and its flush find it
 * there. */
static void resume_fanout(struct broker *b)
{
	uint64_t routes, reports, last = journal_last_seq(b->journal);

	routes_resume(b->routes);
	if (fanout_loaded(b->fanout, &routes, &reports))
		error_report_resume(b, reports);
	fanout_mark(b->fanout, last, error_report_through(b, last));
}

/* Who owns which service: the configuration's assignments and the claims
 * kept beside the journal (owners.h). */
static int open_owners(struct broker *b)
{
	char err[1024], note[512];

	b->owners =
	    owners_open(&b->dirs, b->cfg.log_dir, &b->cfg, (uint32_t)geteuid(),
	                note, sizeof note, err, sizeof err);
	if (b->owners == NULL) {
		broker_log(b, LOGBUS_ERROR, "service claims: %s", err);
		return -1;
	}
	if (*note)
		broker_log(b, LOGBUS_WARNING, "service claims: %s", note);
	return 0;
}

/* Make the run and log directories if missing, check them and hold them
 * open (dirs.h), resolve the socket owners, and lock the run directory. */
static int open_dirs(struct broker *b)
{
	const struct broker_config *cfg = &b->cfg;
	char err[512];

	if (paths_mkdir_p(cfg->run_dir, 0755) < 0) {
		broker_log(b, LOGBUS_ERROR,
		           "cannot create run directory %s: %s", cfg->run_dir,
		           strerror(errno));
		return -1;
	}
	if (paths_mkdir_p(cfg->log_dir, 0750) < 0) {
		broker_log(b, LOGBUS_ERROR,
		           "cannot create log directory %s: %s", cfg->log_dir,
		           strerror(errno));
		return -1;
	}
	if (dirs_open(&b->dirs, cfg->run_dir, cfg->log_dir, err, sizeof err) <
	        0 ||
	    access_resolve(cfg, &b->access_cfg, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "%s", err);
		return -1;
	}
	return lock_run_dir(b);
}

/* The three sockets: ingest and query count what their clients have not
 * read (unread.h), live does not answer. */
static int open_endpoints(struct broker *b)
{
	const struct broker_config *cfg = &b->cfg;
	char err[512];

	if (endpoint_open(&b->ingest, b, "ingest", cfg->run_dir, SOCK_INGEST,
	                  &b->access_cfg.ingest, INGEST_RECV_MAX, ingest_ops,
	                  true, err, sizeof err) < 0 ||
	    endpoint_open(&b->query, b, "query", cfg->run_dir, SOCK_QUERY,
	                  &b->access_cfg.query, QUERY_REQ_MAX, query_ops, true,
	                  err, sizeof err) < 0 ||
	    endpoint_open(&b->live, b, "live", cfg->run_dir, SOCK_LIVE,
	                  &b->access_cfg.live, 1024, NULL, false, err,
	                  sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "%s", err);
		return -1;
	}
	return 0;
}

/* Signals and timers: stop and reload, routed files' retries, the
 * journal's syncs and upkeep, the #1518 probe. */
static void start_watchers(struct broker *b)
{
	const struct broker_config *cfg = &b->cfg;

	ev_signal_init(&b->sigterm_w, on_signal, SIGTERM);
	ev_signal_init(&b->sigint_w, on_signal, SIGINT);
	b->sigterm_w.data = b->sigint_w.data = b;
	ev_signal_start(b->loop, &b->sigterm_w);
	ev_signal_start(b->loop, &b->sigint_w);
	ev_signal_init(&b->sighup_w, on_sighup, SIGHUP);
	b->sighup_w.data = b;
	ev_signal_start(b->loop, &b->sighup_w);
	ev_timer_init(&b->routes_w, on_routes_tick, ROUTES_RETRY_S,
	              ROUTES_RETRY_S);
	ev_timer_start(b->loop, &b->routes_w);
	ev_timer_init(&b->fsync_w, on_fsync, cfg->fsync_interval_s,
	              cfg->fsync_interval_s);
	ev_timer_start(b->loop, &b->fsync_w);
	b->journal_indexing = true;
	ev_init(&b->journal_w, on_journal_tick);
	b->journal_w.repeat = JOURNAL_INDEX_S;
	ev_timer_again(b->loop, &b->journal_w);
	ev_timer_init(&b->probe_w, on_probe, cfg->probe_interval_s,
	              cfg->probe_interval_s);
	ev_timer_start(b->loop, &b->probe_w);
	ev_init(&b->probe_check_w, on_probe_check);
}

int broker_init(struct broker *b, const struct broker_config *cfg)
{
	char err[512];

	memset(b, 0, sizeof *b);
	b->cfg = *cfg;
	b->lock_fd = -1;
	b->dirs.run_fd = b->dirs.log_fd = -1;
	b->stats.started_ns = timefmt_now_ns();
	if (notify_init(&b->notify, err, sizeof err) < 0)
		broker_log(b, LOGBUS_WARNING, "%s", err);
	msgpack_zone_init(&b->req_zone, 64 * 1024);
	msgpack_zone_init(&b->rec_zone, 4096);
	batch_init(&b->batch);
	msgpack_sbuffer_init(&b->out);
	msgpack_sbuffer_init(&b->live_out);
	/* Not libev's default loop: that one reaps every child on SIGCHLD
	 * (waitpid(-1)), and would take the exit status of an alert's
	 * command from the worker that waits for it (alert_exec.c). */
	b->loop = ev_loop_new(EVFLAG_AUTO);
	if (b->loop == NULL) {
		broker_log(b, LOGBUS_ERROR, "cannot start the event loop");
		return -1;
	}
	if (open_dirs(b) < 0)
		return -1;
	b->sessions = sessions_new(SESSIONS_MAX, SESSIONS_PER_UID_MAX);
	if (b->sessions == NULL) {
		broker_log(b, LOGBUS_ERROR, "out of memory");
		return -1;
	}
	b->syncer = syncer_new(b->loop, on_sync_error, b);
	if (b->syncer == NULL) {
		broker_log(b, LOGBUS_ERROR, "cannot start the sync thread");
		return -1;
	}
	notified(b, notify_status(&b->notify, "recovering the journal"));
	if (open_journal(b) < 0)
		return -1;
	/* Before selflog: its records, written at the latest by
	 * broker_fini, are counted per service even when the start fails
	 * (a damaged claims file: open_owners). */
	b->services = services_new(SERVICES_MAX, journal_last_seq(b->journal));
	if (b->services == NULL) {
		broker_log(b, LOGBUS_ERROR, "out of memory");
		return -1;
	}
	selflog_init(b, commit_own, b);
	if (open_owners(b) < 0)
		return -1;
	raise_fd_limit(b);
	error_report_migrate(b); /* reports of the old names */
	if (open_fanout(b) < 0)
		return -1;
	struct routes_config rc = config_routes(cfg);
	if ((b->routes = routes_new(b, &rc, err, sizeof err)) == NULL) {
		broker_log(b, LOGBUS_ERROR, "routes: %s", err);
		return -1;
	}
	resume_fanout(b);
	if ((b->alerts = alerts_new(b, err, sizeof err)) == NULL) {
		broker_log(b, LOGBUS_ERROR, "alerts: %s", err);
		return -1;
	}
	if ((b->access = access_new(&b->access_cfg)) == NULL ||
	    (b->waiters = waiters_new(b->loop, read_serve)) == NULL) {
		broker_log(b, LOGBUS_ERROR, "out of memory");
		return -1;
	}
	query_init(b);
	if (open_endpoints(b) < 0)
		return -1;
	start_watchers(b);
	stats_init(b);
	ratelimit_init(b);
	broker_log(b, LOGBUS_INFO,
	           "serving %s (ingest.sock, query.sock, live.sock), pid %ld",
	           cfg->run_dir, (long)getpid());
	broker_log(b, LOGBUS_INFO,
	           "readers: root and group %s read every record, others "
	           "their own",
	           b->access_cfg.reader_group);
	return 0;
}

int broker_run(struct broker *b)
{
	/* Every socket listens and the journal is recovered: ready.  The
	 * clock moved during recovery; the timers start from now. */
	ev_now_update(b->loop);
	b->status_at = ev_now(b->loop);
	broker_notify_ready(b);
	if (notify_enabled(&b->notify)) {
		ev_timer_init(&b->status_w, on_status, STATUS_EVERY_S,
		              STATUS_EVERY_S);
		ev_timer_start(b->loop, &b->status_w);
	}
	if (b->notify.watchdog_usec) {
		/* Half the timeout, as sd_watchdog_enabled(3) advises. */
		double every = (double)b->notify.watchdog_usec / 2e6;
		ev_timer_init(&b->watchdog_w, on_watchdog, every, every);
		ev_timer_start(b->loop, &b->watchdog_w);
	}
	ev_run(b->loop, 0);
	return 0;
}

void broker_fini(struct broker *b)
{
	char err[256];

	endpoint_close(&b->ingest);
	endpoint_close(&b->query);
	endpoint_close(&b->live);
	stats_fini(b);
	query_fini(b);
	waiters_free(b->waiters);
	b->waiters = NULL;
	access_free(b->access);
	b->access = NULL;
	alerts_stop(b->alerts); /* their last records go in with selflog's */
	selflog_fini(b);
	alerts_free(b->alerts);
	b->alerts = NULL;
	routes_free(b->routes);
	b->routes = NULL;
	error_report_fini(b);
	fanout_free(b->fanout);
	b->fanout = NULL;
	owners_free(b->owners);
	b->owners = NULL;
	syncer_free(b->syncer); /* finishes the syncs it holds */
	if (b->journal) {
		if (journal_sync(b->journal, err, sizeof err) < 0)
			broker_log(b, LOGBUS_ERROR, "journal: %s", err);
		journal_close(b->journal);
	}
	sessions_free(b->sessions);
	services_free(b->services);
	msgpack_zone_destroy(&b->req_zone);
	msgpack_zone_destroy(&b->rec_zone);
	batch_fini(&b->batch);
	msgpack_sbuffer_destroy(&b->out);
	msgpack_sbuffer_destroy(&b->live_out);
	free(b->scratch);
	/* The lock file stays: unlinking it would let a broker that opened
	 * the old file and one that creates a new one both hold "the" lock. */
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	dirs_close(&b->dirs);
	if (b->loop)
		ev_loop_destroy(b->loop);
	notify_fini(&b->notify);
}
