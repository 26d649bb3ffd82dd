/* What LLM calls cost: a price table (the shipped llm/prices.json, plus
 * --prices FILE), matched to a call's provider and model, and the cost of
 * its normalised usage under the providers' cache rules. Pure functions
 * over a caller-owned table, and one process-wide table for the pipeline. */
#ifndef LLMOBS_LLM_PRICE_H
#define LLMOBS_LLM_PRICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llm/provider.h"

#define PRICE_MAX_MODELS 8

/* USD per million tokens; < 0 = the entry gives no rate. */
struct price_rates {
	double input;          /* uncached input */
	double cached_input;   /* cache reads */
	double cache_write_5m; /* cache writes (Anthropic: 5-minute TTL, the default) */
	double cache_write_1h; /* ... 1-hour TTL */
	double output;         /* output, reasoning/thinking included */
	double reasoning;      /* reasoning tokens, when billed apart from output */
};

struct price {
	char id[160]; /* "provider/first model glob": names the entry in calls */
	char provider[32];
	char models[PRICE_MAX_MODELS][128]; /* fnmatch globs */
	unsigned nmodels;
	struct price_rates base;
	int64_t long_above; /* > 0: above this many input tokens, long's rates */
	struct price_rates long_;
	char source[256];
	char as_of[16];
	bool user; /* from --prices */
};

struct price_table {
	struct price *v;
	size_t n;
};

/* Adds the entries of a price JSON text (see prices.json) to t; user
 * entries win over shipped ones that match as specifically. -1 with the
 * entry and the reason in err (t unchanged) when the text is bad. */
int price_table_add(struct price_table *t, const char *json, size_t n, bool user, char *err,
                    size_t errlen);
void price_table_free(struct price_table *t);
/* The entry for a provider (gen_ai.provider.name; NULL: any) and model:
 * the matching glob with the most literal characters; NULL when none
 * matches. */
const struct price *price_table_match(const struct price_table *t, const char *provider,
                                      const char *model);

enum price_unpriced {
	PRICE_OK = 0,
	PRICE_NO_ENTRY, /* the model is not in the table */
	PRICE_NO_USAGE, /* the call reported no input or output tokens */
	PRICE_NO_RATE,  /* tokens of a kind its entry gives no rate for */
};
const char *price_unpriced_name(enum price_unpriced why); /* "no_price", ... */

struct call_cost {
	double usd;                /* valid when why == PRICE_OK */
	const struct price *price; /* the entry used (or matched), NULL if none */
	enum price_unpriced why;
	bool long_context; /* its long-context rates applied */
};

/* The cost of usage u at entry p (NULL: PRICE_NO_ENTRY). u is normalised
 * (provider.h): input_tokens include cache reads and writes. */
void price_cost(const struct price *p, const struct llm_usage *u, struct call_cost *out);

/* The pipeline's table: the shipped one plus a user file (NULL: none).
 * -1 with the reason in err; the table is unchanged then. */
int prices_load(const char *user_file, char *err, size_t errlen);
void prices_free(void);
/* A finished call's cost: the served model's entry, else the requested
 * one's. Loads the shipped table on first use when prices_load was not
 * called (tests, replay tools). */
void prices_cost_of(const struct llm_decode *d, struct call_cost *out);
/* The provider whose price entry names model (for calls reported without
 * one); false when no entry does. */
bool prices_provider_of(const char *model, char *out, size_t n);

#endif
