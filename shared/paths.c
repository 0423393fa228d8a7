/*
 * paths.c: default directories and socket URLs (paths.h).
 */
#include "paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *fit(char *buf, size_t len, int n)
{
	return (n < 0 || (size_t)n >= len) ? NULL : buf;
}

static const char *nonempty(const char *s)
{
	return (s && *s) ? s : NULL;
}

const char *paths_default_run_dir(char *buf, size_t len)
{
	const char *v;

	if ((v = nonempty(getenv("LOGBUS_RUN_DIR"))))
		return fit(buf, len, snprintf(buf, len, "%s", v));
	if (geteuid() == 0)
		return fit(buf, len, snprintf(buf, len, "/run/logbus"));
	if ((v = nonempty(getenv("XDG_RUNTIME_DIR"))))
		return fit(buf, len, snprintf(buf, len, "%s/logbus", v));
	return fit(buf, len,
	           snprintf(buf, len, "/tmp/logbus-%u", (unsigned)getuid()));
}

const char *paths_default_log_dir(char *buf, size_t len)
{
	const char *v;

	if ((v = nonempty(getenv("LOGBUS_LOG_DIR"))))
		return fit(buf, len, snprintf(buf, len, "%s", v));
	if (geteuid() == 0)
		return fit(buf, len, snprintf(buf, len, "/var/log/logbus"));
	if ((v = nonempty(getenv("XDG_STATE_HOME"))))
		return fit(buf, len, snprintf(buf, len, "%s/logbus", v));
	if (!(v = nonempty(getenv("HOME")))) {
		struct passwd *pw = getpwuid(getuid());
		v = pw ? pw->pw_dir : "/";
	}
	return fit(buf, len, snprintf(buf, len, "%s/.local/state/logbus", v));
}

const char *paths_socket_url(char *buf, size_t len, const char *run_dir,
                             const char *sock)
{
	struct sockaddr_un sun;
	int n = snprintf(buf, len, "ipc://%s/%s", run_dir, sock);

	if (fit(buf, len, n) == NULL || strlen(buf) - 6 >= sizeof sun.sun_path)
		return NULL;
	return buf;
}

int paths_mkdir_p(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(tmp, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}
