/* Assembling LLM calls from a connection's protocol messages: the
 * protocol tables wire/conn.c drives (see struct conn_ops). */
#ifndef LLMOBS_CALL_ASSEMBLE_H
#define LLMOBS_CALL_ASSEMBLE_H

#include "wire/conn.h"

/* HTTP/1.1: responses pair with requests in order, per connection. */
extern const struct conn_ops http1_calls;

#endif
