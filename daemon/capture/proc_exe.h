/* A process's executable for the blind-spot report: its path, its file's
 * identity and the TLS stack guessed from it (cached per device and inode,
 * so a program that connects often is read once, and a short-lived one
 * gone before the daemon looks is still named after its first run). */
#ifndef LLMOBS_CAPTURE_PROC_EXE_H
#define LLMOBS_CAPTURE_PROC_EXE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/blind.h"

/* False when the process is gone (or its executable unreadable) and the
 * file (dev, ino; kernel encoding, 0 when unknown) was never read. */
bool proc_exe_lookup(uint32_t tgid, uint64_t dev, uint64_t ino, struct blind_exe *out);
void proc_exe_free(void);

#endif
