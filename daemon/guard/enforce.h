/* Cuts a live TCP connection of another process (guardrail "block" with
 * --enforce). Same network namespace as the daemon only. */
#ifndef LLMOBS_GUARD_ENFORCE_H
#define LLMOBS_GUARD_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Destroys the TCP socket behind fd of pid: both ends see the connection
 * end (the owner gets ECONNABORTED). 0, or -1 with err. */
int sock_destroy(uint32_t pid, int fd, char *err, size_t errlen);

#endif
