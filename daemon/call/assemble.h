/* Assembling LLM calls from a connection's protocol messages: the
 * protocol tables wire/conn.c drives (see struct conn_ops). */
#ifndef LLMOBS_CALL_ASSEMBLE_H
#define LLMOBS_CALL_ASSEMBLE_H

#include "wire/conn.h"

/* HTTP/1.1: responses pair with requests in order, per connection. */
extern const struct conn_ops http1_calls;
/* HTTP/2: each stream is an exchange, paired by stream id. */
extern const struct conn_ops h2_calls;
/* WebSocket: each response (response.create .. its terminator) is one. */
extern const struct conn_ops ws_calls;

#endif
