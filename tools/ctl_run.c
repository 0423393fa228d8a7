/*
 * ctl_run.c: `logbusctl run`, a supervisor for one command.  The command's
 * stdout and stderr become records of a service, line by line, and still
 * reach our own stdout and stderr as they come; its end becomes an exit
 * report, from which logbusd writes <service>_error.log.
 *
 * How it is built, and why:
 *  - the child is forked before the publisher exists: nng is not
 *    fork-safe, and the child does nothing but dup2, chdir, its signals
 *    and exec (an exec failure comes back on a pipe).  No library handle
 *    is open at that moment, so no descriptor of ours can leak into the
 *    command;
 *  - the command dies with us: PR_SET_PDEATHSIG (SIGKILL) in the child,
 *    checked against getppid() for a death before it was set; and, since
 *    that reaches the command alone, a watcher process (ctl_run_watch.c)
 *    kills the command's process group and publishes the exit report when
 *    we were killed.  Which group: ours when we lead one (made for us by
 *    systemd, setsid, a shell's job control or Python's
 *    start_new_session), so that a signal to it still reaches everything
 *    as before; else a group of the command's own, except in the
 *    foreground of a terminal, where the command stays in our group (so
 *    that Ctrl-C, Ctrl-Z and reading the terminal work as for any
 *    command) and only the command itself is killed with us;
 *  - SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked and read from a
 *    signalfd in the same poll(2) as the two pipes: no handler, no race
 *    between a signal and the loop.  The child gets back the mask and the
 *    dispositions we were started with (SIGPIPE default again).  Signals
 *    are forwarded to the command, except those the terminal sent
 *    (si_code SI_KERNEL) to the group we share with it, which reached it
 *    by themselves;
 *  - the command's end is seen with waitid(WNOWAIT), told to the watcher,
 *    and the command is reaped only once its output was read: a command
 *    that is gone (not a zombie) has had all of it read;
 *  - the publisher drops records rather than block when its queue is full:
 *    a broker that is slow or away never stalls the command.  Whether
 *    logbusd answers is looked at once, REACH_CHECK_MS after the start,
 *    without waiting; if not, one line says the output is not recorded;
 *  - a line is a record (without its '\n'); bytes that are not UTF-8
 *    become U+FFFD in the record, the terminal gets them as they were.
 *    Its level is the one it starts with (logbus_line_level has the rule),
 *    else its stream's; the line is kept as it was.  A
 *    line longer than PIECE_MAX bytes of text goes out as pieces carrying
 *    the fields part (1, 2, ...) and more (true but on the last), cut
 *    between characters; the pieces of a line without an end are sent as
 *    they fill, so memory stays bounded whatever the command writes;
 *  - after the command ended, the pipes are read until EOF or until
 *    they stay quiet for DRAIN_QUIET_MS: a background process the command
 *    left behind may hold them open for ever.
 *
 * Exit status: the command's (128 + N when killed by signal N); 127 when
 * the command is not found, 126 when it cannot be executed; 2 for a wrong
 * command line, 1 when logbusctl itself fails before the command runs, a
 * service another user owns included (asked before the start).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "args.h"
#include "ctl_run.h"
#include "logbusctl.h"
#include "proto.h"
#include "record.h"
#include "utf8.h"

extern char **environ;

#define PIECE_MAX       (64 * 1024) /* message bytes of one record */
#define READ_CHUNK      (64 * 1024)
#define PEND_CAP        (PIECE_MAX + READ_CHUNK + 16)
#define TAIL_DEFAULT    (64 * 1024)
#define TAIL_MAX        (16 * 1024 * 1024)
#define RUN_QUEUE_BYTES (32u << 20) /* a burst of output, not dropped */
#define REACH_CHECK_MS  1000
#define DRAIN_QUIET_MS  500
/* After --time-limit's SIGTERM, how long the command has before SIGKILL. */
#define LIMIT_KILL_MS 5000
#define LIMIT_MAX_S   (366 * 24 * 3600)
/* The exit report's wait when logbusd never answered during the run. */
#define AWAY_REPORT_MS 1000
/* The command line in the start record and the exit report, bounded so
 * that the report stays far below the record limit. */
#define CMD_TEXT_MAX (16 * 1024)
#define ARGV_MAX     (32 * 1024)

enum {
	OPT_CWD = OPT_COMMAND_BASE,
	OPT_VENV,
	OPT_STDOUT_LEVEL,
	OPT_STDERR_LEVEL,
	OPT_TAIL_BYTES,
	OPT_NO_DETECT_LEVEL,
	OPT_TIME_LIMIT,
};

/* One of the child's output streams. */
struct stream {
	int fd;     /* read end of the pipe; -1 at EOF */
	int out_fd; /* where it is copied (1 or 2); -1 once that failed */
	enum logbus_stream kind;
	int level;      /* the stream's */
	int line_level; /* the current line's */
	logbus_tail *tail;
	unsigned char *pend; /* bytes not sent yet: the current line */
	size_t len;
	int64_t part; /* pieces of the current line already sent */
};

struct run {
	const struct run_args *a;
	logbus_publisher *pub; /* NULL: nothing is recorded */
	struct stream out, err;
	char *msg; /* a piece's text, PIECE_MAX bytes */
	pid_t pid;
	bool own_group;   /* the command leads a process group */
	pid_t kill_group; /* the group killed with us; 0: the command only */
	struct run_watch *watch;
	int status;
	bool ended; /* status holds how; it is reaped after the loop */
	int sigfd;
	int64_t check_at; /* ms: when to look whether logbusd answered */
	int64_t drain_at; /* ms: when to stop reading after the child died */
	int64_t limit_at; /* ms: --time-limit's next signal; 0: none */
	bool timed_out;   /* --time-limit's SIGTERM was sent */
	bool oom_known;   /* oom_before holds our cgroup's OOM kills */
	uint64_t oom_before;
	bool warned; /* the line saying logbusd is away was printed */
	uint64_t write_failures;
	int write_rc;
	char cwd[PATH_MAX]; /* absolute: the command's working directory */
	char venv[PATH_MAX];
};

/* s as valid UTF-8 in a malloc'd string (NULL when out of memory). */
static char *utf8_dup(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(3 * len + 1);

	if (out == NULL)
		return NULL;
	out[utf8_sanitize(s, len, out)] = '\0';
	return out;
}

/* ---- the command line ---------------------------------------------------- */

/* Why path is not a directory we can use, or NULL. */
static const char *dir_problem(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "not a directory";
	return NULL;
}

static int run_parse(int argc, char **argv, struct run_args *a)
{
	static const struct option longopts[] = {
	    {"service", required_argument, NULL, 's'},
	    {"logger", required_argument, NULL, 'l'},
	    {"cwd", required_argument, NULL, OPT_CWD},
	    {"venv", required_argument, NULL, OPT_VENV},
	    {"stdout-level", required_argument, NULL, OPT_STDOUT_LEVEL},
	    {"stderr-level", required_argument, NULL, OPT_STDERR_LEVEL},
	    {"tail-bytes", required_argument, NULL, OPT_TAIL_BYTES},
	    {"no-detect-level", no_argument, NULL, OPT_NO_DETECT_LEVEL},
	    {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *why;
	int64_t v;
	int c, rc;

	/* "+": the first word that is not an option is the command, so
	 * that its own options are never taken for ours. */
	while ((c = command_getopt(argc, argv, "+:s:l:h", longopts, &a->run_dir,
	                           &a->timeout_ms, &rc)) != -1) {
		switch (c) {
		case OPT_STOP:
			return rc;
		case 's':
			a->service = optarg;
			break;
		case 'l':
			a->logger = optarg;
			break;
		case OPT_CWD:
			a->cwd = optarg;
			break;
		case OPT_VENV:
			a->venv = optarg;
			break;
		case OPT_STDOUT_LEVEL:
		case OPT_STDERR_LEVEL:
			if ((rc = level_arg(argv[0], optarg,
			                    c == OPT_STDOUT_LEVEL
			                        ? &a->stdout_level
			                        : &a->stderr_level)) !=
			    PARSE_OK)
				return rc;
			break;
		case OPT_TAIL_BYTES:
			if (!args_int64(optarg, 1, TAIL_MAX, &v))
				return usage_error(argv[0],
				                   "bad --tail-bytes '%s': a "
				                   "number of bytes, 1 to %d",
				                   optarg, TAIL_MAX);
			a->tail_bytes = (size_t)v;
			break;
		case OPT_NO_DETECT_LEVEL:
			a->detect_level = false;
			break;
		case OPT_TIME_LIMIT:
			if (!args_int64(optarg, 1, LIMIT_MAX_S, &v))
				return usage_error(argv[0],
				                   "bad --time-limit '%s': a "
				                   "number of seconds, 1 to %d",
				                   optarg, LIMIT_MAX_S);
			a->time_limit_ms = v * 1000;
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	if ((rc = require_service(argv[0], a->service)) != PARSE_OK)
		return rc;
	if (a->logger != NULL && !logger_valid(a->logger, strlen(a->logger)))
		return usage_error(argv[0],
		                   "invalid logger name '%s': use 1 to %d "
		                   "bytes of UTF-8 without control characters",
		                   a->logger, LOGBUS_LOGGER_MAX);
	if (a->cwd != NULL && (why = dir_problem(a->cwd)) != NULL)
		return usage_error(argv[0], "bad --cwd '%s': %s", a->cwd, why);
	if (a->venv != NULL && (why = dir_problem(a->venv)) != NULL)
		return usage_error(argv[0], "bad --venv '%s': %s", a->venv,
		                   why);
	if (optind >= argc)
		return usage_error(argv[0], "no command given: write logbusctl "
		                            "run -s SERVICE -- COMMAND "
		                            "[ARGS...]");
	if (argv[optind][0] == '\0')
		return usage_error(argv[0], "the command is empty");
	a->argv = argv + optind;
	a->argc = argc - optind;
	return PARSE_OK;
}

/* dir made absolute against our working directory, into out. */
static bool absolute_dir(const char *dir, char *out, size_t len)
{
	char here[PATH_MAX];

	if (dir[0] == '/')
		return (size_t)snprintf(out, len, "%s", dir) < len;
	if (getcwd(here, sizeof here) == NULL)
		return false;
	if (strcmp(dir, ".") == 0)
		return (size_t)snprintf(out, len, "%s", here) < len;
	return (size_t)snprintf(out, len, "%s/%s", here, dir) < len;
}

/* ---- starting the command ------------------------------------------------ */

/* fds 0 to 2 open, so that a pipe never takes the number of one. */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			open("/dev/null", O_RDWR);
}

/*
 * The environment of the command: ours, or with --venv what a venv's
 * activate script sets: VIRTUAL_ENV, VENV/bin first in PATH, no
 * PYTHONHOME.  *path_out is the PATH it has.  malloc'd, NULL-terminated.
 */
static char **child_env(const char *venv, const char **path_out)
{
	size_t n = 0, k = 0;
	const char *path = getenv("PATH");
	char **env;
	char defpath[256];

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 3, sizeof *env)) == NULL)
		return NULL;
	if (venv == NULL) {
		memcpy(env, environ, n * sizeof *env);
		*path_out = path;
		return env;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "PATH=", 5) != 0 &&
		    strncmp(environ[i], "VIRTUAL_ENV=", 12) != 0 &&
		    strncmp(environ[i], "PYTHONHOME=", 11) != 0)
			env[k++] = environ[i];
	if (path == NULL) {
		if (confstr(_CS_PATH, defpath, sizeof defpath) == 0)
			snprintf(defpath, sizeof defpath, "/usr/bin:/bin");
		path = defpath;
	}
	size_t vl = strlen("VIRTUAL_ENV=") + strlen(venv) + 1;
	size_t pl =
	    strlen("PATH=") + strlen(venv) + strlen("/bin:") + strlen(path) + 1;
	env[k] = malloc(vl);
	env[k + 1] = malloc(pl);
	if (env[k] == NULL || env[k + 1] == NULL) {
		free(env[k]);
		free(env[k + 1]);
		free(env);
		return NULL;
	}
	snprintf(env[k], vl, "VIRTUAL_ENV=%s", venv);
	snprintf(env[k + 1], pl, "PATH=%s/bin:%s", venv, path);
	*path_out = env[k + 1] + 5;
	return env;
}

static void child_env_free(char **env, const char *venv)
{
	size_t n = 0;

	if (env == NULL)
		return;
	while (env[n] != NULL)
		n++;
	if (venv != NULL && n >= 2) { /* the last two are ours */
		free(env[n - 1]);
		free(env[n - 2]);
	}
	free(env);
}

/*
 * Where exec finds cmd, as a shell would: cmd itself when it has a '/',
 * else the first executable regular file named cmd in path's directories
 * (an empty one is "."; a relative one is relative to cwd, where the child
 * runs).  Returns 0, or ENOENT (nowhere) or EACCES (found, not
 * executable).
 */
static int find_command(const char *cmd, const char *path, const char *cwd,
                        char *out, size_t len)
{
	int found = ENOENT;

	if (strchr(cmd, '/') != NULL)
		return (size_t)snprintf(out, len, "%s", cmd) < len
		           ? 0
		           : ENAMETOOLONG;
	if (path == NULL)
		path = "/usr/bin:/bin";
	for (const char *p = path;; p++) {
		size_t n = strcspn(p, ":");
		char check[PATH_MAX];
		struct stat st;

		int w = n == 0 ? snprintf(out, len, "%s", cmd)
		               : snprintf(out, len, "%.*s/%s", (int)n, p, cmd);
		int wc = out[0] == '/'
		             ? snprintf(check, sizeof check, "%s", out)
		             : snprintf(check, sizeof check, "%s/%s", cwd, out);
		bool fits = w >= 0 && (size_t)w < len && wc >= 0 &&
		            (size_t)wc < sizeof check;
		if (fits && stat(check, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(check, X_OK) == 0) {
				if (n == 0) /* "./cmd": not a PATH search */
					snprintf(out, len, "./%s", cmd);
				return 0;
			}
			found = EACCES;
		}
		p += n;
		if (*p == '\0')
			break;
	}
	return found;
}

/* The exit status of a command that could not be started, as a shell's. */
static int not_started(const char *cmd, int err)
{
	if (err == ENOENT && strchr(cmd, '/') == NULL) {
		fail("cannot run '%s': command not found", cmd);
		return 127;
	}
	fail("cannot run '%s': %s", cmd, strerror(err));
	return err == ENOENT ? 127 : 126;
}

/* Signals we forward: those not ignored when we started (a command run
 * with nohup keeps ignoring SIGHUP, its child too). */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};

/*
 * Block the signals the loop reads from a signalfd; *old is the mask we
 * had, which the child gets back.  Returns the signalfd or -1.
 */
static int signals_take(sigset_t *old, sigset_t *dflt)
{
	struct sigaction sa;
	sigset_t mask;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL; /* SIG_IGN would reap the child for us */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&mask);
	sigemptyset(dflt);
	sigaddset(&mask, SIGCHLD);
	sigaddset(dflt, SIGCHLD);
	sigaddset(dflt, SIGPIPE); /* main() ignores it; the child must not */
	for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
		if (sigaction(forwarded[i], NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_IGN)
			continue;
		sigaddset(&mask, forwarded[i]);
		sigaddset(dflt, forwarded[i]);
	}
	if (sigprocmask(SIG_BLOCK, &mask, old) < 0)
		return -1;
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Whether we run in the foreground of our controlling terminal. */
static bool terminal_foreground(void)
{
	int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
	bool fg = fd >= 0 && tcgetpgrp(fd) == getpgrp();

	if (fd >= 0)
		close(fd);
	return fg;
}

/*
 * The child between fork and exec: calls that are safe after fork only.
 * It dies with parent (who may be gone already); an exec that failed
 * writes its errno to errfd.
 */
static _Noreturn void child_exec(const struct run *r, pid_t parent,
                                 const char *exe, char **env, const int fds[3],
                                 const sigset_t *mask, const sigset_t *dflt)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	ssize_t n;
	int e;

	if (r->own_group)
		setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != parent)
		_exit(127); /* too late to die with it: die now */
	if (dup2(fds[0], STDOUT_FILENO) < 0 || dup2(fds[1], STDERR_FILENO) < 0)
		goto fail;
	if (r->a->cwd != NULL && chdir(r->cwd) < 0)
		goto fail;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(dflt, sig) == 1)
			sigaction(sig, &sa, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execve(exe, r->a->argv, env);
fail:
	e = errno;
	n = write(fds[2], &e, sizeof e);
	(void)n;
	_exit(127);
}

/*
 * Start the command with its stdout and stderr on pipes (whose read ends
 * go to r), in r->cwd.  Returns 0, or the exit status after saying why
 * not.
 */
static int run_spawn(struct run *r, const sigset_t *mask, const sigset_t *dflt)
{
	const struct run_args *a = r->a;
	int po[2], pe[2], ep[2], rc, e = 0;
	pid_t parent = getpid();
	const char *path;
	char exe[PATH_MAX];
	char **env = child_env(r->venv[0] ? r->venv : NULL, &path);
	ssize_t n;

	if (env == NULL)
		return fail("out of memory");
	if ((rc = find_command(a->argv[0], path, r->cwd, exe, sizeof exe)) !=
	    0) {
		child_env_free(env, r->venv[0] ? r->venv : NULL);
		return not_started(a->argv[0], rc);
	}
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		child_env_free(env, r->venv[0] ? r->venv : NULL);
		return fail("cannot make a pipe (%s)", strerror(errno));
	}
	if (getpgrp() == getpid())
		r->kill_group = getpid();
	else
		r->own_group = !terminal_foreground();
	if ((r->pid = fork()) == 0)
		child_exec(r, parent, exe, env, (int[3]){po[1], pe[1], ep[1]},
		           mask, dflt);
	if (r->pid < 0)
		e = errno;
	else if (r->own_group) {
		setpgid(r->pid, r->pid); /* before anyone signals the group */
		r->kill_group = r->pid;
	}
	child_env_free(env, r->venv[0] ? r->venv : NULL);
	close(po[1]);
	close(pe[1]);
	close(ep[1]);
	if (r->pid > 0) {
		while ((n = read(ep[0], &e, sizeof e)) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof e)
			e = 0; /* EOF: the exec happened */
		else
			waitpid(r->pid, NULL, 0);
	}
	close(ep[0]);
	if (e != 0) {
		close(po[0]);
		close(pe[0]);
		return not_started(a->argv[0], e);
	}
	r->out.fd = po[0];
	r->err.fd = pe[0];
	fcntl(po[0], F_SETFL, fcntl(po[0], F_GETFL) | O_NONBLOCK);
	fcntl(pe[0], F_SETFL, fcntl(pe[0], F_GETFL) | O_NONBLOCK);
	return 0;
}

/* ---- records ------------------------------------------------------------- */

/* One logging call; a full queue (drop mode) is counted by the library,
 * anything else here. */
static void run_write(struct run *r, const logbus_entry *e)
{
	int rc;

	if (r->pub == NULL)
		return;
	rc = logbus_write(r->pub, e);
	if (rc != LOGBUS_OK && rc != LOGBUS_EFULL) {
		r->write_failures++;
		r->write_rc = rc;
	}
}

static void send_piece(struct run *r, struct stream *st, size_t len, bool split,
                       bool more)
{
	logbus_field f[2];
	int level;

	if (st->part == 0) { /* a line's first piece: its level */
		level =
		    r->a->detect_level ? logbus_line_level(r->msg, len) : -1;
		st->line_level = level >= 0 ? level : st->level;
	}
	logbus_entry e = {
	    .level = st->line_level,
	    .stream = st->kind,
	    .logger = r->a->logger,
	    .message = r->msg,
	    .message_len = len,
	};

	if (split) {
		f[0] = LOGBUS_INT("part", ++st->part);
		f[1] = LOGBUS_BOOL("more", more);
		e.fields = f;
		e.nfields = 2;
	}
	run_write(r, &e);
}

/* A whole line (without its '\n'): one record, or pieces. */
static void send_line(struct run *r, struct stream *st, const unsigned char *s,
                      size_t n)
{
	size_t off = 0, len;
	bool full;

	do {
		off += utf8_sanitize_piece((const char *)s + off, n - off, true,
		                           r->msg, PIECE_MAX, &len, &full);
		send_piece(r, st, len, st->part > 0 || off < n, off < n);
	} while (off < n);
	st->part = 0;
}

/* The records of what st->pend holds; eof: the last bytes are a line. */
static void stream_lines(struct run *r, struct stream *st, bool eof)
{
	size_t off = 0, used, len;
	unsigned char *nl;
	bool full;

	while ((nl = memchr(st->pend + off, '\n', st->len - off)) != NULL) {
		send_line(r, st, st->pend + off, (size_t)(nl - st->pend) - off);
		off = (size_t)(nl - st->pend) + 1;
	}
	if (eof && off < st->len) {
		send_line(r, st, st->pend + off, st->len - off);
		off = st->len;
	}
	/* A line with no end yet: send its full pieces. */
	while (off < st->len) {
		used = utf8_sanitize_piece((const char *)st->pend + off,
		                           st->len - off, false, r->msg,
		                           PIECE_MAX, &len, &full);
		if (!full)
			break;
		send_piece(r, st, len, true, true);
		off += used;
	}
	memmove(st->pend, st->pend + off, st->len - off);
	st->len -= off;
}

/* ---- the loop ------------------------------------------------------------ */

/* Copy to our stdout or stderr; a reader that went away ends the copy,
 * not the recording. */
static void copy_out(struct stream *st, const unsigned char *p, size_t n)
{
	while (n > 0 && st->out_fd >= 0) {
		ssize_t w = write(st->out_fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = st->out_fd,
			                     .events = POLLOUT};
			poll(&pfd, 1, -1);
		} else if (!(w < 0 && errno == EINTR)) {
			st->out_fd = -1;
		}
	}
}

static void stream_eof(struct run *r, struct stream *st)
{
	stream_lines(r, st, true);
	close(st->fd);
	st->fd = -1;
}

static void stream_read(struct run *r, struct stream *st)
{
	ssize_t n = read(st->fd, st->pend + st->len, PEND_CAP - st->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		stream_eof(r, st);
		return;
	}
	/* the watcher's copy first: what anyone saw is in its report */
	run_watch_output(r->watch, st->kind, st->pend + st->len, (size_t)n);
	copy_out(st, st->pend + st->len, (size_t)n);
	logbus_tail_add(st->tail, st->pend + st->len, (size_t)n);
	st->len += (size_t)n;
	stream_lines(r, st, false);
	r->drain_at = 0;
}

/* How the command ended, once it has; it stays a zombie, reaped after
 * the loop (see above). */
static void peek_end(struct run *r)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (r->ended ||
	    waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid != r->pid)
		return;
	if (si.si_code == CLD_EXITED)
		r->status = W_EXITCODE(si.si_status, 0);
	else
		r->status = W_EXITCODE(0, si.si_status) |
		            (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
	r->ended = true;
	run_watch_ended(r->watch, r->status);
}

static void signals_read(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			peek_end(r);
		else if (!r->ended &&
		         (r->own_group || si.ssi_code != SI_KERNEL))
			kill(r->pid, (int)si.ssi_signo);
	}
}

static const char *ingest_path(const struct run *r, char *buf, size_t len)
{
	char dir[4096];

	snprintf(buf, len, "%s/%s",
	         run_dir_name(r->a->run_dir, dir, sizeof dir), SOCK_INGEST);
	return buf;
}

/* Nothing answered and no connection: logbusd is away. */
static bool broker_away(struct run *r)
{
	logbus_publisher_stats st;

	logbus_publisher_get_stats(r->pub, &st);
	return !st.connected && st.committed == 0 && st.rejected == 0;
}

static void reach_check(struct run *r)
{
	char path[4200];

	r->check_at = 0;
	if (r->pub == NULL || r->warned || !broker_away(r))
		return;
	warn("logbusd is not reachable at %s; the output is not being "
	     "recorded",
	     ingest_path(r, path, sizeof path));
	r->warned = true;
}

/* --time-limit ran out: SIGTERM, and SIGKILL when that is not enough. */
static void limit_reached(struct run *r, int64_t now)
{
	if (r->ended) {
		r->limit_at = 0;
		return;
	}
	kill(r->pid, r->timed_out ? SIGKILL : SIGTERM);
	r->limit_at = r->timed_out ? 0 : now + LIMIT_KILL_MS;
	r->timed_out = true;
}

/* Until both pipes are closed and the command has ended. */
static int run_loop(struct run *r)
{
	while (r->out.fd >= 0 || r->err.fd >= 0 || !r->ended) {
		struct pollfd p[3] = {{.fd = r->sigfd, .events = POLLIN},
		                      {.fd = r->out.fd, .events = POLLIN},
		                      {.fd = r->err.fd, .events = POLLIN}};
		int64_t now = monotonic_ms();
		int timeout = -1;

		if (r->ended && r->drain_at == 0)
			r->drain_at = now + DRAIN_QUIET_MS;
		if (r->ended && now >= r->drain_at) {
			/* a process left behind holds the pipes */
			if (r->out.fd >= 0)
				stream_eof(r, &r->out);
			if (r->err.fd >= 0)
				stream_eof(r, &r->err);
			break;
		}
		if (r->ended)
			timeout = (int)(r->drain_at - now);
		if (r->limit_at != 0) {
			int64_t left = r->limit_at - now;
			if (left <= 0) {
				limit_reached(r, now);
				continue;
			}
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		if (r->check_at != 0) {
			int64_t left = r->check_at - now;
			if (left <= 0) {
				reach_check(r);
				continue;
			}
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			return fail("poll: %s", strerror(errno));
		if (p[0].revents)
			signals_read(r);
		if (r->out.fd >= 0 && p[1].revents)
			stream_read(r, &r->out);
		if (r->err.fd >= 0 && p[2].revents)
			stream_read(r, &r->err);
		if (r->out.fd < 0 && r->err.fd < 0)
			peek_end(r);
	}
	return 0;
}

/* ---- the end ------------------------------------------------------------- */

/* "a b c", made UTF-8, at most CMD_TEXT_MAX bytes (malloc'd). */
static char *command_text(char **argv, int argc)
{
	size_t cap = CMD_TEXT_MAX + 8, len = 0;
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < argc && len < CMD_TEXT_MAX; i++) {
		char *arg = utf8_dup(argv[i]);
		if (arg == NULL)
			break;
		size_t n = strlen(arg);
		if (len + (i > 0) + n > CMD_TEXT_MAX) {
			free(arg);
			memcpy(s + len, i > 0 ? " ..." : "...", 5);
			len += strlen(s + len);
			break;
		}
		if (i > 0)
			s[len++] = ' ';
		memcpy(s + len, arg, n + 1);
		len += n;
		free(arg);
	}
	return s;
}

/* The command line for the exit report: UTF-8, at most ARGV_MAX bytes
 * (the report must fit in a record), then a note of what was left out. */
static char **report_argv(char **argv, int argc, size_t *n, char *note,
                          size_t notelen)
{
	char **v = calloc((size_t)argc + 1, sizeof *v);
	size_t bytes = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (bytes + l > ARGV_MAX && i > 0) {
			snprintf(note, notelen, "[... %d more arguments]",
			         argc - i);
			v[(*n)++] = note;
			break;
		}
		if ((v[*n] = utf8_dup(argv[i])) == NULL)
			break;
		bytes += strlen(v[*n]);
		(*n)++;
	}
	return v;
}

static void report_argv_free(char **v, size_t n, const char *note)
{
	for (size_t i = 0; v && i < n; i++)
		if (v[i] != note)
			free(v[i]);
	free(v);
}

int run_report_send(logbus_publisher *pub, const struct run_args *a,
                    const char *cwd, const char *venv,
                    const struct run_end *end, logbus_tail *err,
                    logbus_tail *out, int timeout_ms)
{
	char note[64];
	size_t argc = 0;
	char **argv = report_argv(a->argv, a->argc, &argc, note, sizeof note);
	char *ucwd = utf8_dup(cwd);
	char *uvenv = venv ? utf8_dup(venv) : NULL;
	logbus_exit e = {
	    .pid = end->pid,
	    .has_wait_status = 1,
	    .wait_status = end->status,
	    .argv = (const char *const *)argv,
	    .argc = argc,
	    .cwd = ucwd,
	    .venv = uvenv,
	    .stderr_tail = err,
	    .stdout_tail = out,
	    .logger = a->logger,
	    .timed_out = end->timed_out,
	    .oom_killed = end->oom_killed,
	};
	int rc = argv && ucwd && (uvenv || !venv)
	             ? logbus_report_exit(pub, &e, timeout_ms)
	             : LOGBUS_ENOMEM;

	report_argv_free(argv, argc, note);
	free(ucwd);
	free(uvenv);
	return rc;
}

/* The exit report, then the one line of anything that went wrong. */
static void run_report(struct run *r)
{
	char path[4200], err[512];
	logbus_publisher_stats st;
	int timeout = r->a->timeout_ms, rc;
	bool away = broker_away(r);

	if (away && timeout > AWAY_REPORT_MS)
		timeout = AWAY_REPORT_MS;
	if (!away) {
		/* The command is gone: waiting is harmless now, and the
		 * report must find room in a queue its output may have
		 * filled. */
		int64_t until = monotonic_ms() + timeout;
		logbus_flush(r->pub, timeout);
		timeout = until - monotonic_ms() > 1
		              ? (int)(until - monotonic_ms())
		              : 1;
	}
	struct run_end end = {
	    .pid = r->pid, .status = r->status, .timed_out = r->timed_out};
	uint64_t oom_after;
	/* The OOM killer sends SIGKILL; a count that rose meanwhile says it
	 * was its doing (or, rarely, that it met another of our cgroup's
	 * processes too). */
	end.oom_killed = r->oom_known && WIFSIGNALED(r->status) &&
	                 WTERMSIG(r->status) == SIGKILL &&
	                 logbus_oom_kill_count(&oom_after) == LOGBUS_OK &&
	                 oom_after > r->oom_before;
	rc = run_report_send(r->pub, r->a, r->cwd, r->venv[0] ? r->venv : NULL,
	                     &end, r->err.tail, r->out.tail, timeout);
	if (r->warned && rc != LOGBUS_OK)
		return; /* said already */
	ingest_path(r, path, sizeof path);
	if (rc != LOGBUS_OK && broker_away(r)) {
		warn("logbusd is not reachable at %s; the output and the exit "
		     "report were not recorded",
		     path);
		return;
	}
	if (rc != LOGBUS_OK) {
		warn("the exit report did not reach logbusd at %s: %s", path,
		     detail_or(logbus_publisher_error(r->pub, err, sizeof err),
		               rc));
		return;
	}
	logbus_publisher_get_stats(r->pub, &st);
	if (st.dropped > 0)
		warn("%" PRIu64 " lines of output were not recorded: logbusd "
		     "did not keep up",
		     st.dropped);
	else if (r->write_failures > 0)
		warn("%" PRIu64 " lines of output were not recorded: %s",
		     r->write_failures, logbus_strerror(r->write_rc));
}

static int wait_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Before the command starts: a service another user owns would have its
 * output refused, so the command would run unrecorded; say so and stop
 * instead.  A logbusd that does not answer is told later, as before. */
static int run_may_publish(const struct run_args *a)
{
	char err[512] = "";

	if (logbus_service_claim(a->run_dir, a->service, REACH_CHECK_MS, err,
	                         sizeof err) == LOGBUS_EREJECTED)
		return fail("run: %s", err);
	return 0;
}

/* The publisher, opened once the child runs, and the start record. */
static void run_publish_start(struct run *r)
{
	logbus_publisher_options po = {
	    .run_dir = r->a->run_dir,
	    .service = r->a->service,
	    .logger = r->a->logger,
	    .queue_bytes = RUN_QUEUE_BYTES,
	    .on_full = LOGBUS_ON_FULL_DROP,
	};
	char *cmd;
	int rc;

	if ((rc = logbus_publisher_open(&r->pub, &po)) != LOGBUS_OK) {
		warn("cannot record the output: %s", logbus_strerror(rc));
		r->warned = true;
		r->pub = NULL;
		return;
	}
	cmd = command_text(r->a->argv, r->a->argc);
	logbus_field f[2] = {LOGBUS_INT("pid", r->pid),
	                     LOGBUS_STR("cmd", cmd ? cmd : "")};
	rc = logbus_log_fields(r->pub, LOGBUS_INFO, NULL, f, 2,
	                       "Process started with PID: %d", (int)r->pid);
	if (rc != LOGBUS_OK && rc != LOGBUS_EFULL) {
		r->write_failures++;
		r->write_rc = rc;
	}
	free(cmd);
	r->check_at = monotonic_ms() + REACH_CHECK_MS;
}

static bool stream_init(struct stream *st, enum logbus_stream kind, int level,
                        int out_fd, size_t tail_bytes)
{
	st->fd = -1;
	st->out_fd = out_fd;
	st->kind = kind;
	st->level = level;
	st->tail = logbus_tail_new(tail_bytes);
	st->pend = malloc(PEND_CAP);
	return st->tail != NULL && st->pend != NULL;
}

static void stream_fini(struct stream *st)
{
	if (st->fd >= 0)
		close(st->fd);
	logbus_tail_free(st->tail);
	free(st->pend);
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = {
	    .stdout_level = LOGBUS_INFO,
	    .stderr_level = LOGBUS_WARNING,
	    .tail_bytes = TAIL_DEFAULT,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	    .detect_level = true,
	};
	struct run r = {.a = &a, .sigfd = -1};
	sigset_t old, dflt;
	int rc;

	if (argc > 1 && strcmp(argv[1], RUN_WATCH_ARG) == 0)
		return run_watch_main(argc - 1, argv + 1);
	if ((rc = run_parse(argc, argv, &a)) != PARSE_OK)
		return rc;
	errno = 0;
	if (!absolute_dir(a.cwd ? a.cwd : ".", r.cwd, sizeof r.cwd) ||
	    (a.venv && !absolute_dir(a.venv, r.venv, sizeof r.venv)))
		return fail("cannot tell the working directory (%s)",
		            strerror(errno ? errno : ENAMETOOLONG));
	std_fds_open();
	r.msg = malloc(PIECE_MAX);
	if (r.msg == NULL ||
	    !stream_init(&r.out, LOGBUS_STREAM_STDOUT, a.stdout_level,
	                 STDOUT_FILENO, a.tail_bytes) ||
	    !stream_init(&r.err, LOGBUS_STREAM_STDERR, a.stderr_level,
	                 STDERR_FILENO, a.tail_bytes)) {
		rc = fail("out of memory");
		goto out;
	}
	if ((r.sigfd = signals_take(&old, &dflt)) < 0) {
		rc = fail("cannot watch signals (%s)", strerror(errno));
		goto out;
	}
	r.oom_known = logbus_oom_kill_count(&r.oom_before) == LOGBUS_OK;
	if ((rc = run_may_publish(&a)) != 0 ||
	    (rc = run_spawn(&r, &old, &dflt)) != 0)
		goto out;
	if (a.time_limit_ms > 0)
		r.limit_at = monotonic_ms() + a.time_limit_ms;
	r.watch = run_watch_start(&a, r.cwd, r.venv[0] ? r.venv : NULL, r.pid,
	                          r.kill_group, &old);
	run_publish_start(&r);
	if (run_loop(&r) != 0) /* poll failed: the child still gets its due */
		kill(r.pid, SIGTERM);
	/* reaped only now that its output was read (see above) */
	while (waitpid(r.pid, &r.status, 0) < 0 && errno == EINTR)
		;
	if (r.pub != NULL) {
		run_report(&r);
		logbus_publisher_close(r.pub, 0);
	}
	run_watch_done(r.watch);
	rc = wait_code(r.status);
out:
	if (r.sigfd >= 0)
		close(r.sigfd);
	stream_fini(&r.out);
	stream_fini(&r.err);
	free(r.msg);
	return rc;
}

/* clang-format off */
const char ctl_run_help[] =
"usage: logbusctl run -s SERVICE [options] -- COMMAND [ARGS...]\n"
"\n"
"Run COMMAND as SERVICE: each line of its stdout and stderr becomes a "
"record\n"
"(stream stdout or stderr) and is copied to logbusctl's stdout or stderr "
"as it\n"
"comes; its end is published as an exit report, which logbusd keeps as\n"
"SERVICE_error.log (see logbusctl errors).  stdin is the "
"command's.\n"
"The first record is \"Process started with PID: N\" (fields pid, cmd).\n"
"\n"
"  -s, --service ID       the service (required)\n"
"  -l, --logger NAME      logger name of the records (default: the service "
"id)\n"
"      --cwd DIR          run COMMAND in DIR (default: here); the report "
"lists\n"
"                         the names in it\n"
"      --venv DIR         run in the Python venv DIR: VIRTUAL_ENV=DIR, "
"DIR/bin\n"
"                         first in PATH, PYTHONHOME unset\n"
"      --stdout-level LEVEL  level of stdout lines without their own "
"(default\n"
"                         info)\n"
"      --stderr-level LEVEL  level of stderr lines without their own "
"(default\n"
"                         warning)\n"
"      --no-detect-level  every line takes its stream's level\n"
"      --tail-bytes N     the last N bytes of each stream go into the "
"exit\n"
"                         report (default 65536)\n"
"      --time-limit SEC   stop COMMAND after SEC seconds: SIGTERM, then "
"SIGKILL\n"
"                         5 s later; the report's category is timeout\n"
"      --timeout SEC      wait this long for logbusd to take the exit "
"report\n"
"                         (default 5)\n" RUN_DIR_HELP
"  -h, --help             this text\n"
"\n"
"A line is a record without its newline; bytes that are not UTF-8 become\n"
"U+FFFD in it.  A line longer than 64 KiB is sent as several records "
"with the\n"
"fields part (1, 2, ...) and more (true on all but the last).\n"
"\n"
"A line keeps its own level when it starts like Python logging, uvicorn or\n"
"gunicorn output: LEVEL:, [LEVEL], TIME [LEVEL], TIME LEVEL, TIME - LEVEL "
"-,\n"
"TIME - NAME - LEVEL -, or [TIME] [PID] [LEVEL]; LEVEL is DEBUG, INFO, "
"WARNING\n"
"(or WARN), ERROR, CRITICAL (or FATAL) in capitals, TIME like 2026-12-06\n"
"10:00:00,123.  Nothing may come before it; the line is recorded as it "
"is.\n"
"\n"
"SIGINT, SIGTERM and SIGHUP are passed on to COMMAND (unless the terminal sent\n"
"them to it already).  Once COMMAND ended, its pipes are read until they close,\n"
"or until they stay quiet for 0.5 s (a process it left running may hold them).\n"
"When logbusd is not reachable, COMMAND runs all the same and one line says\n"
"that its output is not recorded; records are dropped rather than ever stalling\n"
"COMMAND.\n"
"\n"
"COMMAND dies with logbusctl, even when logbusctl is killed with SIGKILL: "
"a\n"
"watcher process started beside it then kills COMMAND (and its process "
"group,\n"
"unless logbusctl runs in the foreground of a terminal) and publishes the "
"exit\n"
"report, whose last stderr line says that logbusctl run was killed.\n"
"\n"
"The exit report names the error category of a failure (dependency, port,\n"
"permission, memory, timeout, config, crash, signal, exit: the README's "
"table),\n"
"also the exit record's field error_category (logbusctl tail -F\n"
"error_category=port).  memory after SIGKILL: when the OOM kill count of\n"
"logbusctl's cgroup (memory.events, or v1's memory.oom_control) rose "
"meanwhile.\n"
"\n"
"Exit status: COMMAND's, or 128+N when a signal N killed it; 127 COMMAND "
"not\n"
"found, 126 not executable; 2 bad arguments; 1 logbusctl failed before "
"COMMAND\n"
"ran, e.g. SERVICE belongs to another user (logbusd's [owners] can "
"assign it).\n";
/* clang-format on */
