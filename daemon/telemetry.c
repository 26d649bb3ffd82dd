/* Pipeline facts -> Prometheus families. Call observations happen when a
 * call finishes; self-metrics are copied from counters at scrape time. */
#include "telemetry.h"

#include "guard.h"

#include <string.h>

#include "metrics.h"
#include "pipeline.h"
#include "stream.h"

static struct metric *m_duration, *m_tokens, *m_ttft, *m_tpot;
static struct metric *m_active, *m_calls, *m_bytes, *m_chunks, *m_stream_dropped;
static struct metric *m_cap_events, *m_cap_drops, *m_cap_drop_bytes, *m_cap_trunc, *m_cap_faults;
static struct metric *m_muted, *m_guard_matches, *m_guard_scan;
static struct metric *m_bp_unread, *m_bp_lag, *m_bp_zwin, *m_bp_rcvq, *m_bp_wblock;
static struct metric *m_hits, *m_probes, *m_probe_files, *m_attach_errors, *m_ringbuf, *m_ring_used,
    *m_ring_max, *m_lost, *m_ignored, *m_parse_errors;
static struct metric *m_conns, *m_write_retry, *m_data_bytes;
static uint64_t last[32]; /* totals at the previous sync, see counter_to() */

static const char *const L_OP[] = {"gen_ai_provider_name", "gen_ai_request_model",
                                   "gen_ai_operation_name", NULL};
static const char *const L_DURATION[] = {"gen_ai_provider_name", "gen_ai_request_model",
                                         "gen_ai_operation_name", "error_type", NULL};
static const char *const L_TOKENS[] = {"gen_ai_provider_name", "gen_ai_request_model",
                                       "gen_ai_operation_name", "gen_ai_token_type", NULL};
static const char *const L_CALLS[] = {"gen_ai_provider_name", "gen_ai_request_model", "status",
                                      NULL};
static const char *const L_PM[] = {"gen_ai_provider_name", "gen_ai_request_model", NULL};

void telemetry_init(void)
{
	metrics_reset();
	memset(last, 0, sizeof(last));
	m_duration =
	    metric_histogram("gen_ai_client_operation_duration_seconds",
	                     "GenAI operation duration (request start to last response byte).",
	                     L_DURATION, METRIC_BUCKETS_DURATION, METRIC_NBUCKETS_DURATION);
	m_tokens =
	    metric_histogram("gen_ai_client_token_usage",
	                     "Number of input and output tokens used, as reported by the provider.",
	                     L_TOKENS, METRIC_BUCKETS_TOKENS, METRIC_NBUCKETS_TOKENS);
	m_ttft = metric_histogram(
	    "gen_ai_server_time_to_first_token_seconds",
	    "Time from the last request byte written to the first content delta read.", L_OP,
	    METRIC_BUCKETS_TTFT, METRIC_NBUCKETS_TTFT);
	m_tpot = metric_histogram("gen_ai_server_time_per_output_token_seconds",
	                          "Time per output token after the first one.", L_OP,
	                          METRIC_BUCKETS_TPOT, METRIC_NBUCKETS_TPOT);
	static const double unread_bounds[] = {0,     1024,   4096,    16384,
	                                       65536, 262144, 1048576, 4194304};
	static const double lag_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
	m_bp_unread = metric_histogram(
	    "llmobs_backpressure_unread_bytes",
	    "Per LLM call: the most bytes waiting in the socket when the app read.", L_PM,
	    unread_bounds, sizeof(unread_bounds) / sizeof(unread_bounds[0]));
	m_bp_lag =
	    metric_histogram("llmobs_backpressure_read_lag_seconds",
	                     "Per LLM call: p95 of arrival to the SSL read that consumed it.", L_PM,
	                     lag_bounds, sizeof(lag_bounds) / sizeof(lag_bounds[0]));
	m_bp_zwin = metric_counter("llmobs_backpressure_zero_window_total",
	                           "Segments that found the receive window closed.", L_PM);
	m_bp_rcvq = metric_counter("llmobs_backpressure_rcvq_full_total",
	                           "Segments dropped on a full receive queue.", L_PM);
	m_bp_wblock =
	    metric_counter("llmobs_backpressure_write_blocked_seconds_total",
	                   "Time SSL writes of LLM calls spent blocked (>= 1 ms each).", L_PM);
	m_muted = metric_counter("llmobs_capture_muted_calls_total",
	                         "SSL calls not copied: their connection is the server side of a "
	                         "local TLS server, or not HTTP/1.",
	                         NULL);
	static const char *const L_RULE[] = {"rule", "action", NULL};
	m_guard_matches = metric_counter("llmobs_guardrail_matches_total",
	                                 "Guardrail policy matches, by rule and action.", L_RULE);
	static const double scan_bounds[] = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 1e-2};
	m_guard_scan = metric_histogram("llmobs_guardrail_scan_seconds",
	                                "Time to scan one piece of request or response text.", NULL,
	                                scan_bounds, sizeof(scan_bounds) / sizeof(scan_bounds[0]));
	m_active = metric_gauge("llmobs_streams_active", "LLM calls in flight.", NULL);
	m_calls =
	    metric_counter("llmobs_calls_total", "LLM calls finished, by final status.", L_CALLS);
	m_bytes = metric_counter("llmobs_stream_bytes_total",
	                         "Response body bytes of LLM calls (de-chunked).", L_PM);
	m_chunks = metric_counter("llmobs_stream_chunks_total", "SSE chunks of LLM calls.", L_PM);
	m_stream_dropped =
	    metric_counter("llmobs_stream_dropped_bytes_total",
	                   "Bytes of LLM calls lost in capture or cut by limits.", L_PM);
	m_cap_events =
	    metric_counter("llmobs_capture_events_total",
	                   "Records the BPF programs submitted to the ring buffer.", NULL);
	m_cap_drops = metric_counter("llmobs_capture_dropped_events_total",
	                             "Records lost because the ring buffer was full.", NULL);
	m_cap_drop_bytes =
	    metric_counter("llmobs_capture_dropped_bytes_total",
	                   "Payload bytes in records lost to a full ring buffer.", NULL);
	m_cap_trunc = metric_counter("llmobs_capture_truncated_bytes_total",
	                             "Bytes of SSL calls beyond the per-call copy limit.", NULL);
	m_cap_faults = metric_counter("llmobs_capture_read_faults_total",
	                              "Plaintext buffers the kernel could not read.", NULL);
	m_lost = metric_counter(
	    "llmobs_capture_lost_bytes_total",
	    "Bytes missing from connection byte streams (gaps seen by the pipeline).", NULL);
	static const char *const L_REASON[] = {"reason", NULL};
	m_ignored = metric_counter("llmobs_capture_ignored_bytes_total",
	                           "Captured bytes not parsed, by reason.", L_REASON);
	static const char *const L_STAGE[] = {"stage", NULL};
	m_parse_errors = metric_counter("llmobs_parse_errors_total",
	                                "Inputs a pipeline stage could not parse.", L_STAGE);
	static const char *const L_DIR[] = {"direction", NULL};
	m_data_bytes = metric_counter("llmobs_capture_bytes_total",
	                              "Plaintext bytes captured, by direction.", L_DIR);
	m_write_retry =
	    metric_counter("llmobs_capture_write_retry_bytes_total",
	                   "Bytes of SSL writes that failed and were retried by the app.", NULL);
	m_conns = metric_gauge("llmobs_connections_active", "TLS connections being tracked.", NULL);
	m_hits = metric_counter("llmobs_probe_hits_total",
	                        "SSL uprobe/uretprobe executions, traced processes or not.", NULL);
	static const char *const L_KIND[] = {"kind", NULL};
	m_probe_files =
	    metric_gauge("llmobs_probe_attached",
	                 "Files carrying OpenSSL with probes attached, by kind.", L_KIND);
	m_attach_errors = metric_counter("llmobs_probe_attach_errors_total",
	                                 "Uprobes that failed to attach.", NULL);
	m_probes = metric_gauge("llmobs_probes_attached", "uprobes and uretprobes attached.", NULL);
	m_ringbuf = metric_gauge("llmobs_ringbuf_size_bytes", "BPF ring buffer size.", NULL);
	m_ring_used = metric_gauge("llmobs_ringbuf_used_bytes",
	                           "Ring buffer bytes written by BPF, not yet consumed.", NULL);
	m_ring_max = metric_gauge("llmobs_ringbuf_used_max_bytes",
	                          "Most ring buffer bytes seen waiting before a drain.", NULL);
}

static const char *model_of(const struct llm_call *c)
{
	if (c->dec.model[0])
		return c->dec.model;
	return c->dec.response_model[0] ? c->dec.response_model : "unknown";
}

void telemetry_call_started(const struct llm_call *c)
{
	(void)c;
}

void telemetry_call_finished(const struct llm_call *c)
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

void telemetry_guardrail_match(const struct guard_rule *r)
{
	const char *l[] = {r->id, guard_action_name(r->action)};
	metric_add(m_guard_matches, l, 1);
}

void telemetry_guardrail_scan(double seconds)
{
	metric_observe(m_guard_scan, NULL, seconds);
}

void telemetry_dropped_bytes(const struct llm_call *c, uint64_t n)
{
	const char *l[] = {llm_provider(&c->dec), model_of(c)};
	metric_add(m_stream_dropped, l, (double)n);
}

/* Counters we only know as totals: add what grew since the last sync. */
static void counter_to(struct metric *m, const char *const *labels, uint64_t *last, uint64_t now)
{
	if (now > *last)
		metric_add(m, labels, (double)(now - *last));
	*last = now;
}

void telemetry_sync(const struct capture_stats *cs)
{
	static const char *const reasons[IGNORE__MAX] = {[IGNORE_NOT_HTTP] = "not_http",
	                                                 [IGNORE_SERVER_SIDE] = "server_side",
	                                                 [IGNORE_RESYNC] = "resync",
	                                                 [IGNORE_UNMATCHED] = "unmatched",
	                                                 [IGNORE_ENCODING] = "encoding"};
	int i = 0;

	metric_set(m_active, NULL, stream_active_count());
	metric_set(m_conns, NULL, (double)pstats.conns_active);
	counter_to(m_lost, NULL, &last[i++], pstats.lost_bytes);
	counter_to(m_write_retry, NULL, &last[i++], pstats.write_retry_bytes);
	for (int r = 0; r < IGNORE__MAX; r++) {
		const char *l[] = {reasons[r]};
		counter_to(m_ignored, l, &last[i++], pstats.ignored_bytes[r]);
	}
	const char *lhttp[] = {"http"}, *ljson[] = {"json"};
	counter_to(m_parse_errors, lhttp, &last[i++], pstats.parse_errors_http);
	counter_to(m_parse_errors, ljson, &last[i++], pstats.parse_errors_json);
	const char *lbody[] = {"body"};
	counter_to(m_parse_errors, lbody, &last[i++], pstats.parse_errors_body);
	const char *lw[] = {"write"}, *lr[] = {"read"};
	counter_to(m_data_bytes, lw, &last[i++], pstats.data_bytes[LLMOBS_DIR_WRITE]);
	counter_to(m_data_bytes, lr, &last[i++], pstats.data_bytes[LLMOBS_DIR_READ]);
	if (!cs)
		return;
	counter_to(m_cap_events, NULL, &last[i++], cs->events);
	counter_to(m_cap_drops, NULL, &last[i++], cs->rb_drops);
	counter_to(m_cap_drop_bytes, NULL, &last[i++], cs->rb_drop_bytes);
	counter_to(m_cap_trunc, NULL, &last[i++], cs->trunc_bytes);
	counter_to(m_cap_faults, NULL, &last[i++], cs->read_faults);
	counter_to(m_hits, NULL, &last[i++], cs->hits);
	metric_set(m_probes, NULL, cs->probes_attached);
	const char *llib[] = {"library"}, *lexe[] = {"executable"};
	metric_set(m_probe_files, llib, cs->probe_files[0]);
	metric_set(m_probe_files, lexe, cs->probe_files[1]);
	counter_to(m_attach_errors, NULL, &last[i++], cs->attach_errors);
	counter_to(m_muted, NULL, &last[i++], cs->muted_calls);
	metric_set(m_ringbuf, NULL, (double)cs->ringbuf_bytes);
	metric_set(m_ring_used, NULL, (double)cs->ringbuf_used);
	metric_set(m_ring_max, NULL, (double)cs->ringbuf_used_max);
}
