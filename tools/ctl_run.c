/*
 * ctl_run.c: `logbusctl run`, a supervisor for one command.  The command's
 * stdout and stderr become records of a service, line by line, and still
 * reach our own stdout and stderr as they come; its end becomes an exit
 * report, from which logbusd writes <service>_error.log.
 *
 * How it is built, and why:
 *  - the child is started with posix_spawn before the publisher exists:
 *    nng is not fork-safe, and posix_spawn's child does nothing but its
 *    file actions (dup2, chdir) and exec.  No library handle is open at
 *    that moment, so no descriptor of ours can leak into the command;
 *  - SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked and read from a
 *    signalfd in the same poll(2) as the two pipes: no handler, no race
 *    between a signal and the loop.  The child gets back the mask and the
 *    dispositions we were started with (SIGPIPE default again).  A signal
 *    the terminal sent (si_code SI_KERNEL) reached the child by itself, as
 *    it is in our process group, so only the others are forwarded;
 *  - the publisher drops records rather than block when its queue is full:
 *    a broker that is slow or away never stalls the command.  Whether
 *    logbusd answers is looked at once, REACH_CHECK_MS after the start,
 *    without waiting; if not, one line says the output is not recorded;
 *  - a line is a record (without its '\n'); bytes that are not UTF-8
 *    become U+FFFD in the record, the terminal gets them as they were.  A
 *    line longer than PIECE_MAX bytes of text goes out as pieces carrying
 *    the fields part (1, 2, ...) and more (true but on the last), cut
 *    between characters; the pieces of a line without an end are sent as
 *    they fill, so memory stays bounded whatever the command writes;
 *  - after the child was reaped, the pipes are read until EOF or until
 *    they stay quiet for DRAIN_QUIET_MS: a background process the command
 *    left behind may hold them open for ever.
 *
 * Exit status: the command's (128 + N when killed by signal N); 127 when
 * the command is not found, 126 when it cannot be executed; 2 for a wrong
 * command line, 1 when logbusctl itself fails before the command runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "args.h"
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
};

struct run_args {
	char *run_dir;
	const char *service;
	const char *logger; /* NULL: the service id */
	const char *cwd;    /* as given; NULL: ours */
	const char *venv;
	int stdout_level, stderr_level;
	size_t tail_bytes;
	int timeout_ms;
	char **argv; /* the command, NULL-terminated */
	int argc;
};

/* One of the child's output streams. */
struct stream {
	int fd;     /* read end of the pipe; -1 at EOF */
	int out_fd; /* where it is copied (1 or 2); -1 once that failed */
	enum logbus_stream kind;
	int level;
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
	int status;
	bool reaped;
	int sigfd;
	int64_t check_at; /* ms: when to look whether logbusd answered */
	int64_t drain_at; /* ms: when to stop reading after the child died */
	bool warned;      /* the line saying logbusd is away was printed */
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

/*
 * Start the command with its stdout and stderr on pipes (whose read ends
 * go to r), in r->cwd.  Returns 0, or the exit status after saying why
 * not.
 */
static int run_spawn(struct run *r, const sigset_t *mask, const sigset_t *dflt)
{
	const struct run_args *a = r->a;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int po[2], pe[2], rc;
	const char *path;
	char exe[PATH_MAX];
	char **env = child_env(r->venv[0] ? r->venv : NULL, &path);

	if (env == NULL)
		return fail("out of memory");
	if ((rc = find_command(a->argv[0], path, r->cwd, exe, sizeof exe)) !=
	    0) {
		child_env_free(env, r->venv[0] ? r->venv : NULL);
		return not_started(a->argv[0], rc);
	}
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		child_env_free(env, r->venv[0] ? r->venv : NULL);
		return fail("cannot make a pipe (%s)", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
	if (a->cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, r->cwd);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, mask);
	posix_spawnattr_setsigdefault(&attr, dflt);
	rc = posix_spawn(&r->pid, exe, &fa, &attr, a->argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	child_env_free(env, r->venv[0] ? r->venv : NULL);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		return not_started(a->argv[0], rc);
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
	logbus_entry e = {
	    .level = st->level,
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
	copy_out(st, st->pend + st->len, (size_t)n);
	logbus_tail_add(st->tail, st->pend + st->len, (size_t)n);
	st->len += (size_t)n;
	stream_lines(r, st, false);
	r->drain_at = 0;
}

static void reap(struct run *r)
{
	int status;

	if (!r->reaped && waitpid(r->pid, &status, WNOHANG) == r->pid) {
		r->status = status;
		r->reaped = true;
	}
}

static void signals_read(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			reap(r);
		else if (!r->reaped && si.ssi_code != SI_KERNEL)
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

/* Until both pipes are closed and the child is reaped. */
static int run_loop(struct run *r)
{
	while (r->out.fd >= 0 || r->err.fd >= 0 || !r->reaped) {
		struct pollfd p[3] = {{.fd = r->sigfd, .events = POLLIN},
		                      {.fd = r->out.fd, .events = POLLIN},
		                      {.fd = r->err.fd, .events = POLLIN}};
		int64_t now = monotonic_ms();
		int timeout = -1;

		if (r->reaped && r->drain_at == 0)
			r->drain_at = now + DRAIN_QUIET_MS;
		if (r->reaped && now >= r->drain_at) {
			/* a process left behind holds the pipes */
			if (r->out.fd >= 0)
				stream_eof(r, &r->out);
			if (r->err.fd >= 0)
				stream_eof(r, &r->err);
			break;
		}
		if (r->reaped)
			timeout = (int)(r->drain_at - now);
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
			reap(r);
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

/* The exit report, then the one line of anything that went wrong. */
static void run_report(struct run *r)
{
	char note[64], path[4200], err[512];
	size_t argc = 0;
	char **argv =
	    report_argv(r->a->argv, r->a->argc, &argc, note, sizeof note);
	char *cwd = utf8_dup(r->cwd);
	char *venv = r->venv[0] ? utf8_dup(r->venv) : NULL;
	logbus_exit e = {
	    .pid = r->pid,
	    .has_wait_status = 1,
	    .wait_status = r->status,
	    .argv = (const char *const *)argv,
	    .argc = argc,
	    .cwd = cwd,
	    .venv = venv,
	    .stderr_tail = r->err.tail,
	    .stdout_tail = r->out.tail,
	    .logger = r->a->logger,
	};
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
	rc = argv && cwd && (venv || !r->venv[0])
	         ? logbus_report_exit(r->pub, &e, timeout)
	         : LOGBUS_ENOMEM;
	report_argv_free(argv, argc, note);
	free(cwd);
	free(venv);
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
	};
	struct run r = {.a = &a, .sigfd = -1};
	sigset_t old, dflt;
	int rc;

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
	if ((rc = run_spawn(&r, &old, &dflt)) != 0)
		goto out;
	run_publish_start(&r);
	if ((rc = run_loop(&r)) != 0) {
		/* poll failed: the child still gets what it is owed */
		kill(r.pid, SIGTERM);
		waitpid(r.pid, &r.status, 0);
		r.reaped = true;
	}
	if (r.pub != NULL) {
		run_report(&r);
		logbus_publisher_close(r.pub, 0);
	}
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
"      --stdout-level LEVEL  level of stdout lines (default info)\n"
"      --stderr-level LEVEL  level of stderr lines (default warning)\n"
"      --tail-bytes N     the last N bytes of each stream go into the "
"exit\n"
"                         report (default 65536)\n"
"      --timeout SEC      wait this long for logbusd to take the exit "
"report\n"
"                         (default 5)\n" RUN_DIR_HELP
"  -h, --help             this text\n"
"\n"
"A line is a record without its newline; bytes that are not UTF-8 become\n"
"U+FFFD in it.  A line longer than 64 KiB is sent as several records "
"with the\n"
"fields part (1, 2, ...) and more (true on all but the last).  SIGINT, "
"SIGTERM\n"
"and SIGHUP are passed on to COMMAND (unless the terminal sent them to it\n"
"already).  Once COMMAND ended, its pipes are read until they close, or "
"until\n"
"they stay quiet for 0.5 s (a process it left running may hold them).  "
"When\n"
"logbusd is not reachable, COMMAND runs all the same and one line says "
"that its\n"
"output is not recorded; records are dropped rather than ever stalling "
"COMMAND.\n"
"\n"
"Exit status: COMMAND's, or 128+N when a signal N killed it; 127 COMMAND "
"not\n"
"found, 126 not executable; 2 bad arguments; 1 logbusctl failed before "
"COMMAND\n"
"ran.\n";
/* clang-format on */
