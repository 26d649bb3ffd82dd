/* Call records: lifecycle, timings, derived figures, and the registry of
 * active and recent calls that the API reads (under the pipeline lock). */
#include "call/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macros.h"
#include "wire/body.h"
#include "core/clock.h"
#include "call/sink.h"
#include "core/loghist.h"
#include "wire/sse.h"

static struct llm_call *active_head; /* newest first, linked via next_recent */
static struct llm_call *recent_head; /* newest first */
static unsigned n_active, n_recent, keep_recent = 1000;
static uint64_t next_id = 1;
bool call_keep_prompts;

static const char *const status_names[] = {
    [CALL_STREAMING] = "streaming", [CALL_COMPLETED] = "completed", [CALL_ERROR] = "error",
    [CALL_TRUNCATED] = "truncated", [CALL_ABORTED] = "aborted",     [CALL_BLOCKED] = "blocked",
};

const char *call_status_name(enum call_status s)
{
	return (unsigned)s < ARRAY_LEN(status_names) ? status_names[s] : "unknown";
}

bool call_status_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(status_names); i++)
		if (!strcmp(name, status_names[i]))
			return true;
	return false;
}

const char *call_provider(const struct llm_call *c)
{
	return llm_provider(&c->dec);
}

const char *call_model(const struct llm_call *c)
{
	return c->dec.model[0] ? c->dec.model : c->dec.response_model;
}

const char *call_source(const struct llm_call *c)
{
	return c->ingest ? "ingest" : "capture";
}

const char *call_tenant(const struct llm_call *c)
{
	return c->ingest ? c->ingest->tenant : "";
}

uint64_t call_start_ns(const struct llm_call *c)
{
	return c->t_req_first ? c->t_req_first : c->t_req_last;
}

void call_registry_set_next_id(uint64_t id)
{
	if (id > next_id)
		next_id = id;
}

void call_registry_init(unsigned keep)
{
	keep_recent = keep ? keep : 1;
}

static void call_free(struct llm_call *c)
{
	llm_decode_free(&c->dec);
	buf_free(&c->body);
	if (c->sse)
		sse_free(c->sse);
	body_decoder_free(c->encoding);
	free(c->gap_hist);
	free(c->chunk_at_us);
	call_guard_free(c);
	bp_free(&c->bp);
	llm_prompt_free(&c->prompt);
	if (c->ingest)
		free(c->ingest->metadata);
	free(c->ingest);
	free(c);
}

static void list_free(struct llm_call *head)
{
	while (head) {
		struct llm_call *n = head->next_recent;
		call_free(head);
		head = n;
	}
}

void call_registry_free(void)
{
	list_free(active_head);
	list_free(recent_head);
	active_head = recent_head = NULL;
	n_active = n_recent = 0;
}

struct llm_call *call_new(uint32_t pid, uint32_t tid, const char *comm, const char *thread)
{
	struct llm_call *c = xcalloc(1, sizeof(*c));
	c->id = next_id++;
	c->pid = pid;
	c->tid = tid;
	c->fd = -1;
	snprintf(c->comm, sizeof(c->comm), "%s", comm);
	snprintf(c->thread, sizeof(c->thread), "%s", thread);
	c->status = CALL_STREAMING;
	llm_decode_init(&c->dec, PROVIDER_UNKNOWN);
	buf_init(&c->body, CALL_BODY_MAX);
	llm_prompt_init(&c->prompt);
	c->attached = true;
	c->next_recent = active_head;
	active_head = c;
	n_active++;
	return c;
}

static void unlink_active(struct llm_call *c)
{
	for (struct llm_call **pp = &active_head; *pp; pp = &(*pp)->next_recent) {
		if (*pp == c) {
			*pp = c->next_recent;
			n_active--;
			return;
		}
	}
}

/* Keeps the newest keep_recent finished calls; one a connection still
 * points at leaves the list now and is freed when released. */
static void trim_recent(void)
{
	if (n_recent <= keep_recent)
		return;
	struct llm_call **pp = &recent_head;
	for (unsigned i = 0; *pp && i < keep_recent; i++)
		pp = &(*pp)->next_recent;
	struct llm_call *old = *pp;
	*pp = NULL;
	n_recent = keep_recent;
	while (old) {
		struct llm_call *n = old->next_recent;
		old->next_recent = NULL;
		if (old->attached)
			old->trimmed = true;
		else
			call_free(old);
		old = n;
	}
}

void call_release(struct llm_call *c)
{
	c->attached = false;
	if (c->trimmed)
		call_free(c);
}

void call_finish(struct llm_call *c, enum call_status st, uint64_t ts, const char *why)
{
	if (c->finished)
		return;
	call_guard_end(c); /* settles pending matches (and their redaction) */
	char blocked[160];
	if (c->guard.blocked_by && st != CALL_COMPLETED) {
		snprintf(blocked, sizeof(blocked), "blocked by guardrail rule %s",
		         c->guard.blocked_by->id);
		st = CALL_BLOCKED;
		why = blocked;
		c->error[0] = '\0';
	}
	c->finished = true;
	c->status = st;
	if (!c->t_end || ts > c->t_end)
		c->t_end = ts;
	if (why && *why && !c->error[0])
		snprintf(c->error, sizeof(c->error), "%s", why);
	/* Parsers are no longer needed; the record stays for the API. */
	buf_free(&c->body);
	if (c->sse) {
		sse_free(c->sse);
		c->sse = NULL;
	}
	body_decoder_free(c->encoding);
	c->encoding = NULL;
	prices_cost_of(&c->dec, &c->cost);
	unlink_active(c);
	c->next_recent = recent_head;
	recent_head = c;
	n_recent++;
	sink_end(c);
	trim_recent();
}

void call_on_chunk(struct llm_call *c, uint64_t ts, int flags)
{
	c->chunks++;
	c->t_last_chunk = ts;
	uint64_t start = call_start_ns(c);
	if (start && ts >= start && c->nchunk_at < CALL_TIMELINE_CHUNKS &&
	    (ts - start) / 1000 <= UINT32_MAX) {
		if (c->nchunk_at == c->chunk_at_cap) {
			c->chunk_at_cap = c->chunk_at_cap ? c->chunk_at_cap * 2 : 16;
			c->chunk_at_us =
			    xrealloc(c->chunk_at_us, c->chunk_at_cap * sizeof(uint32_t));
		}
		c->chunk_at_us[c->nchunk_at++] = (uint32_t)((ts - start) / 1000);
	}
	if (!(flags & DEC_CONTENT))
		return;
	if (!c->t_first_content) {
		c->t_first_content = ts;
	} else {
		if (!c->gap_hist)
			c->gap_hist = xcalloc(LOGHIST_BUCKETS, sizeof(uint32_t));
		uint64_t gap = ts > c->t_last_content ? (ts - c->t_last_content) / 1000 : 0;
		uint32_t g = gap > UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
		c->gap_hist[loghist_bucket(g)]++;
		c->ngaps++;
		if (g > c->max_gap_us)
			c->max_gap_us = g;
	}
	c->t_last_content = ts;
}

void call_add_dropped(struct llm_call *c, uint64_t n)
{
	c->dropped_bytes += n;
	sink_dropped(c, n);
}

double call_ttft_ms(const struct llm_call *c)
{
	if (!c->t_first_content || !c->t_req_last || c->t_first_content < c->t_req_last)
		return -1;
	return (double)(c->t_first_content - c->t_req_last) / 1e6;
}

double call_duration_ms(const struct llm_call *c, uint64_t now)
{
	uint64_t start = call_start_ns(c);
	uint64_t end = c->finished ? c->t_end : now;
	if (!start || end < start)
		return -1;
	return (double)(end - start) / 1e6;
}

/* Output tokens (usage when reported, else content deltas) over the
 * generation time, first content delta to last. */
double call_tokens_per_second(const struct llm_call *c)
{
	if (!c->t_first_content || c->t_last_content <= c->t_first_content)
		return -1;
	double toks = c->dec.usage.output_tokens >= 0 ? (double)c->dec.usage.output_tokens
	                                              : (double)c->dec.deltas;
	/* The first token's arrival starts the clock: it is not generated in
	 * the measured interval. */
	if (toks > 1)
		toks -= 1;
	return toks / ((double)(c->t_last_content - c->t_first_content) / 1e9);
}

/* Nearest-rank percentiles over a sorted copy. */
void call_gap_percentiles(const struct llm_call *c, double *p50, double *p95, double *max)
{
	*p50 = *p95 = *max = -1;
	if (!c->ngaps)
		return;
	uint64_t a = loghist_percentile(c->gap_hist, c->ngaps, 50);
	uint64_t b = loghist_percentile(c->gap_hist, c->ngaps, 95);
	*p50 = (a > c->max_gap_us ? c->max_gap_us : a) / 1000.0;
	*p95 = (b > c->max_gap_us ? c->max_gap_us : b) / 1000.0;
	*max = c->max_gap_us / 1000.0;
}

void call_foreach(call_visit_fn fn, void *ctx)
{
	for (struct llm_call *c = active_head; c; c = c->next_recent)
		if (!fn(c, ctx))
			return;
	for (struct llm_call *c = recent_head; c; c = c->next_recent)
		if (!fn(c, ctx))
			return;
}

const struct llm_call *call_find(uint64_t id)
{
	for (struct llm_call *c = active_head; c; c = c->next_recent)
		if (c->id == id)
			return c;
	for (struct llm_call *c = recent_head; c; c = c->next_recent)
		if (c->id == id)
			return c;
	return NULL;
}

unsigned call_active_count(void)
{
	return n_active;
}
