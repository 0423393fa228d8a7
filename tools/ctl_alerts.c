/*
 * ctl_alerts.c: `logbusctl alerts` (the alert rules logbusd runs: position,
 * actions, what is held back) and `logbusctl alerts test RULE` (one test
 * action, waited for and its outcome printed).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <logbus/logbus.h>

#include "logbusctl.h"

#define TEST_WAIT_MS 120000 /* a webhook's retries take a while */

static void rules_text(const logbus_alert_info *v, size_t n, uint64_t last)
{
	char when[32];

	printf("%-16s %-8s %12s %7s %6s %7s  %-19s  %s\n", "RULE", "ACTION",
	       "POSITION", "BEHIND", "FIRED", "HELD", "LAST ACTION",
	       "LAST RESULT");
	for (size_t i = 0; i < n; i++) {
		const logbus_alert_info *a = &v[i];
		if (a->last_fired_ns)
			local_time_text(a->last_fired_ns, when, sizeof when);
		else
			snprintf(when, sizeof when, "-");
		printf(
		    "%-16s %-8s %12llu %7llu %6llu %7llu  %-19s  %s\n", a->name,
		    a->action, (unsigned long long)a->position,
		    (unsigned long long)(last > a->position ? last - a->position
		                                            : 0),
		    (unsigned long long)a->fired, (unsigned long long)a->held,
		    when, a->last_result[0] ? a->last_result : "-");
		printf("%-16s %s\n", "", a->rule);
	}
}

static int list(const char *run_dir)
{
	logbus_alert_info *v;
	size_t n;
	uint64_t last = 0;
	char err[512] = "";
	int rc = logbus_alerts(run_dir, &v, &n, &last, err, sizeof err);

	if (rc != LOGBUS_OK)
		return admin_failed("cannot list alert rules", run_dir, rc,
		                    err);
	if (n == 0)
		puts("no alert rules (add [alert NAME] sections to "
		     "logbusd.conf and reload)");
	else
		rules_text(v, n, last);
	logbus_alerts_free(v);
	return 0;
}

/* The rule's state now: 0, or the exit status of a failure said. */
static int find_rule(const char *run_dir, const char *name,
                     logbus_alert_info *out)
{
	logbus_alert_info *v;
	size_t n;
	char err[512] = "";
	int rc = logbus_alerts(run_dir, &v, &n, NULL, err, sizeof err);

	if (rc != LOGBUS_OK)
		return admin_failed("cannot read alert rules", run_dir, rc,
		                    err);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(v[i].name, name) == 0) {
			*out = v[i];
			found = true;
		}
	logbus_alerts_free(v);
	if (!found)
		return fail("no alert rule '%s' (logbusctl alerts lists them)",
		            name);
	return 0;
}

static int test(const char *run_dir, const char *name)
{
	logbus_alert_info before, now;
	uint64_t tests = 0;
	char err[512] = "";
	int rc;

	if ((rc = find_rule(run_dir, name, &before)) != 0)
		return rc;
	rc = logbus_alert_test(run_dir, name, &tests, err, sizeof err);
	if (rc == LOGBUS_ENOTFOUND)
		return fail("%s", err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot ask for a test action", run_dir, rc,
		                    err);
	for (int waited = 0; waited < TEST_WAIT_MS; waited += 100) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if ((rc = find_rule(run_dir, name, &now)) != 0)
			return rc;
		if (now.tests > tests) {
			printf("%s\n", now.last_result);
			return now.failed > before.failed ? EXIT_FAIL : 0;
		}
	}
	return fail("the test action of '%s' did not end within %d s; it is "
	            "queued behind the rule's work (logbusctl alerts)",
	            name, TEST_WAIT_MS / 1000);
}

int cmd_alerts(int argc, char **argv)
{
	char *run_dir = NULL;
	int rc;

	if ((rc = common_options_only(argc, argv, &run_dir)) != PARSE_OK)
		return rc;
	if (optind >= argc)
		return list(run_dir);
	if (strcmp(argv[optind], "test") != 0)
		return usage_error(argv[0],
		                   "unknown word '%s': alerts, or "
		                   "alerts test RULE",
		                   argv[optind]);
	if (argc - optind != 2)
		return usage_error(argv[0], "alerts test needs one RULE");
	return test(run_dir, argv[optind + 1]);
}

/* clang-format off */
const char ctl_alerts_help[] =
"usage: logbusctl alerts [options]\n"
"       logbusctl alerts test RULE [options]\n"
"\n"
"The alert rules logbusd runs ([alert NAME] in logbusd.conf): each with its\n"
"action (exec, webhook, or journal: a logbus.alert record only), its\n"
"position (the last record it is done with) and how far it is behind the\n"
"journal, the actions since logbusd started, the matches held back now by\n"
"its interval, and its last action and how that went; then its keys.\n"
"\n"
"alerts test RULE runs RULE's action once for a made-up record (service\n"
"logbusd, logger logbus.alert, event \"test\"), after what the rule is\n"
"doing, waits for it and prints how it went.\n"
"\n" RUN_DIR_HELP "  -h, --help             this text\n"
"\n"
"For root, logbusd's user and the reader group.\n"
"Exit status: 0 done (the test action succeeded); 1 logbusd not\n"
"reachable, no such rule, or the test action failed; 2 bad arguments.\n";
/* clang-format on */
