/* The self-metrics table (see stats.h). A new counter is one row here. */
#include "stats.h"

#define P(field) offsetof(struct stats_view, p.field)
#define C(field) offsetof(struct stats_view, c.field)

/* clang-format off */
const struct stat_row stat_rows[] = {
    {"llmobs_capture_events_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "events", C(events),
     "Records the BPF programs submitted to the ring buffer."},
    {"llmobs_capture_dropped_events_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "dropped_events",
     C(rb_drops), "Records lost because the ring buffer was full."},
    {"llmobs_capture_dropped_bytes_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "dropped_bytes",
     C(rb_drop_bytes), "Payload bytes in records lost to a full ring buffer."},
    {"llmobs_capture_truncated_bytes_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE,
     "truncated_bytes", C(trunc_bytes), "Bytes of SSL calls beyond the per-call copy limit."},
    {"llmobs_capture_read_faults_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "read_faults",
     C(read_faults), "Plaintext buffers the kernel could not read."},
    {"llmobs_capture_muted_calls_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "muted_calls",
     C(muted_calls),
     "SSL calls not copied: their connection is the server side of a local TLS server, or not "
     "HTTP/1."},
    {"llmobs_probe_hits_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "probe_hits", C(hits),
     "SSL uprobe/uretprobe executions, traced processes or not."},
    {"llmobs_probes_attached", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "probes_attached",
     C(probes_attached), "uprobes and uretprobes attached."},
    {"llmobs_probe_attached", STAT_GAUGE, "kind", "library", STAT_CAPTURE, "probe_files_library",
     C(probe_files[0]), "Files carrying OpenSSL with probes attached, by kind."},
    {"llmobs_probe_attached", STAT_GAUGE, "kind", "executable", STAT_CAPTURE,
     "probe_files_executable", C(probe_files[1]), NULL},
    {"llmobs_probe_attach_errors_total", STAT_COUNTER, NULL, NULL, STAT_CAPTURE, "attach_errors",
     C(attach_errors), "Uprobes that failed to attach."},
    {"llmobs_ringbuf_size_bytes", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "ringbuf_bytes",
     C(ringbuf_bytes), "BPF ring buffer size."},
    {"llmobs_ringbuf_used_bytes", STAT_GAUGE, NULL, NULL, STAT_CAPTURE, "ringbuf_used_bytes",
     C(ringbuf_used), "Ring buffer bytes written by BPF, not yet consumed."},
    {"llmobs_ringbuf_used_max_bytes", STAT_GAUGE, NULL, NULL, STAT_CAPTURE,
     "ringbuf_used_max_bytes", C(ringbuf_used_max),
     "Most ring buffer bytes seen waiting before a drain."},

    {"llmobs_pipeline_data_records_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "data_events",
     P(events[LLMOBS_EV_DATA]), "Data records (plaintext pieces) the pipeline received."},
    {"llmobs_pipeline_bad_records_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "bad_events",
     P(bad_events), "Records of a wrong size or type, rejected."},
    {"llmobs_capture_bytes_total", STAT_COUNTER, "direction", "write", STAT_PIPELINE, "write_bytes",
     P(data_bytes[LLMOBS_DIR_WRITE]), "Plaintext bytes captured, by direction."},
    {"llmobs_capture_bytes_total", STAT_COUNTER, "direction", "read", STAT_PIPELINE, "read_bytes",
     P(data_bytes[LLMOBS_DIR_READ]), NULL},
    {"llmobs_capture_lost_bytes_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "lost_bytes",
     P(lost_bytes), "Bytes missing from connection byte streams (gaps seen by the pipeline)."},
    {"llmobs_capture_gaps_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "gaps", P(gaps),
     "Gaps in connection byte streams (records lost before the pipeline)."},
    {"llmobs_capture_duplicate_bytes_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "duplicate_bytes", P(duplicate_bytes), "Bytes seen twice (overlapping records), parsed once."},
    {"llmobs_capture_write_retry_bytes_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "write_retry_bytes", P(write_retry_bytes),
     "Bytes of SSL writes that failed and were retried by the app."},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "not_http", STAT_PIPELINE,
     "ignored_not_http_bytes", P(ignored_bytes[IGNORE_NOT_HTTP]),
     "Captured bytes not parsed, by reason."},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "server_side", STAT_PIPELINE,
     "ignored_server_side_bytes", P(ignored_bytes[IGNORE_SERVER_SIDE]), NULL},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "resync", STAT_PIPELINE,
     "ignored_resync_bytes", P(ignored_bytes[IGNORE_RESYNC]), NULL},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "unmatched", STAT_PIPELINE,
     "ignored_unmatched_bytes", P(ignored_bytes[IGNORE_UNMATCHED]), NULL},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "encoding", STAT_PIPELINE,
     "ignored_encoding_bytes", P(ignored_bytes[IGNORE_ENCODING]), NULL},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "after_end", STAT_PIPELINE,
     "ignored_after_end_bytes", P(ignored_bytes[IGNORE_AFTER_END]), NULL},
    {"llmobs_parse_errors_total", STAT_COUNTER, "stage", "http", STAT_PIPELINE, "http_parse_errors",
     P(parse_errors_http), "Inputs a pipeline stage could not parse."},
    {"llmobs_parse_errors_total", STAT_COUNTER, "stage", "json", STAT_PIPELINE, "json_parse_errors",
     P(parse_errors_json), NULL},
    {"llmobs_parse_errors_total", STAT_COUNTER, "stage", "body", STAT_PIPELINE, "body_parse_errors",
     P(parse_errors_body), NULL},
    {"llmobs_capture_ignored_bytes_total", STAT_COUNTER, "reason", "decode_limit", STAT_PIPELINE,
     "ignored_decode_limit_bytes", P(ignored_bytes[IGNORE_DECODE_LIMIT]), NULL},
    {"llmobs_decode_limit_calls_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE,
     "decode_limit_calls", P(decode_limit_calls),
     "Calls whose compressed body inflated past the limit (32 MiB, or 200x past 1 MiB): "
     "truncated."},
    {"llmobs_connections_active", STAT_GAUGE, NULL, NULL, STAT_PIPELINE, "connections_active",
     P(conns_active), "Connections being tracked."},
    {"llmobs_connections_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "connections_total",
     P(conns_total), "Connections seen."},
    {"llmobs_connections_muted_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "connections_muted",
     P(conns_muted), "TLS connections no longer copied (server side, or not HTTP/1)."},
    {"llmobs_calls_started_total", STAT_COUNTER, NULL, NULL, STAT_PIPELINE, "calls_total",
     P(calls_total), "LLM calls seen (their request headers were parsed)."},
    {"llmobs_streams_active", STAT_GAUGE, NULL, NULL, STAT_PIPELINE, "streams_active",
     offsetof(struct stats_view, streams_active), "LLM calls in flight."},
};
/* clang-format on */
const size_t stat_nrows = sizeof(stat_rows) / sizeof(stat_rows[0]);

cJSON *stats_to_json(const struct stats_view *v)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *sec[2] = {cJSON_AddObjectToObject(j, "capture"),
	                 cJSON_AddObjectToObject(j, "pipeline")};
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
