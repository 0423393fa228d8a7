/*
 * http_www.h: the Logs page's files, embedded at build time (embed.cmake
 * writes www_data.c from tools/http/www/).
 */
#ifndef LOGBUS_HTTP_WWW_H
#define LOGBUS_HTTP_WWW_H

#include <stddef.h>

struct www_file {
	const char *path; /* "/index.html" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
};

extern const struct www_file www_files[];
extern const unsigned www_nfiles;

#endif
