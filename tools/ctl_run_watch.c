/*
 * ctl_run_watch.c: the watcher of `logbusctl run`, a second process that
 * reports the command's end when logbusctl run is killed (SIGKILL, the
 * OOM killer): a killed process can do nothing itself.
 *
 * How it works, and why:
 *  - logbusctl run starts it right after the command, by posix_spawn of
 *    itself (self_exe) with the hidden first argument --as-watcher (an exec,
 *    never a bare fork: nng is not fork-safe), in a process group of its
 *    own, so that the terminal's Ctrl-C or a kill of logbusctl's group
 *    leave it standing; it ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT,
 *    and ends by itself once logbusctl has;
 *  - they share a pipe (the watcher's fd 3).  logbusctl writes 'E' and
 *    the wait status when the command has ended (before it reaps it), and
 *    'D' once its own exit report is done or given up.  EOF after 'D':
 *    the watcher leaves without a word.  EOF without 'D' means logbusctl
 *    died: without 'E' the command was still running, so the watcher
 *    kills it with SIGKILL, and the process group logbusctl chose for it
 *    (ctl_run.c says which) when there is one, and reports it killed; after 'E'
 * it reports the status logbusctl saw.  logbusctl's own report may then have
 *    reached logbusd too: at least once, never lost;
 *  - the command is named by a pidfd logbusctl opened while the command
 *    was its unreaped child (fd 5), so no recycled pid is ever signalled;
 *  - the tails of stdout and stderr are kept in a memfd both map (fd 4):
 *    for each stream a ring of tail_bytes and the positions [from, to) of
 *    the bytes it holds, counted from the stream's start.  logbusctl
 *    copies each chunk there before it shows it anywhere, moving `from`
 *    before it overwrites and `to` after it wrote, so a writer killed in
 *    the middle leaves a ring that is short, never wrong.  The watcher's
 *    report has those bytes, without the count of what came before them;
 *  - the report is published through the public API, as the same service
 *    and logger; its stderr ends with one line saying that logbusctl run
 *    (pid N) was killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "args.h"
#include "ctl_run.h"
#include "logbusctl.h"

extern char **environ;

#define WATCH_PIPE_FD  3
#define WATCH_TAILS_FD 4
#define WATCH_PIDFD_FD 5
#define KILL_WAIT_MS   5000 /* for the killed command to be gone */
#define MSG_ENDED      'E'
#define MSG_DONE       'D'

/* The positions of one stream's bytes in its ring (see above). */
struct ring_head {
	uint64_t from, to;
};

/* The memfd: stdout's head, stderr's, then their rings of cap bytes. */
struct shared_tails {
	struct ring_head head[2];
	unsigned char data[];
};

struct run_watch {
	int fd; /* the pipe's write end */
	struct shared_tails *tails;
	size_t cap, map_len;
};

static int stream_index(enum logbus_stream stream)
{
	return stream == LOGBUS_STREAM_STDERR ? 1 : 0;
}

static size_t tails_len(size_t cap)
{
	return sizeof(struct shared_tails) + 2 * cap;
}

/* ---- logbusctl's side -------------------------------------------------- */

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* The watcher's command line (malloc'd; the numbers in nums). */
static char **watch_argv(const struct run_args *a, const char *cwd,
                         const char *venv, pid_t pid, pid_t group,
                         bool has_pidfd, char nums[5][24])
{
	char **v = calloc(16 + (size_t)a->argc, sizeof *v);
	size_t n = 0;

	if (v == NULL)
		return NULL;
	snprintf(nums[0], 24, "%d", a->timeout_ms);
	snprintf(nums[1], 24, "%zu", a->tail_bytes);
	snprintf(nums[2], 24, "%d", (int)pid);
	snprintf(nums[3], 24, "%d", (int)getpid());
	snprintf(nums[4], 24, "%d", (int)group);
	v[n++] = "logbusctl";
	v[n++] = "run";
	v[n++] = RUN_WATCH_ARG;
	v[n++] = (char *)a->service;
	v[n++] = (char *)(a->logger ? a->logger : "");
	v[n++] = a->run_dir ? a->run_dir : "";
	v[n++] = nums[0];
	v[n++] = nums[1];
	v[n++] = (char *)cwd;
	v[n++] = (char *)(venv ? venv : "");
	v[n++] = nums[2];
	v[n++] = nums[4];
	v[n++] = has_pidfd ? "pidfd" : "nopidfd";
	v[n++] = nums[3];
	v[n++] = "--";
	for (int i = 0; i < a->argc; i++)
		v[n++] = a->argv[i];
	return v;
}

/* fd moved above the watcher's fds (CLOEXEC), so that no dup2 onto them
 * overwrites another; -1 when it cannot be. */
static int fd_above(int fd)
{
	int moved;

	if (fd < 0 || fd > WATCH_PIDFD_FD)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, WATCH_PIDFD_FD + 1);
	close(fd);
	return moved;
}

/* The shared tails in a memfd of ours: its descriptor, or -1. */
static int tails_make(struct run_watch *w)
{
	int fd = memfd_create("logbusctl-run-tails", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)w->map_len) < 0 ||
	    (p = mmap(NULL, w->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	              0)) == MAP_FAILED) {
		close(fd);
		return -1;
	}
	w->tails = p;
	return fd;
}

/*
 * This program, to start again as the watcher: the path readlink gives for
 * /proc/self/exe, which is what runs even under valgrind (there, an exec of
 * /proc/self/exe itself would start valgrind's tool, which refuses to run
 * alone); /proc/self/exe when that path no longer holds an executable
 * (replaced by an upgrade: readlink then ends in " (deleted)").
 */
static const char *self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0 || (size_t)n >= len - 1)
		return "/proc/self/exe";
	buf[n] = '\0';
	return access(buf, X_OK) == 0 ? buf : "/proc/self/exe";
}

struct run_watch *run_watch_start(const struct run_args *a, const char *cwd,
                                  const char *venv, pid_t pid, pid_t group,
                                  const sigset_t *mask)
{
	struct run_watch *w = calloc(1, sizeof *w);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int p[2] = {-1, -1}, mfd = -1, pidfd = -1, rc = ENOMEM;
	char nums[5][24], self[4096];
	char **argv = NULL;
	pid_t wpid;

	if (w == NULL)
		goto fail;
	w->fd = -1;
	w->cap = a->tail_bytes;
	w->map_len = tails_len(w->cap);
	pidfd = fd_above(pidfd_open(pid)); /* -1: kill() by pid */
	argv = watch_argv(a, cwd, venv, pid, group, pidfd >= 0, nums);
	if (argv == NULL)
		goto fail;
	if ((mfd = fd_above(tails_make(w))) < 0 || pipe2(p, O_CLOEXEC) < 0 ||
	    (p[0] = fd_above(p[0])) < 0) {
		rc = errno;
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	                                 O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
	                                 O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[0], WATCH_PIPE_FD);
	posix_spawn_file_actions_adddup2(&fa, mfd, WATCH_TAILS_FD);
	if (pidfd >= 0)
		posix_spawn_file_actions_adddup2(&fa, pidfd, WATCH_PIDFD_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, WATCH_PIDFD_FD + 1);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	                                    POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, mask);
	rc = posix_spawn(&wpid, self_exe(self, sizeof self), &fa, &attr, argv,
	                 environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		goto fail;
	close(p[0]);
	close(mfd);
	if (pidfd >= 0)
		close(pidfd);
	free(argv);
	w->fd = p[1];
	return w;
fail:
	warn("cannot start the watcher of the command (%s): if logbusctl is "
	     "killed, nothing will report the command's end",
	     strerror(rc));
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (mfd >= 0)
		close(mfd);
	if (pidfd >= 0)
		close(pidfd);
	free(argv);
	if (w != NULL && w->tails != NULL)
		munmap(w->tails, w->map_len);
	free(w);
	return NULL;
}

void run_watch_output(struct run_watch *w, enum logbus_stream stream,
                      const void *p, size_t n)
{
	if (w == NULL || w->cap == 0)
		return;
	struct ring_head *h = &w->tails->head[stream_index(stream)];
	unsigned char *ring =
	    w->tails->data + (size_t)stream_index(stream) * w->cap;
	const unsigned char *s = p;
	uint64_t to = h->to;

	if (n > w->cap) { /* only the last cap bytes can stay */
		to += n - w->cap;
		s += n - w->cap;
		n = w->cap;
	}
	if (to + n > w->cap && to + n - w->cap > h->from)
		__atomic_store_n(&h->from, to + n - w->cap, __ATOMIC_RELEASE);
	size_t at = (size_t)(to % w->cap);
	size_t first = n < w->cap - at ? n : w->cap - at;
	memcpy(ring + at, s, first);
	memcpy(ring, s + first, n - first);
	__atomic_store_n(&h->to, to + n, __ATOMIC_RELEASE);
}

/* A message to the watcher; one gone already changes nothing. */
static void watch_say(struct run_watch *w, const void *msg, size_t len)
{
	ssize_t rc;

	do
		rc = write(w->fd, msg, len);
	while (rc < 0 && errno == EINTR);
}

void run_watch_ended(struct run_watch *w, int status)
{
	unsigned char msg[1 + sizeof status];

	if (w == NULL)
		return;
	msg[0] = MSG_ENDED;
	memcpy(msg + 1, &status, sizeof status);
	watch_say(w, msg, sizeof msg);
}

void run_watch_done(struct run_watch *w)
{
	char msg = MSG_DONE;

	if (w == NULL)
		return;
	watch_say(w, &msg, 1);
	close(w->fd);
	munmap(w->tails, w->map_len);
	free(w);
}

/* ---- the watcher ------------------------------------------------------- */

/* What the watcher is told on its command line. */
struct watch_in {
	struct run_args a;
	const char *cwd, *venv;   /* venv NULL: none */
	pid_t pid, parent, group; /* group 0: none to kill */
	bool has_pidfd;
};

/* An argument that may be empty: NULL then. */
static const char *or_null(const char *s)
{
	return *s ? s : NULL;
}

static bool watch_parse(int argc, char **argv, struct watch_in *in)
{
	int64_t timeout, tail, pid, parent, group;

	if (argc < 14 || strcmp(argv[12], "--") != 0 ||
	    !args_int64(argv[4], 1, INT32_MAX, &timeout) ||
	    !args_int64(argv[5], 1, INT32_MAX, &tail) ||
	    !args_int64(argv[8], 1, INT32_MAX, &pid) ||
	    !args_int64(argv[9], 0, INT32_MAX, &group) ||
	    !args_int64(argv[11], 1, INT32_MAX, &parent))
		return false;
	in->a.service = argv[1];
	in->a.logger = or_null(argv[2]);
	in->a.run_dir = (char *)or_null(argv[3]);
	in->a.timeout_ms = (int)timeout;
	in->a.tail_bytes = (size_t)tail;
	in->cwd = argv[6];
	in->venv = or_null(argv[7]);
	in->pid = (pid_t)pid;
	in->group = (pid_t)group;
	in->has_pidfd = strcmp(argv[10], "pidfd") == 0;
	in->parent = (pid_t)parent;
	in->a.argv = argv + 13;
	in->a.argc = argc - 13;
	return true;
}

/* Read the pipe until EOF: *ended (and *status) after 'E', *done after
 * 'D'. */
static void watch_listen(bool *ended, int *status, bool *done)
{
	unsigned char buf[64];
	size_t len = 0;
	ssize_t n;

	while ((n = read(WATCH_PIPE_FD, buf + len, sizeof buf - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf) /* more than logbusctl ever says */
			break;
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == MSG_ENDED && len - i > sizeof *status) {
			memcpy(status, buf + i + 1, sizeof *status);
			*ended = true;
			i += sizeof *status;
		} else if (buf[i] == MSG_DONE) {
			*done = true;
		}
	}
}

/* SIGKILL to the command and its group, then wait a while for the
 * command to be gone. */
static void watch_kill(const struct watch_in *in)
{
	struct pollfd p = {.fd = WATCH_PIDFD_FD, .events = POLLIN};

	if (in->group > 0)
		kill(-in->group, SIGKILL);
	if (!in->has_pidfd) {
		kill(in->pid, SIGKILL);
		return;
	}
	pidfd_kill(WATCH_PIDFD_FD, SIGKILL);
	while (poll(&p, 1, KILL_WAIT_MS) < 0 && errno == EINTR)
		;
}

/* The tail of one stream from the shared rings; NULL when there is none. */
static logbus_tail *watch_tail(const struct shared_tails *t, size_t cap, int i)
{
	uint64_t from = __atomic_load_n(&t->head[i].from, __ATOMIC_ACQUIRE);
	uint64_t to = __atomic_load_n(&t->head[i].to, __ATOMIC_ACQUIRE);
	const unsigned char *ring = t->data + (size_t)i * cap;
	logbus_tail *tail = logbus_tail_new(cap);

	if (tail == NULL)
		return NULL;
	if (to > cap && from < to - cap)
		from = to - cap;
	if (from < to) {
		size_t at = (size_t)(from % cap), n = (size_t)(to - from);
		size_t first = n < cap - at ? n : cap - at;
		logbus_tail_add(tail, ring + at, first);
		logbus_tail_add(tail, ring, n - first);
	}
	return tail;
}

/* The shared rings, mapped (NULL when they cannot be). */
static const struct shared_tails *watch_map(size_t cap)
{
	struct stat st;
	void *p;

	if (fstat(WATCH_TAILS_FD, &st) < 0 ||
	    (uint64_t)st.st_size < tails_len(cap))
		return NULL;
	p = mmap(NULL, tails_len(cap), PROT_READ, MAP_SHARED, WATCH_TAILS_FD,
	         0);
	return p == MAP_FAILED ? NULL : p;
}

/* The report of the command's end, with note as the last line of its
 * stderr. */
static int watch_report(const struct watch_in *in, int status, const char *note)
{
	const struct shared_tails *t = watch_map(in->a.tail_bytes);
	logbus_tail *err = t ? watch_tail(t, in->a.tail_bytes, 1)
	                     : logbus_tail_new(in->a.tail_bytes);
	logbus_tail *out = t ? watch_tail(t, in->a.tail_bytes, 0) : NULL;
	logbus_publisher_options po = {
	    .run_dir = in->a.run_dir,
	    .service = in->a.service,
	    .logger = in->a.logger,
	};
	logbus_publisher *pub = NULL;
	char path[4096], why[512];
	size_t len;
	int rc;

	if (err != NULL) {
		const char *d = logbus_tail_data(err, &len, NULL);
		if (len > 0 && d[len - 1] != '\n')
			logbus_tail_add(err, "\n", 1);
		logbus_tail_add(err, note, strlen(note));
	}
	rc = logbus_publisher_open(&pub, &po);
	if (rc == LOGBUS_OK)
		rc = run_report_send(
		    pub, &in->a, in->cwd, in->venv,
		    &(struct run_end){.pid = in->pid, .status = status}, err,
		    out, in->a.timeout_ms);
	if (rc != LOGBUS_OK)
		warn("logbusctl run (pid %d) was killed, and the exit report "
		     "of its command (pid %d) did not reach logbusd in %s: %s",
		     (int)in->parent, (int)in->pid,
		     run_dir_name(in->a.run_dir, path, sizeof path),
		     pub ? detail_or(
		               logbus_publisher_error(pub, why, sizeof why), rc)
		         : logbus_strerror(rc));
	logbus_publisher_close(pub, 0);
	logbus_tail_free(err);
	logbus_tail_free(out);
	if (t != NULL)
		munmap((void *)t, tails_len(in->a.tail_bytes));
	return rc == LOGBUS_OK ? 0 : EXIT_FAIL;
}

int run_watch_main(int argc, char **argv)
{
	static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct watch_in in = {0};
	bool ended = false, done = false;
	int status = 0;
	char note[160];

	if (!watch_parse(argc, argv, &in))
		return usage_error("run", "%s is logbusctl run's own",
		                   RUN_WATCH_ARG);
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	watch_listen(&ended, &status, &done);
	if (done)
		return 0;
	if (ended) {
		snprintf(note, sizeof note,
		         "logbusctl run (pid %d) was killed before it had "
		         "reported the end of the command\n",
		         (int)in.parent);
	} else {
		watch_kill(&in);
		status = W_EXITCODE(0, SIGKILL);
		snprintf(note, sizeof note,
		         "logbusctl run (pid %d) was killed; the command was "
		         "ended with it (SIGKILL)\n",
		         (int)in.parent);
	}
	return watch_report(&in, status, note);
}
