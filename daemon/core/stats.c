/* The self-metrics table (see stats.h). A new counter is one row here. */
#include "core/stats.h"
#include "core/macros.h"
#include "llmobs/event.h"

struct pipeline_stats pstats;

#define P(field) offsetof(struct stats_view, p.field)
#define C(field) offsetof(struct stats_view, c.field)
/* rows served as they are (scale 1) */
#define ROW(...)                                                                                   \
	{                                                                                          \
		__VA_ARGS__, 0                                                                     \
	}
#define A(field) offsetof(struct stats_view, api.field)
#define S(field) offsetof(struct stats_view, store.field)
#define I(field) offsetof(struct stats_view, ingest.field)

/* clang-format off */
const struct stat_row stat_rows[] = {
    ROW("llmobs_capture_events_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "events", C(events),
     "Records the BPF programs submitted to the ring buffer."),
    ROW("llmobs_capture_dropped_events_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "dropped_events",
     C(rb_drops), "Records lost because the ring buffer was full."),
    ROW("llmobs_capture_dropped_bytes_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "dropped_bytes",
     C(rb_drop_bytes), "Payload bytes in records lost to a full ring buffer."),
    ROW("llmobs_capture_truncated_bytes_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE,
     "truncated_bytes", C(trunc_bytes), "Bytes of SSL calls beyond the per-call copy limit."),
    ROW("llmobs_capture_read_faults_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "read_faults",
     C(read_faults), "Plaintext buffers the kernel could not read."),
    ROW("llmobs_capture_muted_calls_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "muted_calls",
     C(muted_calls),
     "SSL calls not copied: their connection is the server side of a local TLS server, or not "
     "HTTP/1."),
    ROW("llmobs_probe_hits_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "probe_hits", C(hits),
     "SSL uprobe/uretprobe executions, traced processes or not."),
    ROW("llmobs_probes_attached", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "probes_attached",
     C(probes_attached), "uprobes and uretprobes attached."),
    ROW("llmobs_probed_files", STAT_GAUGE, "kind", "library", STAT_CAPTURE, "probe_files_library",
     C(probe_files[0]), "Files carrying OpenSSL with probes attached, by kind."),
    ROW("llmobs_probed_files", STAT_GAUGE, "kind", "executable", STAT_CAPTURE,
     "probe_files_executable", C(probe_files[1]), NULL),
    ROW("llmobs_probe_attach_errors_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "attach_errors",
     C(attach_errors), "Uprobes that failed to attach."),
    ROW("llmobs_ringbuf_size_bytes", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "ringbuf_bytes",
     C(ringbuf_bytes), "BPF ring buffer size."),
    ROW("llmobs_ringbuf_used_bytes", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "ringbuf_used_bytes",
     C(ringbuf_used), "Ring buffer bytes written by BPF, not yet consumed."),
    ROW("llmobs_ringbuf_used_max_bytes", STAT_GAUGE, NULL, NULL, STAT_CAPTURE,
     "ringbuf_used_max_bytes", C(ringbuf_used_max),
     "Most ring buffer bytes seen waiting before a drain."),

    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "no_tls_library", STAT_CAPTURE,
     "unobserved_no_tls_library", C(unobserved[UNOBS_NO_TLS_LIBRARY]), "TLS connections no probe saw (GET /api/v1/blind says which processes), by reason."),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "boringssl_not_located", STAT_CAPTURE,
     "unobserved_boringssl_not_located", C(unobserved[UNOBS_BORINGSSL]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "rustls_unsupported", STAT_CAPTURE,
     "unobserved_rustls_unsupported", C(unobserved[UNOBS_RUSTLS]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "go_not_probed", STAT_CAPTURE,
     "unobserved_go_not_probed", C(unobserved[UNOBS_GO]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "openssl_no_symbols", STAT_CAPTURE,
     "unobserved_openssl_no_symbols", C(unobserved[UNOBS_OPENSSL_NO_SYMBOLS]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "probed_no_call", STAT_CAPTURE,
     "unobserved_probed_no_call", C(unobserved[UNOBS_PROBED_NO_CALL]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "library_not_probed", STAT_CAPTURE,
     "unobserved_library_not_probed", C(unobserved[UNOBS_OTHER_LIBRARY]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "unknown_stack", STAT_CAPTURE,
     "unobserved_unknown_stack", C(unobserved[UNOBS_UNKNOWN_STACK]), NULL),
    ROW("llmobs_unobserved_connections_total", STAT_COUNTER, "reason", "before_probed", STAT_CAPTURE,
     "unobserved_before_probed", C(unobserved[UNOBS_BEFORE_PROBED]), NULL),

    ROW("llmobs_pipeline_data_records_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "data_events",
     P(events[LLMOBS_EV_DATA]), "Data records (plaintext pieces) the pipeline received."),
    ROW("llmobs_pipeline_bad_records_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "bad_events",
     P(bad_events), "Records of a wrong size or type, rejected."),
    ROW("llmobs_capture_bytes_total", STAT_COUNTER, "direction", "write", STAT_PIPELINE, "write_bytes",
     P(data_bytes[LLMOBS_DIR_WRITE]), "Plaintext bytes captured, by direction."),
    ROW("llmobs_capture_bytes_total", STAT_COUNTER, "direction", "read", STAT_PIPELINE, "read_bytes",
     P(data_bytes[LLMOBS_DIR_READ]), NULL),
    ROW("llmobs_capture_lost_bytes_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "lost_bytes",
     P(lost_bytes), "Bytes missing from connection byte streams (gaps seen by the pipeline)."),
    ROW("llmobs_capture_gaps_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "gaps", P(gaps),
     "Gaps in connection byte streams (records lost before the pipeline)."),
    ROW("llmobs_capture_duplicate_bytes_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "duplicate_bytes", P(duplicate_bytes), "Bytes seen twice (overlapping records), parsed once."),
    ROW("llmobs_capture_write_retry_bytes_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "write_retry_bytes", P(write_retry_bytes),
     "Bytes of TLS writes copied but not written (failed or partial), written again by the app."),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "not_http", STAT_PIPELINE,
     "ignored_not_http_bytes", P(ignored_bytes[IGNORE_NOT_HTTP]),
     "Captured bytes not parsed, by reason."),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "server_side", STAT_PIPELINE,
     "ignored_server_side_bytes", P(ignored_bytes[IGNORE_SERVER_SIDE]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "resync", STAT_PIPELINE,
     "ignored_resync_bytes", P(ignored_bytes[IGNORE_RESYNC]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "unmatched", STAT_PIPELINE,
     "ignored_unmatched_bytes", P(ignored_bytes[IGNORE_UNMATCHED]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "encoding", STAT_PIPELINE,
     "ignored_encoding_bytes", P(ignored_bytes[IGNORE_ENCODING]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "after_end", STAT_PIPELINE,
     "ignored_after_end_bytes", P(ignored_bytes[IGNORE_AFTER_END]), NULL),
    ROW("llmobs_parse_errors_total", STAT_COUNTER, "stage", "http", STAT_PIPELINE, "http_parse_errors",
     P(parse_errors_http), "Inputs a pipeline stage could not parse."),
    ROW("llmobs_parse_errors_total", STAT_COUNTER, "stage", "json", STAT_PIPELINE, "json_parse_errors",
     P(parse_errors_json), NULL),
    ROW("llmobs_parse_errors_total", STAT_COUNTER, "stage", "body", STAT_PIPELINE, "body_parse_errors",
     P(parse_errors_body), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "decode_limit", STAT_PIPELINE,
     "ignored_decode_limit_bytes", P(ignored_bytes[IGNORE_DECODE_LIMIT]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "hpack_state", STAT_PIPELINE,
     "ignored_hpack_state_bytes", P(ignored_bytes[IGNORE_HPACK_STATE]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "other_protocol", STAT_PIPELINE,
     "ignored_other_protocol_bytes", P(ignored_bytes[IGNORE_OTHER_PROTO]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "ws_unparsed", STAT_PIPELINE,
     "ignored_ws_unparsed_bytes", P(ignored_bytes[IGNORE_WS_UNPARSED]), NULL),
    ROW("llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "ws_unmatched", STAT_PIPELINE,
     "ignored_ws_unmatched_bytes", P(ignored_bytes[IGNORE_WS_UNMATCHED]), NULL),
    ROW("llmobs_parse_errors_total", STAT_COUNTER, "stage", "h2", STAT_PIPELINE, "h2_parse_errors",
     P(parse_errors_h2), NULL),
    ROW("llmobs_parse_errors_total", STAT_COUNTER, "stage", "websocket", STAT_PIPELINE,
     "ws_parse_errors", P(parse_errors_ws), NULL),
    ROW("llmobs_ws_unparsed_messages_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "ws_unparsed_messages", P(ws_unparsed_messages),
     "WebSocket messages that could not be decoded (deflate context unknown after a join, "
     "corrupt, larger than 4 MiB)."),
    ROW("llmobs_h2_headers_lost_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "h2_headers_lost",
     P(h2_headers_lost),
     "HTTP/2 header blocks that could not be decoded (HPACK state unknown after a join or gap)."),
    ROW("llmobs_unparsed_exchanges_total", STAT_COUNTER, "reason", "hpack_state", STAT_PIPELINE,
     "unparsed_hpack_state", P(unparsed[UNPARSED_HPACK_STATE]),
     "Requests seen but not parsed, by reason."),
    ROW("llmobs_unparsed_exchanges_total", STAT_COUNTER, "reason", "h2_streams", STAT_PIPELINE,
     "unparsed_h2_streams", P(unparsed[UNPARSED_H2_STREAMS]), NULL),
    ROW("llmobs_unparsed_exchanges_total", STAT_COUNTER, "reason", "ws_message", STAT_PIPELINE,
     "unparsed_ws_message", P(unparsed[UNPARSED_WS_MESSAGE]), NULL),
    ROW("llmobs_decode_limit_calls_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "decode_limit_calls", P(decode_limit_calls),
     "Calls whose compressed body inflated past the limit (32 MiB, or 200x past 1 MiB): "
     "truncated."),
    ROW("llmobs_connections_active", STAT_GAUGE, NULL, NULL, STAT_PIPELINE, "connections_active",
     P(conns_active), "Connections being tracked."),
    ROW("llmobs_connections_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "connections_total",
     P(conns_total), "Connections seen."),
    ROW("llmobs_connections_unparsed", STAT_GAUGE, NULL, NULL, STAT_PIPELINE, "connections_unparsed",
     P(conns_unparsed),
     "Connections seen but not parsed (GET /api/v1/connections?state=unparsed says why)."),
    ROW("llmobs_connections_muted_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "connections_muted",
     P(conns_muted), "TLS connections no longer copied (server side, or not HTTP)."),
    ROW("llmobs_calls_started_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "calls_total",
     P(calls_total), "LLM calls seen (their request headers were parsed)."),
    ROW("llmobs_streams_active", STAT_GAUGE, NULL, NULL, STAT_PIPELINE, "streams_active",
     offsetof(struct stats_view, streams_active), "LLM calls in flight."),
    {"llmobs_pipeline_stall_seconds", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "stall_ms",
     offsetof(struct stats_view, stall_ms),
     "Time since the capture loop last finished a pass (a few ms when healthy; /healthz "
     "answers 503 past 5 s).",
     0.001},
    ROW("llmobs_api_refused_connections_total", STAT_COUNTER, "reason", "header_timeout", STAT_API,
     "header_timeouts", A(header_timeouts),
     "API connections closed or refused so that no client locks others out, by reason."),
    ROW("llmobs_api_refused_connections_total", STAT_COUNTER, "reason", "pending_evicted", STAT_API,
     "pending_evicted", A(pending_evicted), NULL),
    ROW("llmobs_api_refused_connections_total", STAT_COUNTER, "reason", "per_address", STAT_API,
     "address_refused", A(address_refused), NULL),
    ROW("llmobs_api_refused_connections_total", STAT_COUNTER, "reason", "followers", STAT_API,
     "followers_refused", A(followers_refused), NULL),
    ROW("llmobs_store_calls_total", STAT_COUNTER, NULL, NULL, STAT_STORE, "stored", S(stored),
     "Finished calls written to the history store."),
    ROW("llmobs_store_dropped_calls_total", STAT_COUNTER, NULL, NULL, STAT_STORE, "dropped",
     S(dropped), "Finished calls not stored: the store's writer was behind (its queue full)."),
    ROW("llmobs_store_failed_calls_total", STAT_COUNTER, NULL, NULL, STAT_STORE, "failed",
     S(failed), "Finished calls not stored: writing their batch failed (logged)."),
    ROW("llmobs_store_pruned_calls_total", STAT_COUNTER, NULL, NULL, STAT_STORE, "pruned",
     S(pruned), "Stored calls deleted by --retention or --store-max-mib, oldest first."),
    ROW("llmobs_store_bytes", STAT_GAUGE, NULL, NULL, STAT_STORE, "bytes", S(bytes),
     "Bytes the history store's data takes in its file."),
    ROW("llmobs_store_queued_calls", STAT_GAUGE, NULL, NULL, STAT_STORE, "queued", S(queued),
     "Finished calls waiting for the store's writer."),
    ROW("llmobs_store_prompt_bytes_cut_total", STAT_COUNTER, NULL, NULL, STAT_STORE,
     "prompt_bytes_cut", S(prompt_cut),
     "Bytes of prompt text not stored: the oldest part of prompts over 32 KiB."),
    ROW("llmobs_ingest_reports_total", STAT_COUNTER, "kind", "request", STAT_INGEST, "requests",
     I(requests), "Reports accepted by POST /v1/llm/request and /v1/llm/response, by kind."),
    ROW("llmobs_ingest_reports_total", STAT_COUNTER, "kind", "response", STAT_INGEST,
     "responses", I(responses), NULL),
    ROW("llmobs_ingest_rejected_reports_total", STAT_COUNTER, NULL, NULL, STAT_INGEST,
     "rejected", I(rejected),
     "Reports refused: a malformed or oversized body (400, 413), a duplicate (409), too many "
     "waiting (429)."),
    ROW("llmobs_ingest_joined_calls_total", STAT_COUNTER, NULL, NULL, STAT_INGEST, "joined",
     I(joined), "Calls made of a request and its response joined by request_id."),
    ROW("llmobs_ingest_expired_calls_total", STAT_COUNTER, NULL, NULL, STAT_INGEST, "expired",
     I(expired),
     "Calls made of a report whose partner did not come within the TTL (marked aborted or "
     "error)."),
    ROW("llmobs_ingest_waiting_reports", STAT_GAUGE, NULL, NULL, STAT_INGEST, "waiting",
     I(pending), "Reports waiting for their partner."),

};
/* clang-format on */
const size_t stat_nrows = ARRAY_LEN(stat_rows);

cJSON *stats_to_json(const struct stats_view *v)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *sec[5] = {cJSON_AddObjectToObject(j, "capture"),
	                 cJSON_AddObjectToObject(j, "pipeline"), cJSON_AddObjectToObject(j, "api"),
	                 cJSON_AddObjectToObject(j, "store"), cJSON_AddObjectToObject(j, "ingest")};
	for (size_t i = 0; i < stat_nrows; i++)
		cJSON_AddNumberToObject(sec[stat_rows[i].section], stat_rows[i].key,
		                        (double)stat_value(&stat_rows[i], v));
	/* the total of the per-kind rows, as served before they existed */
	cJSON_AddNumberToObject(sec[STAT_CAPTURE], "probe_files",
	                        (double)(v->c.probe_files[0] + v->c.probe_files[1]));
	cJSON *dl = cJSON_AddObjectToObject(sec[STAT_CAPTURE], "visibility_delay_ms");
	cJSON_AddNumberToObject(dl, "samples", (double)v->c.delay_samples);
	cJSON_AddNumberToObject(dl, "p50", v->c.delay_p50_us / 1e3);
	cJSON_AddNumberToObject(dl, "p99", v->c.delay_p99_us / 1e3);
	cJSON_AddNumberToObject(dl, "max", v->c.delay_max_us / 1e3);
	return j;
}
