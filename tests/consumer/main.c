/*
 * A program outside the tree, built against the installed header and
 * library by tests/test_install.sh (pkg-config and find_package, shared
 * and static).  Without arguments it makes calls that need no broker;
 * with RUN_DIR MESSAGE it also publishes MESSAGE as service "consumer" to
 * the broker at RUN_DIR, waits for the acknowledgement and reads the
 * record back through a filter with a regular expression: the publisher,
 * the reader, the record codec, nng, msgpack-c and PCRE2 all take part.
 */
#include <stdio.h>
#include <string.h>

#include <logbus/logbus.h>

static int publish(const char *run_dir, const char *message)
{
	logbus_publisher_options o = {.run_dir = run_dir,
	                              .service = "consumer"};
	logbus_publisher *p;

	int rv = logbus_publisher_open(&p, &o);
	if (rv != LOGBUS_OK) {
		fprintf(stderr, "consumer: cannot open a publisher on %s: %s\n",
		        run_dir, logbus_strerror(rv));
		return 1;
	}
	rv = logbus_log(p, LOGBUS_INFO, "%s", message);
	if (rv == LOGBUS_OK)
		rv = logbus_publisher_close(p, 30000);
	else
		logbus_publisher_close(p, 0);
	if (rv != LOGBUS_OK) {
		fprintf(stderr, "consumer: publishing to %s failed: %s\n",
		        run_dir, logbus_strerror(rv));
		return 1;
	}
	return 0;
}

/* MESSAGE is read back once from the journal: "^MESSAGE$" as the filter. */
static int read_back(const char *run_dir, const char *message)
{
	const char *svc[] = {"consumer"};
	char regex[256], err[256] = "";
	logbus_reader_options o = {
	    .run_dir = run_dir,
	    .start = LOGBUS_START_HEAD,
	    .filter = {.services = svc, .nservices = 1, .message_regex = regex},
	    .timeout_ms = 30000,
	    .error = err,
	    .error_len = sizeof err};
	const logbus_record *rec;
	logbus_reader *r;
	int rv, n = 0;

	snprintf(regex, sizeof regex, "^%s$", message);
	rv = logbus_reader_open(&r, &o);
	if (rv != LOGBUS_OK) {
		fprintf(stderr, "consumer: cannot open a reader on %s: %s\n",
		        run_dir, err);
		return 1;
	}
	while ((rv = logbus_reader_next(r, &rec, 30000)) == 1)
		n += strcmp(rec->message, message) == 0;
	if (rv < 0)
		fprintf(stderr, "consumer: reading %s failed: %s\n", run_dir,
		        logbus_reader_error(r));
	logbus_reader_close(r);
	if (rv == 0 && n != 1)
		fprintf(stderr, "consumer: \"%s\" read back %d times\n",
		        message, n);
	return rv == 0 && n == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	char buf[16];

	printf("%s %s\n", LOGBUS_VERSION_STRING,
	       logbus_level_name(logbus_level_parse("warn"), buf, sizeof buf));
	if (logbus_service_valid("../x") != LOGBUS_EINVAL)
		return 1;
	if (argc == 3)
		return publish(argv[1], argv[2]) || read_back(argv[1], argv[2]);
	return argc == 1 ? 0 : 2;
}
