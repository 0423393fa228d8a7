/*
 * config.h: logbusd's settings, from the configuration file and the
 * command line.
 *
 * Every setting has one row in config.c's table: its [section] and key in
 * the INI file, its --option, its type and range, and whether SIGHUP can
 * change it in a running broker.  A setting is built as defaults, then the
 * file, then the command line (options win), so the same validation gives
 * the same message wherever a value came from.  A reload builds a fresh
 * struct broker_config the same way and hands the broker what may change.
 */
#ifndef LOGBUS_CONFIG_H
#define LOGBUS_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_config;
struct routes_config;

/* A value from the command line, kept to be applied again on reload. */
struct config_override {
	const char *option; /* "segment-size" */
	const char *value;
};

/* Where a configuration comes from. */
struct config_source {
	const char *path;   /* the file; NULL: none */
	bool path_explicit; /* named by --config: must exist */
	struct config_override *overrides;
	size_t noverrides;
};

/* The default file (LOGBUS_SYSCONFDIR/logbus/logbusd.conf). */
extern const char config_default_path[];

/* Build cfg from defaults, the file and the overrides.  Returns 0, or -1
 * with err naming the file and line or the option, and the reason. */
int config_build(struct broker_config *cfg, const struct config_source *src,
                 char *err, size_t errlen);
/* The routes cfg describes ([routes], [route NAME], --route), for
 * routes_new; it points into cfg. */
struct routes_config config_routes(const struct broker_config *cfg);
/* Free what config_build allocated. */
void config_fini(struct broker_config *cfg);

/* getopt_long's val for the settings' options starts here. */
#define CONFIG_OPTION_BASE 1000

/* Fill out with the settings' long options; returns how many. */
size_t config_long_options(struct option *out, size_t max);

/* "64M", "4G", "1T", "1024", "1KiB", "2MB": bytes; UINT64_MAX when
 * malformed.  Every size the broker reads, the routes' max-size too. */
uint64_t config_parse_size(const char *s);
/* An option getopt_long returned (val >= CONFIG_OPTION_BASE) with its
 * argument: checked at once and kept in ov.  0, or -1 with err. */
int config_option(int val, const char *value, struct config_override *ov,
                  char *err, size_t errlen);

/* What a reload may change: copy those settings from next into cur and
 * describe in note (one line each) the ones that differ but need a restart.
 * Returns how many need a restart. */
int config_apply_reloadable(struct broker_config *cur,
                            const struct broker_config *next, char *note,
                            size_t notelen);

#endif
