/*
 * ctl_rotate.c: `logbusctl rotate`, logbusd's SIGHUP by request: every file
 * it writes is closed and opened again (after logrotate moved them), and
 * we print how many.
 */
#include <stdio.h>

#include <logbus/logbus.h>

#include "logbusctl.h"

int cmd_rotate(int argc, char **argv)
{
	char *run_dir = NULL, err[512] = "";
	unsigned files = 0;
	int rc;

	if ((rc = common_options_only(argc, argv, &run_dir)) != PARSE_OK ||
	    (rc = no_arguments(argc, argv)) != PARSE_OK)
		return rc;
	rc = logbus_rotate(run_dir, &files, err, sizeof err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot make logbusd reopen its files",
		                    run_dir, rc, err);
	printf("reopened %u file%s\n", files, files == 1 ? "" : "s");
	return 0;
}

/* clang-format off */
const char ctl_rotate_help[] =
"usage: logbusctl rotate [options]\n"
"\n"
"Make logbusd close and reopen every file it writes (after logrotate "
"moved\n"
"them; the same as SIGHUP) and print \"reopened N files\".\n"
"\n" RUN_DIR_HELP "  -h, --help             this text\n"
"\n"
"Exit status: 0 done; 1 logbusd not reachable or it failed; 2 bad "
"arguments.\n";
/* clang-format on */
