/*
 * syslog_sender.c: logbus-syslog-sender, the rsyslog side of
 * tools/bench/compare.sh.
 *
 *   logbus-syslog-sender SOCKET RECORDS SIZE FILE [WAIT_S]
 *
 * Sends RECORDS syslog datagrams ("<14>Nov 22 10:00:00 bench[PID]: " and a
 * SIZE-byte message, as syslog(3) writes them) to the unix datagram socket
 * SOCKET as fast as it takes them (blocking send: when the daemon's socket
 * buffer is full the sender waits, it never drops), while a second thread
 * counts the lines that appear in FILE, the daemon's output.  Counting ends
 * when FILE has RECORDS lines, or has not grown for 2 s, or WAIT_S (default
 * 120) seconds after the last send.  The time is from the first send to the
 * last line seen on disk.  Prints one JSON object: records sent, lines
 * counted, lost (sent minus lines), seconds and lines per second.  FILE
 * "-": nothing is counted (lines -1), the time is the sending's (for a
 * daemon whose output is not text, e.g. journald: the caller counts).
 *
 * Exit status: 0 measured (lost lines are a result, not a failure), 1 the
 * socket or the file failed, 2 bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define QUIET_NS    (2 * 1000000000LL) /* no growth: the daemon is done */
#define POLL_NS     (2 * 1000000LL)
#define MAX_SIZE    8000 /* rsyslog's default maximum message is 8 KiB */
#define MAX_RECORDS 1000000000L

struct counter {
	const char *path;
	long want;
	atomic_bool sent_all;
	atomic_llong sent_end_ns; /* CLOCK_MONOTONIC after the last send */
	int64_t wait_ns;
	long lines;
	int64_t last_growth_ns;
	int error;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL,
	                      .tv_nsec = ns % 1000000000LL};

	nanosleep(&ts, NULL);
}

/* Reads FILE as it grows; stops as the header comment says. */
static void *counter_main(void *arg)
{
	struct counter *c = arg;
	char buf[65536];
	int fd = -1;

	c->last_growth_ns = now_ns();
	for (;;) {
		if (fd < 0)
			fd = open(c->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t got;
			bool grew = false;
			while ((got = read(fd, buf, sizeof buf)) > 0) {
				for (char *p = buf;
				     (p = memchr(p, '\n',
				                 (size_t)got -
				                     (size_t)(p - buf)));
				     p++)
					c->lines++;
				grew = true;
			}
			if (got < 0) {
				c->error = errno;
				break;
			}
			if (grew)
				c->last_growth_ns = now_ns();
		}
		if (c->lines >= c->want)
			break;
		if (atomic_load(&c->sent_all)) {
			int64_t t = now_ns(),
			        end = atomic_load(&c->sent_end_ns);
			int64_t last =
			    c->last_growth_ns > end ? c->last_growth_ns : end;
			if (t - last > QUIET_NS || t - end > c->wait_ns)
				break;
		}
		nap(POLL_NS);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static bool parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int usage(void)
{
	fprintf(stderr, "usage: logbus-syslog-sender SOCKET RECORDS SIZE FILE "
	                "[WAIT_S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct counter c = {0};
	long records, size, wait_s = 120, sent = 0;
	char msg[MAX_SIZE + 128];
	size_t head = 0;
	time_t stamped = (time_t)-1;
	pthread_t th;
	int fd, rv;

	if (argc < 5 || argc > 6 ||
	    !parse_num(argv[2], 1, MAX_RECORDS, &records) ||
	    !parse_num(argv[3], 1, MAX_SIZE, &size) ||
	    (argc == 6 && !parse_num(argv[5], 1, 86400, &wait_s)))
		return usage();
	if (strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr,
		        "logbus-syslog-sender: socket path too long: %s\n",
		        argv[1]);
		return 1;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr,
		        "logbus-syslog-sender: cannot connect to %s (%s): is "
		        "the daemon listening there?\n",
		        argv[1], strerror(errno));
		return 1;
	}
	c.path = argv[4];
	c.want = records;
	c.wait_ns = wait_s * 1000000000LL;
	atomic_init(&c.sent_all, false);
	atomic_init(&c.sent_end_ns, 0);
	bool counting = strcmp(c.path, "-") != 0;
	if (counting &&
	    (rv = pthread_create(&th, NULL, counter_main, &c)) != 0) {
		fprintf(stderr,
		        "logbus-syslog-sender: cannot start a thread "
		        "(%s)\n",
		        strerror(rv));
		return 1;
	}

	int64_t t0 = now_ns();
	for (; sent < records; sent++) {
		time_t t = time(NULL);
		if (t != stamped) { /* the header changes once a second */
			struct tm tm;
			char stamp[32];
			localtime_r(&t, &tm);
			strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
			head = (size_t)snprintf(msg, sizeof msg,
			                        "<14>%s bench[%ld]: ", stamp,
			                        (long)getpid());
			for (long i = 0; i < size; i++)
				msg[head + (size_t)i] = (char)('a' + (i % 26));
			stamped = t;
		}
		while (send(fd, msg, head + (size_t)size, 0) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EAGAIN) {
				nap(100000);
				continue;
			}
			fprintf(stderr,
			        "logbus-syslog-sender: send to %s failed after "
			        "%ld records (%s)\n",
			        argv[1], sent, strerror(errno));
			goto sent;
		}
	}
sent:
	atomic_store(&c.sent_end_ns, now_ns());
	atomic_store(&c.sent_all, true);
	if (counting) {
		pthread_join(th, NULL);
	} else {
		c.lines = -1;
		c.last_growth_ns = atomic_load(&c.sent_end_ns);
	}
	close(fd);
	if (c.error != 0) {
		fprintf(stderr, "logbus-syslog-sender: cannot read %s (%s)\n",
		        c.path, strerror(c.error));
		return 1;
	}
	double secs = (double)(c.last_growth_ns - t0) / 1e9;
	printf("{\"sent\":%ld,\"lines\":%ld,\"lost\":%ld,\"seconds\":%.6f,"
	       "\"records_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
	       sent, c.lines, counting ? sent - c.lines : 0, secs,
	       secs > 0 ? (double)(counting ? c.lines : sent) / secs : 0.0,
	       secs > 0 ? (double)(counting ? c.lines : sent) * (double)size /
	                      secs / 1e6
	                : 0.0);
	return fflush(stdout) == 0 ? 0 : 1;
}
