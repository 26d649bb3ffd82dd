/* A process's executable for the blind-spot report: its path, its file's
 * identity and the TLS stack guessed from it (cached per device and inode,
 * so a program that connects often is read once). */
#ifndef LLMOBS_CAPTURE_PROC_EXE_H
#define LLMOBS_CAPTURE_PROC_EXE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/blind.h"

/* False when the process is gone or its executable unreadable. */
bool proc_exe_lookup(uint32_t tgid, struct blind_exe *out);
void proc_exe_free(void);

#endif
