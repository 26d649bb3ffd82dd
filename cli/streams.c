/* `streams`, `show` and `health`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_streams(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"state", required_argument, NULL, 's'},
	    {"provider", required_argument, NULL, 'P'},
	    {"model", required_argument, NULL, 'm'},
	    {"pid", required_argument, NULL, 'p'},
	    {"limit", required_argument, NULL, 'l'},
	    {"comm", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct query q = {.s = ""};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			query_add(&q, "state", optarg);
			break;
		case 'P':
			query_add(&q, "provider", optarg);
			break;
		case 'm':
			query_add(&q, "model", optarg);
			break;
		case 'p':
			query_add(&q, "pid", optarg);
			break;
		case 'c':
			query_add(&q, "comm", optarg);
			break;
		case 'l':
			query_add(&q, "limit", optarg);
			break;
		case 'h':
			printf("Usage: llmobs-cli streams [--json] [--state active|recent] "
			       "[--provider P] [--model M] [--pid N] [--comm NAME] [--limit N]\n"
			       "Active and recent LLM calls, newest first. --comm matches the\n"
			       "process name (the calling thread's name is the stream's "
			       "\"thread\").\n");
			return EXIT_OK;
		default:
			return cli_usage_error("streams", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("streams", "unexpected argument");
	if (q.full)
		return cli_usage_error("streams", "the query is longer than %d bytes", QUERY_MAX);
	char path[QUERY_MAX + 32];
	snprintf(path, sizeof(path), "/api/v1/streams%s", q.s);
	if (json) {
		char err[512], *body = NULL;
		long st = cli_get(path, &body, err, sizeof(err));
		if (!st) {
			fprintf(stderr, "llmobs-cli: %s\n", err);
			return EXIT_SERVER;
		}
		fputs(body, st == 200 ? stdout : stderr);
		if (body[0] && body[strlen(body) - 1] != '\n')
			fputc('\n', st == 200 ? stdout : stderr);
		free(body);
		return st == 200 ? EXIT_OK : EXIT_SERVER;
	}
	int rc;
	cJSON *j = cli_get_json(path, &rc);
	if (!j)
		return rc;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "streams"), *s;
	table_print_header();
	cJSON_ArrayForEach(s, arr) table_print_row(s);
	cJSON_Delete(j);
	return EXIT_OK;
}

static void show_field(const cJSON *s, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, k);
	if (cJSON_IsString(v))
		printf("%-18s %s\n", k, v->valuestring);
	else if (cJSON_IsNumber(v))
		printf("%-18s %g\n", k, v->valuedouble);
	else
		printf("%-18s -\n", k);
}

int cmd_show(int argc, char **argv)
{
	bool json = false;
	const char *id = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("Usage: llmobs-cli show ID [--json]\nOne call in full, in memory or "
			       "stored (GET /api/v1/calls/ID).\n");
			return EXIT_OK;
		} else if (argv[i][0] == '-' || id)
			return cli_usage_error("show", "unexpected argument");
		else
			id = argv[i];
	}
	if (!id)
		return cli_usage_error("show", "missing stream ID");
	char esc[256], path[300];
	cli_escape(id, esc, sizeof(esc));
	/* live or stored: an id from `history` is found after a restart too */
	snprintf(path, sizeof(path), "/api/v1/calls/%s", esc);
	int rc;
	cJSON *s = cli_get_json(path, &rc);
	if (!s)
		return rc;
	if (json)
		return cli_print_json(s);
	static const char *const fields[] = {
	    "id",
	    "pid",
	    "tid",
	    "comm",
	    "thread",
	    "provider",
	    "model",
	    "endpoint",
	    "host",
	    "peer",
	    "side",
	    "status",
	    "http_status",
	    "finish_reason",
	    "started_at",
	    "ttft_ms",
	    "duration_ms",
	    "chunks",
	    "bytes",
	    "tokens_per_second",
	    "dropped_bytes",
	    "error",
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		show_field(s, fields[i]);
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(s, "usage");
	static const char *const ufields[] = {"input_tokens", "output_tokens",
	                                      "cached_input_tokens", "reasoning_tokens"};
	for (size_t i = 0; i < 4; i++)
		show_field(u, ufields[i]);
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(s, "inter_chunk_ms");
	double p50, p95, max;
	char a[32], b[32], c[32];
	fmt_rate(json_num(g, "p50", &p50) ? p50 : -1, true, a, sizeof(a));
	fmt_rate(json_num(g, "p95", &p95) ? p95 : -1, true, b, sizeof(b));
	fmt_rate(json_num(g, "max", &max) ? max : -1, true, c, sizeof(c));
	printf("%-18s p50 %s  p95 %s  max %s\n", "inter_chunk_ms", a, b, c);
	printf("\n%s\n", json_str(s, "text", ""));
	cJSON_Delete(s);
	return EXIT_OK;
}

int cmd_health(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		printf("Usage: llmobs-cli health\nExit 0 when the daemon's probes are attached.\n");
		return strcmp(argv[1], "--help") ? EXIT_USAGE : EXIT_OK;
	}
	char err[512], *body = NULL;
	long st = cli_get("/healthz", &body, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "llmobs-cli: %s\n", err);
		return EXIT_SERVER;
	}
	printf("%s%s", body, body[0] && body[strlen(body) - 1] == '\n' ? "" : "\n");
	free(body);
	return st == 200 ? EXIT_OK : EXIT_SERVER;
}
