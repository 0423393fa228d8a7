/*
 * errors.c: the library's small public helpers: error names, levels, the
 * default run directory and the service id rule (shared with the broker).
 */
#include <string.h>

#include "logbus/logbus.h"
#include "paths.h"
#include "record.h"

LOGBUS_API const char *logbus_strerror(int code)
{
	switch (code) {
	case LOGBUS_OK:
		return "success";
	case LOGBUS_EINVAL:
		return "invalid argument";
	case LOGBUS_ENOMEM:
		return "out of memory";
	case LOGBUS_ETIMEDOUT:
		return "timed out waiting for logbusd";
	case LOGBUS_EUNREACHABLE:
		return "cannot reach logbusd";
	case LOGBUS_EFULL:
		return "queue full, record dropped";
	case LOGBUS_ETOOBIG:
		return "record too large";
	case LOGBUS_EUTF8:
		return "text is not valid UTF-8";
	case LOGBUS_EREJECTED:
		return "logbusd refused a record";
	case LOGBUS_ECURSOR:
		return "invalid cursor";
	case LOGBUS_EEXPIRED:
		return "cursor expired";
	case LOGBUS_ECLOSED:
		return "handle closed";
	case LOGBUS_EPROTO:
		return "protocol error";
	case LOGBUS_ESYS:
		return "system error";
	case LOGBUS_ELIMITED:
		return "logbusd dropped records over the service's rate limit";
	case LOGBUS_ENOTFOUND:
		return "not found";
	case LOGBUS_EFORKED:
		return "not usable in a child of fork()";
	default:
		return "unknown error";
	}
}

LOGBUS_API const char *logbus_level_name(int level, char *buf, size_t len)
{
	return level_name(level, buf, len);
}

LOGBUS_API int logbus_level_parse(const char *s)
{
	return level_parse(s);
}

LOGBUS_API const char *logbus_default_run_dir(char *buf, size_t len)
{
	return paths_default_run_dir(buf, len);
}

LOGBUS_API int logbus_service_valid(const char *s)
{
	return s && service_id_valid(s, strlen(s)) ? LOGBUS_OK : LOGBUS_EINVAL;
}
