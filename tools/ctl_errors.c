/*
 * ctl_errors.c: `logbusctl errors`, the per-service error reports logbusd
 * keeps (<service>_error.log): the list of them, the newest last, or one
 * service's latest report exactly as stored (and with --all the one
 * before it).  logbusd writes reports with control characters escaped; one
 * an older logbusd wrote may hold them raw, so on a terminal a report is
 * escaped again (which leaves an escaped one as it is).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "logbusctl.h"
#include "textline.h"

struct errors_args {
	char *run_dir;
	const char *service; /* NULL: list the services with a report */
	bool all, json;
};

static int errors_parse(int argc, char **argv, struct errors_args *a)
{
	static const struct option longopts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"output", required_argument, NULL, 'o'},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int c, rc;

	while ((c = command_getopt(argc, argv, ":ao:h", longopts, &a->run_dir,
	                           NULL, &rc)) != -1) {
		switch (c) {
		case OPT_STOP:
			return rc;
		case 'a':
			a->all = true;
			break;
		case 'o':
			if ((rc = output_text_or_json(argv[0], optarg,
			                              &a->json)) != PARSE_OK)
				return rc;
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	if (argc - optind > 1)
		return usage_error(argv[0], "one SERVICE only, got %d",
		                   argc - optind);
	if (optind < argc) {
		a->service = argv[optind];
		if ((rc = service_arg(argv[0], a->service)) != PARSE_OK)
			return rc;
	}
	if (a->all && a->service == NULL)
		return usage_error(argv[0], "--all needs a SERVICE");
	if (a->json && a->service != NULL)
		return usage_error(argv[0], "-o json is for the list of "
		                            "reports: give no SERVICE");
	return PARSE_OK;
}

static int report_info_cmp(const void *x, const void *y)
{
	const logbus_report_info *a = x, *b = y;

	if (a->written_ns != b->written_ns)
		return a->written_ns < b->written_ns ? -1 : 1;
	return strcmp(a->service, b->service);
}

/* One line per service with a report, the newest last. */
static int errors_list(const struct errors_args *a)
{
	logbus_report_info *v;
	char err[512] = "", when[64];
	size_t n, wsvc = 0, wsize = 0, wcat = 1;
	int rc;

	rc = logbus_error_reports(a->run_dir, &v, &n, err, sizeof err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot list error reports", a->run_dir, rc,
		                    err);
	qsort(v, n, sizeof *v, report_info_cmp);
	for (size_t i = 0; i < n; i++) {
		char size[32];
		size_t l = strlen(v[i].service);
		if (l > wsvc)
			wsvc = l;
		l = (size_t)snprintf(size, sizeof size, "%" PRIu64, v[i].size);
		if (l > wsize)
			wsize = l;
		if (strlen(v[i].category) > wcat)
			wcat = strlen(v[i].category);
	}
	if (n == 0 && !a->json)
		printf("no error reports\n");
	for (size_t i = 0; i < n; i++) {
		if (a->json) {
			logbus_format_time(v[i].written_ns, LOGBUS_TIME_RFC3339,
			                   when, sizeof when);
			/* service ids need no escaping: [A-Za-z0-9._-] */
			/* and categories are [a-z] */
			printf("{\"service\":\"%s\",\"written\":\"%s\","
			       "\"size\":%" PRIu64 ",\"kept\":%d,\"category\":",
			       v[i].service, when, v[i].size, v[i].kept);
			printf(v[i].category[0] ? "\"%s\"}\n" : "null}\n",
			       v[i].category);
		} else {
			local_time_text(v[i].written_ns, when, sizeof when);
			printf("%-*s  %s  %*" PRIu64 "  %-*s  (%d kept)\n",
			       (int)wsvc, v[i].service, when, (int)wsize,
			       v[i].size, (int)wcat,
			       v[i].category[0] ? v[i].category : "-",
			       v[i].kept);
		}
	}
	free(v);
	return out_flush() == OUT_ERROR ? EXIT_FAIL : 0;
}

/* A report's text on stdout: as stored, or on a terminal with control
 * characters escaped. */
static enum out_result report_write(const char *text, size_t len)
{
	struct strbuf b = {0};
	enum out_result o;

	if (!isatty(STDOUT_FILENO))
		return out_write(text, len);
	textline_escape(&b, text, len, "", false);
	if (b.failed) {
		sb_free(&b);
		fail("out of memory");
		return OUT_ERROR;
	}
	o = out_write(b.p ? b.p : "", b.len);
	sb_free(&b);
	return o;
}

/* A service's report as stored; with --all the one before it too. */
static int errors_show(const struct errors_args *a)
{
	char err[512] = "", when[64], *text;
	size_t len;
	int64_t written;
	enum out_result o;
	int rc;

	rc = logbus_error_report(a->run_dir, a->service, 0, &text, &len,
	                         &written, err, sizeof err);
	if (rc == LOGBUS_ENOTFOUND)
		return fail("no error report for service %s", a->service);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot read the error report", a->run_dir,
		                    rc, err);
	o = report_write(text, len);
	free(text);
	if (o == OUT_OK && a->all) {
		err[0] = '\0';
		rc = logbus_error_report(a->run_dir, a->service, 1, &text, &len,
		                         &written, err, sizeof err);
		if (rc == LOGBUS_ENOTFOUND)
			return out_flush() == OUT_ERROR ? EXIT_FAIL : 0;
		if (rc != LOGBUS_OK) {
			out_flush();
			return admin_failed("cannot read the previous error "
			                    "report",
			                    a->run_dir, rc, err);
		}
		local_time_text(written, when, sizeof when);
		printf("==== previous report (written %s) ====\n", when);
		o = report_write(text, len);
		free(text);
	}
	if (o == OUT_OK)
		o = out_flush();
	return o == OUT_ERROR ? EXIT_FAIL : 0;
}

int cmd_errors(int argc, char **argv)
{
	struct errors_args a = {0};
	int rc;

	if ((rc = errors_parse(argc, argv, &a)) != PARSE_OK)
		return rc;
	return a.service ? errors_show(&a) : errors_list(&a);
}

/* clang-format off */
const char ctl_errors_help[] =
"usage: logbusctl errors [options]\n"
"       logbusctl errors [options] SERVICE\n"
"\n"
"Without SERVICE, one line per service with an error report, the "
"newest\n"
"last: SERVICE  WRITTEN (local time)  SIZE (bytes)  CATEGORY  (N "
"kept), or\n"
"\"no error reports\"; CATEGORY is the latest report's error category\n"
"(dependency, port, permission, memory, timeout, config, crash, signal, "
"exit;\n"
"- for none).  With SERVICE, its latest report "
"(SERVICE_error.log in\n"
"logbusd's log directory) exactly as stored (on a terminal, with control\n"
"characters escaped).\n"
"\n"
"  -a, --all              with SERVICE: the latest report, then the "
"previous\n"
"                         one after a line \"==== previous report "
"(written\n"
"                         TIME) ====\"\n"
"  -o, --output FORMAT    text (default) or json for the list: an "
"object per\n"
"                         line with service, written (RFC 3339), "
"size, kept,\n"
"                         category (null for none)\n" RUN_DIR_HELP "  -h, --help             this text\n"
"\n"
"Exit status: 0 done; 1 no report for SERVICE, or logbusd not "
"reachable; 2\n"
"bad arguments.\n";
/* clang-format on */
