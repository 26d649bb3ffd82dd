/* Prometheus registry: families in registration order, series found by a
 * hash of their label values (no allocation once a series exists). */
#include "sinks/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define MAX_LABELS     8
#define SERIES_BUCKETS 1024 /* hash slots per family (> METRIC_MAX_SERIES) */

const double METRIC_BUCKETS_DURATION[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                          1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
const size_t METRIC_NBUCKETS_DURATION = sizeof(METRIC_BUCKETS_DURATION) / sizeof(double);
const double METRIC_BUCKETS_TTFT[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                      0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
const size_t METRIC_NBUCKETS_TTFT = sizeof(METRIC_BUCKETS_TTFT) / sizeof(double);
const double METRIC_BUCKETS_TPOT[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                      0.3,  0.4,   0.5,  0.75,  1.0, 2.5};
const size_t METRIC_NBUCKETS_TPOT = sizeof(METRIC_BUCKETS_TPOT) / sizeof(double);
const double METRIC_BUCKETS_TOKENS[] = {1,     4,     16,     64,      256,     1024,     4096,
                                        16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
const size_t METRIC_NBUCKETS_TOKENS = sizeof(METRIC_BUCKETS_TOKENS) / sizeof(double);

enum kind { COUNTER, GAUGE, HISTOGRAM };

struct series {
	char **values;
	uint64_t hash;
	double value;         /* counter/gauge; histogram sum */
	uint64_t count;       /* histogram */
	uint64_t *buckets;    /* histogram, per bound (not cumulative) */
	struct series *next;  /* hash chain */
	struct series *order; /* creation order, for rendering */
};

struct metric {
	enum kind kind;
	char *name, *help;
	char *labels[MAX_LABELS];
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	struct series *slots[SERIES_BUCKETS];
	struct series *first, *last;
	size_t nseries;
	struct metric *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *families, *families_tail;
static struct metric *overflow; /* llmobs_metrics_series_overflow_total */

static void die(const char *what, const char *name)
{
	fprintf(stderr, "llmobsd: metrics: %s: '%s'\n", what, name);
	abort();
}

static bool valid_name(const char *s, bool label)
{
	if (!*s || (label && s[0] == '_' && s[1] == '_'))
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		             (!label && c == ':');
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static struct metric *family_new(enum kind k, const char *name, const char *help,
                                 const char *const *labels)
{
	if (!valid_name(name, false))
		die("invalid metric name", name);
	for (struct metric *f = families; f; f = f->next)
		if (!strcmp(f->name, name))
			die("metric registered twice", name);
	struct metric *m = xcalloc(1, sizeof(*m));
	m->kind = k;
	m->name = xstrdup(name);
	m->help = xstrdup(help);
	for (size_t i = 0; labels && labels[i]; i++) {
		if (i == MAX_LABELS || !valid_name(labels[i], true))
			die("invalid or too many label names", name);
		m->labels[m->nlabels++] = xstrdup(labels[i]);
	}
	if (families_tail)
		families_tail->next = m;
	else
		families = m;
	families_tail = m;
	return m;
}

static struct metric *register_family(enum kind k, const char *name, const char *help,
                                      const char *const *labels, const double *bounds, size_t n)
{
	pthread_mutex_lock(&lock);
	struct metric *m = family_new(k, name, help, labels);
	if (n) {
		m->bounds = xmalloc(n * sizeof(double));
		memcpy(m->bounds, bounds, n * sizeof(double));
		m->nbounds = n;
	}
	pthread_mutex_unlock(&lock);
	return m;
}

struct metric *metric_counter(const char *name, const char *help, const char *const *labels)
{
	return register_family(COUNTER, name, help, labels, NULL, 0);
}

struct metric *metric_gauge(const char *name, const char *help, const char *const *labels)
{
	return register_family(GAUGE, name, help, labels, NULL, 0);
}

struct metric *metric_histogram(const char *name, const char *help, const char *const *labels,
                                const double *bounds, size_t nbounds)
{
	for (size_t i = 1; i < nbounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			die("histogram bounds must increase", name);
	return register_family(HISTOGRAM, name, help, labels, bounds, nbounds);
}

static uint64_t hash_values(const struct metric *m, const char *const *values)
{
	static const unsigned char sep = 0xff;
	uint64_t h = FNV1A_INIT;
	for (size_t i = 0; i < m->nlabels; i++)
		h = fnv1a(fnv1a_str(h, values[i] ? values[i] : ""), &sep, 1);
	return h;
}

static bool same_values(const struct metric *m, const struct series *s, const char *const *values)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (strcmp(s->values[i], values[i] ? values[i] : ""))
			return false;
	return true;
}

static const char *const other_values[MAX_LABELS] = {"other", "other", "other", "other",
                                                     "other", "other", "other", "other"};

/* Finds or creates the series; past METRIC_MAX_SERIES new label sets fold
 * into the all-"other" series, and the fold is counted. */
static struct series *series_get(struct metric *m, const char *const *values)
{
	uint64_t h = hash_values(m, values);
	struct series **slot = &m->slots[h % SERIES_BUCKETS];
	for (struct series *s = *slot; s; s = s->next)
		if (s->hash == h && same_values(m, s, values))
			return s;
	if (m->nseries >= METRIC_MAX_SERIES && values != other_values) {
		if (m != overflow) {
			if (!overflow)
				overflow =
				    family_new(COUNTER, "llmobs_metrics_series_overflow_total",
				               "Label sets folded into \"other\" because a "
				               "family hit its series limit.",
				               NULL);
			series_get(overflow, NULL)->value += 1;
		}
		return series_get(m, other_values);
	}
	struct series *s = xcalloc(1, sizeof(*s));
	s->hash = h;
	s->values = xcalloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
	for (size_t i = 0; i < m->nlabels; i++)
		s->values[i] = xstrdup(values[i] ? values[i] : "");
	if (m->kind == HISTOGRAM)
		s->buckets = xcalloc(m->nbounds ? m->nbounds : 1, sizeof(uint64_t));
	s->next = *slot;
	*slot = s;
	if (m->last)
		m->last->order = s;
	else
		m->first = s;
	m->last = s;
	m->nseries++;
	return s;
}

void metric_add(struct metric *m, const char *const *values, double v)
{
	pthread_mutex_lock(&lock);
	series_get(m, values)->value += v;
	pthread_mutex_unlock(&lock);
}

void metric_set(struct metric *m, const char *const *values, double v)
{
	pthread_mutex_lock(&lock);
	series_get(m, values)->value = v;
	pthread_mutex_unlock(&lock);
}

void metric_observe(struct metric *m, const char *const *values, double v)
{
	pthread_mutex_lock(&lock);
	struct series *s = series_get(m, values);
	s->count++;
	s->value += v;
	for (size_t i = 0; i < m->nbounds; i++) {
		if (v <= m->bounds[i]) {
			s->buckets[i]++;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

static void put(struct buf *out, const char *s)
{
	buf_append(out, s, strlen(s));
}

static void put_escaped(struct buf *out, const char *s, bool quotes)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(out, "\\\\");
		else if (*s == '\n')
			put(out, "\\n");
		else if (quotes && *s == '"')
			put(out, "\\\"");
		else
			buf_append(out, s, 1);
	}
}

static void put_number(struct buf *out, double v)
{
	char tmp[64];
	if (isnan(v))
		snprintf(tmp, sizeof(tmp), "NaN");
	else if (isinf(v))
		snprintf(tmp, sizeof(tmp), v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(tmp, sizeof(tmp), "%.0f", v);
	else {
		snprintf(tmp, sizeof(tmp), "%.15g", v);
		if (strtod(tmp, NULL) != v)
			snprintf(tmp, sizeof(tmp), "%.17g", v);
	}
	put(out, tmp);
}

/* name{l1="v1",...,extra} value */
static void put_sample(struct buf *out, const struct metric *m, const struct series *s,
                       const char *suffix, const char *le, double v)
{
	put(out, m->name);
	put(out, suffix);
	if (m->nlabels || le) {
		put(out, "{");
		for (size_t i = 0; i < m->nlabels; i++) {
			if (i)
				put(out, ",");
			put(out, m->labels[i]);
			put(out, "=\"");
			put_escaped(out, s ? s->values[i] : "", true);
			put(out, "\"");
		}
		if (le) {
			put(out, m->nlabels ? ",le=\"" : "le=\"");
			put(out, le);
			put(out, "\"");
		}
		put(out, "}");
	}
	put(out, " ");
	put_number(out, v);
	put(out, "\n");
}

static void render_family(struct buf *out, const struct metric *m)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	put(out, "# HELP ");
	put(out, m->name);
	put(out, " ");
	put_escaped(out, m->help, false);
	put(out, "\n# TYPE ");
	put(out, m->name);
	put(out, " ");
	put(out, types[m->kind]);
	put(out, "\n");
	if (!m->first && !m->nlabels && m->kind != HISTOGRAM) {
		put_sample(out, m, NULL, "", NULL, 0);
		return;
	}
	for (const struct series *s = m->first; s; s = s->order) {
		if (m->kind != HISTOGRAM) {
			put_sample(out, m, s, "", NULL, s->value);
			continue;
		}
		uint64_t cum = 0;
		char le[64];
		for (size_t i = 0; i < m->nbounds; i++) {
			struct buf b;
			buf_init(&b, 0);
			put_number(&b, m->bounds[i]);
			snprintf(le, sizeof(le), "%s", b.data);
			buf_free(&b);
			cum += s->buckets[i];
			put_sample(out, m, s, "_bucket", le, (double)cum);
		}
		put_sample(out, m, s, "_bucket", "+Inf", (double)s->count);
		put_sample(out, m, s, "_sum", NULL, s->value);
		put_sample(out, m, s, "_count", NULL, (double)s->count);
	}
}

void metrics_render(struct buf *out)
{
	pthread_mutex_lock(&lock);
	for (const struct metric *m = families; m; m = m->next)
		render_family(out, m);
	pthread_mutex_unlock(&lock);
}

void metrics_reset(void)
{
	pthread_mutex_lock(&lock);
	while (families) {
		struct metric *m = families;
		families = m->next;
		for (struct series *s = m->first; s;) {
			struct series *n = s->order;
			for (size_t i = 0; i < m->nlabels; i++)
				free(s->values[i]);
			free(s->values);
			free(s->buckets);
			free(s);
			s = n;
		}
		for (size_t i = 0; i < m->nlabels; i++)
			free(m->labels[i]);
		free(m->bounds);
		free(m->name);
		free(m->help);
		free(m);
	}
	families_tail = NULL;
	overflow = NULL;
	pthread_mutex_unlock(&lock);
}
