/* Peer addresses learnt from connect(), looked up by (tgid, fd). */
#ifndef LLMOBS_WIRE_PEER_H
#define LLMOBS_WIRE_PEER_H

#include <stdint.h>

#include "llmobs/event.h"

void peer_note(const struct llmobs_event *ev);
const char *peer_lookup(uint32_t tgid, int fd);
void peer_forget_process(uint32_t tgid);

#endif
