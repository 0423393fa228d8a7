/*
 * fuzz_config.c: logbusd's configuration file, any bytes, through
 * config_build (inih, every setting's parser and range, the routes'
 * checks), then, for a file that builds, the access settings' names looked
 * up (access_resolve) and a reload's comparison against the defaults both
 * ways (config_apply_reloadable).  A file that does not build must say why.
 *
 * Input: the file's bytes.
 */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	struct broker_config cfg, defaults;
	struct access_config ac;
	char err[1024], note[1024];

	if (path[0] == '\0')
		snprintf(path, sizeof path, "%s/logbusd.conf", fuzz_dir());
	fuzz_write_file(path, data, size);
	struct config_source src = {.path = path, .path_explicit = true};
	struct config_source none = {0};
	err[0] = '\0';
	int rv = config_build(&cfg, &src, err, sizeof err);
	if (rv < 0 && err[0] == '\0')
		fuzz_fail("config_build refused a file without saying why");
	if (rv == 0) {
		(void)access_resolve(&cfg, &ac, err, sizeof err);
		if (config_build(&defaults, &none, err, sizeof err) < 0)
			fuzz_fail("the defaults do not build: %s", err);
		struct broker_config running = defaults;
		(void)config_apply_reloadable(&running, &cfg, note,
		                              sizeof note);
		running = cfg;
		(void)config_apply_reloadable(&running, &defaults, note,
		                              sizeof note);
		config_fini(&defaults);
	}
	config_fini(&cfg);
	return 0;
}
