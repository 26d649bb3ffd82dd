/* stderr logging with a level and wall-clock time; journald-friendly. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

bool log_verbose;
bool log_quiet;

static void vlog(const char *level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ llmobsd %s: ", when, ts.tv_nsec / 1000000, level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

#define DEFINE_LOG(name, level, cond)                                                              \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		if (!(cond))                                                                       \
			return;                                                                    \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, fmt, ap);                                                              \
		va_end(ap);                                                                        \
	}

DEFINE_LOG(log_info, "info", !log_quiet)
DEFINE_LOG(log_warn, "warning", 1)
DEFINE_LOG(log_error, "error", 1)
DEFINE_LOG(log_debug, "debug", log_verbose)
