/* Price tables and call costs (see price.h). */
#include "llm/price.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/macros.h"

/* The shipped table, llm/prices.json, built in (prices_json.c). */
extern const char llm_prices_json[];

#define RATE_MAX        1e6 /* USD per million tokens: more is a typo */
#define PRICES_FILE_MAX (4u << 20)

const char *price_unpriced_name(enum price_unpriced why)
{
	switch (why) {
	case PRICE_OK:
		return "";
	case PRICE_NO_ENTRY:
		return "no_price";
	case PRICE_NO_USAGE:
		return "no_usage";
	case PRICE_NO_RATE:
		return "no_rate";
	}
	return "";
}

static int fail(char *err, size_t errlen, const char *entry, const char *what)
{
	snprintf(err, errlen, "price entry %s: %s", entry, what);
	return -1;
}

static bool known_key(const char *k, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

static const char *const rate_keys[] = {"input",          "cached_input", "cache_write_5m",
                                        "cache_write_1h", "output",       "reasoning"};

/* Rates of an entry or its long_context object; "above_input_tokens" is
 * the only other key long_context has. */
static int parse_rates(const cJSON *o, struct price_rates *r, bool tier, const char *entry,
                       char *err, size_t errlen)
{
	double *dst[] = {&r->input,          &r->cached_input, &r->cache_write_5m,
	                 &r->cache_write_1h, &r->output,       &r->reasoning};
	for (size_t i = 0; i < ARRAY_LEN(dst); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, rate_keys[i]);
		if (!v) {
			if (!tier)
				*dst[i] = -1;
			continue; /* a tier keeps the base rate */
		}
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= RATE_MAX)) {
			char what[96];
			snprintf(what, sizeof(what),
			         "\"%s\" must be a number of USD per million tokens", rate_keys[i]);
			return fail(err, errlen, entry, what);
		}
		*dst[i] = v->valuedouble;
	}
	if (r->input < 0 || r->output < 0)
		return fail(err, errlen, entry, "needs \"input\" and \"output\" rates");
	return 0;
}

static int parse_entry(const cJSON *e, size_t idx, bool user, struct price *p, char *err,
                       size_t errlen)
{
	static const char *const keys[] = {"provider",     "models",         "input",
	                                   "cached_input", "cache_write_5m", "cache_write_1h",
	                                   "output",       "reasoning",      "long_context",
	                                   "source",       "as_of",          "note"};
	char entry[96];
	snprintf(entry, sizeof(entry), "#%zu", idx + 1);
	if (!cJSON_IsObject(e))
		return fail(err, errlen, entry, "is not an object");
	memset(p, 0, sizeof(*p));
	p->user = user;
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(e, "provider");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(e, "models");
	if (!cJSON_IsString(prov) || !prov->valuestring[0] ||
	    strlen(prov->valuestring) >= sizeof(p->provider))
		return fail(err, errlen, entry,
		            "needs a \"provider\" (openai, anthropic, gcp.gemini, ...)");
	snprintf(p->provider, sizeof(p->provider), "%s", prov->valuestring);
	int nm = cJSON_GetArraySize(models);
	if (!cJSON_IsArray(models) || nm < 1 || nm > PRICE_MAX_MODELS)
		return fail(err, errlen, entry, "needs \"models\": 1 to 8 model names or globs");
	for (int i = 0; i < nm; i++) {
		const cJSON *m = cJSON_GetArrayItem(models, i);
		if (!cJSON_IsString(m) || !m->valuestring[0] ||
		    strlen(m->valuestring) >= sizeof(p->models[0]))
			return fail(err, errlen, entry,
			            "\"models\" holds names of 1 to 127 characters");
		snprintf(p->models[p->nmodels++], sizeof(p->models[0]), "%s", m->valuestring);
	}
	snprintf(p->id, sizeof(p->id), "%s/%s", p->provider, p->models[0]);
	snprintf(entry, sizeof(entry), "#%zu (%.40s)", idx + 1, p->id);
	for (const cJSON *k = e->child; k; k = k->next)
		if (!known_key(k->string, keys, ARRAY_LEN(keys))) {
			char what[96];
			snprintf(what, sizeof(what), "unknown key \"%.40s\"", k->string);
			return fail(err, errlen, entry, what);
		}
	if (parse_rates(e, &p->base, false, entry, err, errlen))
		return -1;
	const cJSON *lc = cJSON_GetObjectItemCaseSensitive(e, "long_context");
	if (lc) {
		const cJSON *above = cJSON_GetObjectItemCaseSensitive(lc, "above_input_tokens");
		if (!cJSON_IsObject(lc) || !cJSON_IsNumber(above) || !(above->valuedouble >= 1) ||
		    above->valuedouble > 1e12)
			return fail(
			    err, errlen, entry,
			    "\"long_context\" needs \"above_input_tokens\" (a count of tokens)");
		for (const cJSON *k = lc->child; k; k = k->next)
			if (strcmp(k->string, "above_input_tokens") &&
			    !known_key(k->string, rate_keys, ARRAY_LEN(rate_keys)))
				return fail(err, errlen, entry,
				            "\"long_context\" has an unknown key");
		p->long_above = (int64_t)above->valuedouble;
		p->long_ = p->base;
		if (parse_rates(lc, &p->long_, true, entry, err, errlen))
			return -1;
	}
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(e, "source");
	const cJSON *asof = cJSON_GetObjectItemCaseSensitive(e, "as_of");
	if (!user && (!cJSON_IsString(src) || !cJSON_IsString(asof)))
		return fail(err, errlen, entry,
		            "a shipped price names its \"source\" and \"as_of\" date");
	if (cJSON_IsString(src))
		snprintf(p->source, sizeof(p->source), "%s", src->valuestring);
	if (cJSON_IsString(asof))
		snprintf(p->as_of, sizeof(p->as_of), "%s", asof->valuestring);
	return 0;
}

int price_table_add(struct price_table *t, const char *json, size_t n, bool user, char *err,
                    size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(json, n);
	if (!root) {
		snprintf(err, errlen, "not valid JSON (near byte %td)",
		         cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : (ptrdiff_t)0);
		return -1;
	}
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "prices");
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
	int rc = 0;
	if (!cJSON_IsArray(list)) {
		snprintf(err, errlen, "needs a \"prices\" array");
		rc = -1;
	} else if (version && !(cJSON_IsNumber(version) && version->valuedouble == 1)) {
		snprintf(err, errlen, "\"version\" %s is not supported (1 is)",
		         cJSON_IsNumber(version) ? "given" : "must be a number:");
		rc = -1;
	}
	size_t add = rc ? 0 : (size_t)cJSON_GetArraySize(list);
	struct price *v = add ? xcalloc(add, sizeof(*v)) : NULL;
	for (size_t i = 0; i < add && !rc; i++)
		rc = parse_entry(cJSON_GetArrayItem(list, (int)i), i, user, &v[i], err, errlen);
	cJSON_Delete(root);
	if (rc) {
		free(v);
		return -1;
	}
	if (add) {
		t->v = xrealloc(t->v, (t->n + add) * sizeof(*t->v));
		memcpy(t->v + t->n, v, add * sizeof(*v));
		t->n += add;
	}
	free(v);
	return 0;
}

void price_table_free(struct price_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static size_t literal_chars(const char *glob)
{
	size_t n = 0;
	for (; *glob; glob++)
		n += *glob != '*' && *glob != '?';
	return n;
}

const struct price *price_table_match(const struct price_table *t, const char *provider,
                                      const char *model)
{
	const struct price *best = NULL;
	size_t best_len = 0;
	if (!model || !*model)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct price *p = &t->v[i];
		if (provider && strcmp(p->provider, provider))
			continue;
		for (unsigned m = 0; m < p->nmodels; m++) {
			if (fnmatch(p->models[m], model, 0))
				continue;
			size_t len = literal_chars(p->models[m]);
			/* ties: a user entry over a shipped one, else the later */
			if (!best || len > best_len ||
			    (len == best_len && (p->user || !best->user))) {
				best = p;
				best_len = len;
			}
		}
	}
	return best;
}

/* tokens at rate; a missing rate for tokens that are there marks *ok false */
static double charge(int64_t tokens, double rate, bool *ok)
{
	if (tokens <= 0)
		return 0;
	if (rate < 0) {
		*ok = false;
		return 0;
	}
	return (double)tokens * rate;
}

void price_cost(const struct price *p, const struct llm_usage *u, struct call_cost *out)
{
	*out = (struct call_cost){.price = p};
	if (!p) {
		out->why = PRICE_NO_ENTRY;
		return;
	}
	if (u->input_tokens < 0 || u->output_tokens < 0) {
		out->why = PRICE_NO_USAGE;
		return;
	}
	/* the threshold counts every input token, cache reads and writes too */
	out->long_context = p->long_above > 0 && u->input_tokens > p->long_above;
	const struct price_rates *r = out->long_context ? &p->long_ : &p->base;
	int64_t cached = u->cached_input_tokens > 0 ? u->cached_input_tokens : 0;
	int64_t writes = u->cache_creation_input_tokens > 0 ? u->cache_creation_input_tokens : 0;
	int64_t w1h = u->cache_write_1h_tokens > 0 ? u->cache_write_1h_tokens : 0;
	if (w1h > writes)
		w1h = writes;
	int64_t uncached = u->input_tokens - cached - writes;
	if (uncached < 0)
		uncached = 0;
	/* reasoning is part of output; billed apart only where a rate says so */
	int64_t reasoning = r->reasoning >= 0 && u->reasoning_tokens > 0 ? u->reasoning_tokens : 0;
	if (reasoning > u->output_tokens)
		reasoning = u->output_tokens;
	bool ok = true;
	double micro = charge(uncached, r->input, &ok) + charge(cached, r->cached_input, &ok) +
	               charge(writes - w1h, r->cache_write_5m, &ok) +
	               charge(w1h, r->cache_write_1h, &ok) +
	               charge(u->output_tokens - reasoning, r->output, &ok) +
	               charge(reasoning, r->reasoning, &ok);
	if (!ok) {
		out->why = PRICE_NO_RATE;
		return;
	}
	out->usd = micro / 1e6;
}

/* ---- the pipeline's table ---- */

static struct price_table table;
static bool loaded;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_shipped(struct price_table *t, char *err, size_t errlen)
{
	if (price_table_add(t, llm_prices_json, strlen(llm_prices_json), false, err, errlen)) {
		/* a build with a broken shipped table is a programming error */
		fprintf(stderr, "llmobsd: the built-in price table: %s\n", err);
		abort();
	}
	return 0;
}

int prices_load(const char *user_file, char *err, size_t errlen)
{
	struct price_table t = {0};
	load_shipped(&t, err, errlen);
	if (user_file) {
		struct buf b;
		buf_init(&b, PRICES_FILE_MAX);
		if (buf_read_file(&b, user_file) || b.cut) {
			snprintf(err, errlen, "%s", b.cut ? "larger than 4 MiB" : strerror(errno));
			buf_free(&b);
			price_table_free(&t);
			return -1;
		}
		int rc = price_table_add(&t, b.data ? b.data : "", b.len, true, err, errlen);
		buf_free(&b);
		if (rc) {
			price_table_free(&t);
			return -1;
		}
	}
	pthread_mutex_lock(&load_lock);
	price_table_free(&table);
	table = t;
	loaded = true;
	pthread_mutex_unlock(&load_lock);
	return 0;
}

void prices_free(void)
{
	pthread_mutex_lock(&load_lock);
	price_table_free(&table);
	loaded = false;
	pthread_mutex_unlock(&load_lock);
}

static void lock_loaded(void)
{
	pthread_mutex_lock(&load_lock);
	if (!loaded) {
		char err[256];
		load_shipped(&table, err, sizeof(err));
		loaded = true;
	}
}

bool prices_provider_of(const char *model, char *out, size_t n)
{
	lock_loaded();
	const struct price *p = price_table_match(&table, NULL, model);
	if (p)
		snprintf(out, n, "%s", p->provider);
	pthread_mutex_unlock(&load_lock);
	return p != NULL;
}

void prices_cost_of(const struct llm_decode *d, struct call_cost *out)
{
	lock_loaded();
	const char *prov = llm_provider(d);
	const struct price *p = price_table_match(&table, prov, d->response_model);
	if (!p)
		p = price_table_match(&table, prov, d->model);
	pthread_mutex_unlock(&load_lock);
	price_cost(p, &d->usage, out);
}
