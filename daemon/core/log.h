#ifndef LLMOBS_CORE_LOG_H
#define LLMOBS_CORE_LOG_H

#include <stdbool.h>

extern bool log_verbose;
extern bool log_quiet; /* info lines off: fuzzers, which would drown in them */

__attribute__((format(printf, 1, 2))) void log_info(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_error(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_debug(const char *fmt, ...);

#endif
