/*
 * http_config.c: logbus-http's settings: defaults, then the configuration
 * file (INI, as logbusd's: `[section]`, `key = value`, `#` and `;`
 * comments, one setting per line), then the command line, which wins.
 * The file is --config FILE (which must exist), else SYSCONFDIR/logbus/
 * logbus-http.conf when it exists.  An unknown section or key, or a value
 * that does not read, stops the start naming the file, the line and why.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "http.h"
#include "size.h"

#ifndef LOGBUS_SYSCONFDIR
#define LOGBUS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG LOGBUS_SYSCONFDIR "/logbus/logbus-http.conf"

enum kind { K_PATH, K_COUNT, K_SIZE };

static const struct setting {
	const char *section, *key;
	enum kind kind;
	size_t off, size;
	unsigned long min, max;
} settings[] = {
#define PATH(s, k, f)                                                          \
	{                                                                      \
		s, k, K_PATH, offsetof(struct http_config, f),                 \
		    sizeof(((struct http_config *)0)->f), 0, 0                 \
	}
#define COUNT(s, k, f, lo, hi)                                                 \
	{                                                                      \
		s, k, K_COUNT, offsetof(struct http_config, f), 0, lo, hi      \
	}
    PATH("http", "run-dir", run_dir),
    PATH("http", "listen", listen),
    PATH("http", "tokens", tokens_file),
    COUNT("limits", "max-streams", max_streams, 1, 100000),
    COUNT("limits", "max-connections", max_connections, 2, 100000),
    COUNT("limits", "stall-timeout", stall_timeout_s, 1, 3600),
    COUNT("limits", "heartbeat", heartbeat_s, 1, 3600),
    COUNT("limits", "idle-timeout", idle_timeout_s, 1, 3600),
    {"limits", "stream-buffer", K_SIZE,
     offsetof(struct http_config, stream_buffer), 0, 4096, 16 << 20},
    COUNT("limits", "json-max-records", json_max_records, 1, 1000000),
#undef PATH
#undef COUNT
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

static void config_defaults(struct http_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->listen, sizeof cfg->listen, "%s", HTTP_DEFAULT_LISTEN);
	cfg->max_streams = 64;
	cfg->max_connections = 256;
	cfg->stall_timeout_s = 30;
	cfg->heartbeat_s = 15;
	cfg->idle_timeout_s = 60;
	cfg->stream_buffer = 64 * 1024;
	cfg->json_max_records = 10000;
}

/* Set one setting from its text; false with why. */
static bool setting_set(struct http_config *cfg, const struct setting *s,
                        const char *v, char *why, size_t len)
{
	char *base = (char *)cfg + s->off, *end;
	unsigned long n;
	uint64_t size;

	switch (s->kind) {
	case K_PATH:
		if (*v == '\0' || strlen(v) >= s->size) {
			snprintf(why, len, "empty or too long");
			return false;
		}
		strcpy(base, v);
		return true;
	case K_COUNT:
		errno = 0;
		n = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno || n < s->min ||
		    n > s->max) {
			snprintf(why, len,
			         "bad value '%.64s': a number from %lu "
			         "to %lu",
			         v, s->min, s->max);
			return false;
		}
		*(unsigned *)(void *)base = (unsigned)n;
		return true;
	case K_SIZE:
		if (!size_parse(v, &size) || size < s->min || size > s->max) {
			snprintf(why, len,
			         "bad value '%.64s': a size from 4K to 16M", v);
			return false;
		}
		*(size_t *)(void *)base = (size_t)size;
		return true;
	}
	return false;
}

struct file_ctx {
	struct http_config *cfg;
	char err[400];
};

static int on_ini(void *arg, const char *section, const char *key,
                  const char *value)
{
	struct file_ctx *c = arg;
	bool known_section = false;
	char why[300];

	for (size_t i = 0; i < NSETTINGS; i++) {
		if (strcmp(settings[i].section, section) != 0)
			continue;
		known_section = true;
		if (strcmp(settings[i].key, key) != 0)
			continue;
		if (setting_set(c->cfg, &settings[i], value, why, sizeof why))
			return 1;
		snprintf(c->err, sizeof c->err, "[%s] %s: %s", section, key,
		         why);
		return 0;
	}
	if (known_section)
		snprintf(c->err, sizeof c->err, "unknown key '%.64s' in [%s]",
		         key, section);
	else
		snprintf(c->err, sizeof c->err,
		         "unknown section [%.64s] (key '%.64s')", section, key);
	return 0;
}

static int config_file(struct http_config *cfg, const char *path,
                       bool explicit_path, char *err, size_t errlen)
{
	struct file_ctx c = {.cfg = cfg};
	FILE *f = fopen(path, "re");
	int line;

	if (f == NULL) {
		if (errno == ENOENT && !explicit_path)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(cfg->config_file, sizeof cfg->config_file, "%s", path);
	line = ini_parse_file(f, on_ini, &c);
	fclose(f);
	if (line == 0)
		return 0;
	if (line < 0)
		snprintf(err, errlen, "%s: cannot read", path);
	else
		snprintf(err, errlen, "%s:%d: %s", path, line,
		         c.err[0] ? c.err : "not a [section] or key = value");
	return -1;
}

static void usage(void)
{
	printf(
	    "usage: logbus-http [--run-dir DIR] [--listen HOST:PORT|unix:PATH]"
	    " [--config FILE]\n"
	    "\n"
	    "logbusd's records over HTTP: /v1/logs (text, follow, "
	    "server-sent events),\n"
	    "/v1/logs.json, /v1/services, /v1/services/ID/error, "
	    "/v1/stats, /loki/api/v1/...\n"
	    "and the live Logs page at /.\n"
	    "\n"
	    "  --run-dir DIR   logbusd's run directory (default: "
	    "$LOGBUS_RUN_DIR or the library's)\n"
	    "  --listen ADDR   HOST:PORT or unix:PATH (default %s); an "
	    "address other than\n"
	    "                  loopback needs [http] tokens\n"
	    "  --config FILE   the configuration file (default %s, when "
	    "it exists)\n",
	    HTTP_DEFAULT_LISTEN, DEFAULT_CONFIG);
}

int http_config_load(struct http_config *cfg, int argc, char **argv, char *err,
                     size_t errlen)
{
	static const struct option opts[] = {
	    {"run-dir", required_argument, NULL, 'r'},
	    {"listen", required_argument, NULL, 'l'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *run_dir = NULL, *listen = NULL;
	int o;

	config_defaults(cfg);
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			run_dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage();
			return 1;
		case 'V':
			printf("logbus-http %s\n", LOGBUS_VERSION_STRING);
			return 1;
		default:
			snprintf(err, errlen,
			         "unknown option or missing value: "
			         "%.64s (see --help)",
			         argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen,
		         "unexpected argument '%.64s' (see --help)",
		         argv[optind]);
		return -1;
	}
	if (config_file(cfg, config ? config : DEFAULT_CONFIG, config != NULL,
	                err, errlen) < 0)
		return -1;
	if (run_dir && snprintf(cfg->run_dir, sizeof cfg->run_dir, "%s",
	                        run_dir) >= (int)sizeof cfg->run_dir) {
		snprintf(err, errlen, "--run-dir: too long");
		return -1;
	}
	if (listen && snprintf(cfg->listen, sizeof cfg->listen, "%s", listen) >=
	                  (int)sizeof cfg->listen) {
		snprintf(err, errlen, "--listen: too long");
		return -1;
	}
	return 0;
}
