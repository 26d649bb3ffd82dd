/* The prompt text of an LLM request body, for the history store's
 * full-text search: the messages' text in order, bounded to the newest
 * part. Pure functions over a caller-owned struct. */
#ifndef LLMOBS_LLM_PROMPT_H
#define LLMOBS_LLM_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "llm/provider.h"

/* The prompt of an LLM request: the text of its messages (system, user,
 * assistant, tool results), one "role: text" line per piece, in order. */
#define LLM_PROMPT_KEEP (32u * 1024) /* bytes kept: the last ones (the newest messages) */
struct llm_prompt {
	struct buf text; /* NUL-terminated; at most LLM_PROMPT_KEEP bytes */
	uint64_t cut;    /* bytes of prompt text left out (the oldest) */
};

void llm_prompt_init(struct llm_prompt *p);
void llm_prompt_free(struct llm_prompt *p);
/* Replaces p's text with the prompt of this request body of wire API `api`
 * (enum provider_id from llm/provider.h). Returns 0, or -1 when the body is
 * not a JSON object (p is left empty, cut = 0). Afterwards text.len + cut is
 * the length of the whole prompt text. */
int llm_prompt_extract(struct llm_prompt *p, enum provider_id api, const char *body, size_t n);

#endif
