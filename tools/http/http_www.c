/*
 * http_www.c: the live Logs page at /: static HTML, JavaScript and CSS from
 * tools/http/www/, compiled into the program (http_www.h), so that it needs
 * no files at run time and loads nothing from elsewhere.  It holds no
 * records: it reads them from /v1/logs with the viewer's token.
 */
#include <string.h>

#include "http.h"
#include "http_www.h"

bool www_find(const char *path, const unsigned char **data, size_t *len,
              const char **type)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (unsigned i = 0; i < www_nfiles; i++) {
		if (strcmp(www_files[i].path, path) != 0)
			continue;
		*data = www_files[i].data;
		*len = www_files[i].len;
		*type = www_files[i].type;
		return true;
	}
	return false;
}
