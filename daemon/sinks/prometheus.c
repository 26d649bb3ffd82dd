/* Pipeline facts -> Prometheus families. Call observations happen when a
 * call finishes; self-metrics are copied from counters at scrape time. */
#include "sinks/prometheus.h"

#include "core/macros.h"
#include "guard/scan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/metrics.h"
#include "call/pipeline.h"
#include "call/call.h"

static struct metric *m_duration, *m_tokens, *m_ttft, *m_tpot;
static struct metric *m_calls, *m_bytes, *m_chunks, *m_stream_dropped;
static struct metric *m_guard_matches, *m_guard_scan;
static struct metric *m_cost, *m_unpriced;
static struct metric *m_bp_unread, *m_bp_lag, *m_bp_zwin, *m_bp_rcvq, *m_bp_wblock;

static const char *const L_OP[] = {"gen_ai_provider_name", "gen_ai_request_model",
                                   "gen_ai_operation_name", NULL};
static const char *const L_DURATION[] = {"gen_ai_provider_name", "gen_ai_request_model",
                                         "gen_ai_operation_name", "error_type", NULL};
static const char *const L_TOKENS[] = {"gen_ai_provider_name", "gen_ai_request_model",
                                       "gen_ai_operation_name", "gen_ai_token_type", NULL};
static const char *const L_CALLS[] = {"gen_ai_provider_name", "gen_ai_request_model", "status",
                                      NULL};
static const char *const L_PM[] = {"gen_ai_provider_name", "gen_ai_request_model", NULL};
static const char *const L_RULE[] = {"rule", "action", NULL};
static const char *const L_UNPRICED[] = {"gen_ai_provider_name", "gen_ai_request_model", "reason",
                                         NULL};

static const double unread_bounds[] = {0, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304};
static const double lag_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
static const double scan_bounds[] = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 1e-2};
#define B(a) a, ARRAY_LEN(a)

enum family_kind { FK_COUNTER, FK_HISTOGRAM };

/* Families observed per call (or per guardrail scan). */
static const struct call_family {
	struct metric **m;
	const char *name;
	enum family_kind kind;
	const char *const *labels;
	const double *bounds; /* histograms */
	size_t nbounds;
	const size_t *nbounds_ext; /* the count of buckets defined in metrics.c */
	const char *help;
} call_families[] = {
    {&m_duration, "gen_ai_client_operation_duration_seconds", FK_HISTOGRAM, L_DURATION,
     METRIC_BUCKETS_DURATION, 0, &METRIC_NBUCKETS_DURATION,
     "GenAI operation duration (request start to last response byte, or to the terminator)."},
    {&m_tokens, "gen_ai_client_token_usage", FK_HISTOGRAM, L_TOKENS, METRIC_BUCKETS_TOKENS, 0,
     &METRIC_NBUCKETS_TOKENS,
     "Number of input and output tokens used, as reported by the provider."},
    {&m_ttft, "gen_ai_server_time_to_first_token_seconds", FK_HISTOGRAM, L_OP, METRIC_BUCKETS_TTFT,
     0, &METRIC_NBUCKETS_TTFT,
     "Time from the last request byte written to the first content delta read."},
    {&m_tpot, "gen_ai_server_time_per_output_token_seconds", FK_HISTOGRAM, L_OP,
     METRIC_BUCKETS_TPOT, 0, &METRIC_NBUCKETS_TPOT, "Time per output token after the first one."},
    {&m_calls, "llmobs_calls_total", FK_COUNTER, L_CALLS, NULL, 0, NULL,
     "LLM calls finished, by final status."},
    {&m_bytes, "llmobs_stream_bytes_total", FK_COUNTER, L_PM, NULL, 0, NULL,
     "Response body bytes of LLM calls (de-chunked)."},
    {&m_chunks, "llmobs_stream_chunks_total", FK_COUNTER, L_PM, NULL, 0, NULL,
     "SSE chunks of LLM calls."},
    {&m_stream_dropped, "llmobs_stream_dropped_bytes_total", FK_COUNTER, L_PM, NULL, 0, NULL,
     "Bytes of LLM calls lost in capture or cut by limits."},
    {&m_cost, "llmobs_cost_usd_total", FK_COUNTER, L_PM, NULL, 0, NULL,
     "Estimated cost of finished LLM calls, USD, from the price table (cost_usd of each call)."},
    {&m_unpriced, "llmobs_cost_unpriced_calls_total", FK_COUNTER, L_UNPRICED, NULL, 0, NULL,
     "Finished LLM calls without a cost: no_price (model not in the table), no_usage, no_rate."},
    {&m_bp_unread, "llmobs_backpressure_unread_bytes", FK_HISTOGRAM, L_PM, B(unread_bounds), NULL,
     "Per LLM call: the most bytes waiting in the socket when the app read."},
    {&m_bp_lag, "llmobs_backpressure_read_lag_seconds", FK_HISTOGRAM, L_PM, B(lag_bounds), NULL,
     "Per LLM call: p95 of arrival to the SSL read that consumed it."},
    {&m_bp_zwin, "llmobs_backpressure_zero_window_total", FK_COUNTER, L_PM, NULL, 0, NULL,
     "Segments that found the receive window closed."},
    {&m_bp_rcvq, "llmobs_backpressure_rcvq_full_total", FK_COUNTER, L_PM, NULL, 0, NULL,
     "Segments dropped on a full receive queue."},
    {&m_bp_wblock, "llmobs_backpressure_write_blocked_seconds_total", FK_COUNTER, L_PM, NULL, 0,
     NULL, "Time SSL writes of LLM calls spent blocked (>= 1 ms each)."},
    {&m_guard_matches, "llmobs_guardrail_matches_total", FK_COUNTER, L_RULE, NULL, 0, NULL,
     "Guardrail policy matches, by rule and action."},
    {&m_guard_scan, "llmobs_guardrail_scan_seconds", FK_HISTOGRAM, NULL, B(scan_bounds), NULL,
     "Time to scan one piece of request or response text."},
};
#define N_CALL_FAMILIES (ARRAY_LEN(call_families))

/* One registry family per distinct stat_rows family name (rows with the
 * same name are label values of one family). */
#define MAX_STAT_ROWS 96
static struct metric *stat_metric[MAX_STAT_ROWS];
static uint64_t stat_last[MAX_STAT_ROWS]; /* counters: totals at the previous sync */

void prometheus_init(void)
{
	metrics_reset();
	memset(stat_last, 0, sizeof(stat_last));
	for (size_t i = 0; i < N_CALL_FAMILIES; i++) {
		const struct call_family *f = &call_families[i];
		if (f->kind == FK_COUNTER)
			*f->m = metric_counter(f->name, f->help, f->labels);
		else
			*f->m = metric_histogram(f->name, f->help, f->labels, f->bounds,
			                         f->nbounds_ext ? *f->nbounds_ext : f->nbounds);
	}
	if (stat_nrows > MAX_STAT_ROWS)
		abort(); /* a programming error: raise MAX_STAT_ROWS */
	for (size_t i = 0; i < stat_nrows; i++) {
		const struct stat_row *r = &stat_rows[i];
		stat_metric[i] = NULL;
		for (size_t k = 0; k < i && !stat_metric[i]; k++)
			if (!strcmp(stat_rows[k].family, r->family))
				stat_metric[i] = stat_metric[k];
		if (stat_metric[i])
			continue;
		const char *const labels[] = {r->label, NULL};
		const char *const *l = r->label ? labels : NULL;
		stat_metric[i] = r->kind == STAT_COUNTER ? metric_counter(r->family, r->help, l)
		                                         : metric_gauge(r->family, r->help, l);
	}
}

size_t prometheus_families(struct family_info *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < N_CALL_FAMILIES && n < cap; i++)
		out[n++] = (struct family_info){call_families[i].name,
		                                call_families[i].kind == FK_COUNTER ? "counter"
		                                                                    : "histogram"};
	for (size_t i = 0; i < stat_nrows && n < cap; i++) {
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= !strcmp(stat_rows[k].family, stat_rows[i].family);
		if (!dup)
			out[n++] = (struct family_info){
			    stat_rows[i].family,
			    stat_rows[i].kind == STAT_COUNTER ? "counter" : "gauge"};
	}
	return n;
}

static const char *model_of(const struct llm_call *c)
{
	if (c->dec.model[0])
		return c->dec.model;
	return c->dec.response_model[0] ? c->dec.response_model : "unknown";
}

static void on_end(const struct llm_call *c)
{
	const char *prov = llm_provider(&c->dec), *model = model_of(c);
	const char *op = provider_operation(c->dec.provider);
	const char *status = call_status_name(c->status);
	const char *err = c->status == CALL_COMPLETED ? "" : status;

	const char *lcalls[] = {prov, model, status};
	metric_add(m_calls, lcalls, 1);
	const char *lpm[] = {prov, model};
	metric_add(m_bytes, lpm, (double)c->bytes);
	metric_add(m_chunks, lpm, (double)c->chunks);

	double dur = call_duration_ms(c, 0);
	if (dur >= 0) {
		const char *l[] = {prov, model, op, err};
		metric_observe(m_duration, l, dur / 1e3);
	}
	const char *lop[] = {prov, model, op};
	double ttft = call_ttft_ms(c);
	if (ttft >= 0)
		metric_observe(m_ttft, lop, ttft / 1e3);
	double tps = call_tokens_per_second(c);
	if (tps > 0)
		metric_observe(m_tpot, lop, 1.0 / tps);
	if (c->dec.usage.input_tokens >= 0) {
		const char *l[] = {prov, model, op, "input"};
		metric_observe(m_tokens, l, (double)c->dec.usage.input_tokens);
	}
	if (c->dec.usage.output_tokens >= 0) {
		const char *l[] = {prov, model, op, "output"};
		metric_observe(m_tokens, l, (double)c->dec.usage.output_tokens);
	}
	if (c->cost.why == PRICE_OK) {
		metric_add(m_cost, lpm, c->cost.usd);
	} else {
		const char *l[] = {prov, model, price_unpriced_name(c->cost.why)};
		metric_add(m_unpriced, l, 1);
	}
	const struct backpressure *b = &c->bp;
	if (b->n) {
		metric_observe(m_bp_unread, lpm, b->max_unread);
		metric_observe(m_bp_lag, lpm, bp_lag_p95_ms(b) / 1e3);
	}
	if (b->seen) {
		metric_add(m_bp_zwin, lpm, b->zero_window);
		metric_add(m_bp_rcvq, lpm, b->rcvq_full);
	}
	if (b->writes_blocked)
		metric_add(m_bp_wblock, lpm, (double)b->write_blocked_us / 1e6);
}

static void on_guard_hit(const struct llm_call *c, const struct guard_hit *h, bool enforced,
                         const char *error)
{
	(void)c, (void)enforced, (void)error;
	const char *l[] = {h->rule->id, guard_action_name(h->rule->action)};
	metric_add(m_guard_matches, l, 1);
}

static void on_guard_scan(double seconds)
{
	metric_observe(m_guard_scan, NULL, seconds);
}

static void on_dropped(const struct llm_call *c, uint64_t n)
{
	const char *l[] = {llm_provider(&c->dec), model_of(c)};
	metric_add(m_stream_dropped, l, (double)n);
}

const struct call_sink prometheus_sink = {
    .name = "prometheus",
    .end = on_end,
    .dropped = on_dropped,
    .guard_hit = on_guard_hit,
    .guard_scan = on_guard_scan,
};

/* Counters we only know as totals: add what grew since the last sync. */
void prometheus_sync(const struct stats_view *v)
{
	for (size_t i = 0; i < stat_nrows; i++) {
		const struct stat_row *r = &stat_rows[i];
		if ((r->section == STAT_CAPTURE && !v->have_capture) ||
		    (r->section == STAT_PIPELINE && !v->have_pipeline))
			continue;
		const char *const lv[] = {r->label_value};
		const char *const *l = r->label ? lv : NULL;
		uint64_t now = stat_value(r, v);
		double scale = r->scale ? r->scale : 1;
		if (r->kind == STAT_GAUGE) {
			metric_set(stat_metric[i], l, (double)now * scale);
		} else {
			if (now > stat_last[i])
				metric_add(stat_metric[i], l, (double)(now - stat_last[i]) * scale);
			stat_last[i] = now;
		}
	}
}
