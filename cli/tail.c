/* `tail`: follow the daemon's live events (GET /api/v1/events), one line
 * per event, until interrupted or the daemon goes away. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

struct tail {
	bool json;
	char line[65536];
	size_t len;
	char type[64];
	long count, limit;
};

static void print_event(struct tail *t, const char *data)
{
	if (t->json) {
		puts(data);
		fflush(stdout);
		return;
	}
	cJSON *j = cJSON_Parse(data);
	char ts[16];
	time_t now = time(NULL);
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	printf("%s %-13s", ts, t->type);
	double v;
	const char *id = json_str(j, "id", NULL);
	if (id)
		printf(" id=%s", id);
	if (json_num(j, "pid", &v))
		printf(" pid=%.0f", v);
	const char *comm = json_str(j, "comm", NULL), *model = json_str(j, "model", NULL);
	if (comm)
		printf(" comm=%s", comm);
	if (model)
		printf(" model=%s", model);
	if (!strcmp(t->type, "backpressure") && json_num(j, "read_lag_ms", &v))
		printf(" read_lag_ms=%.1f", v);
	if (!strcmp(t->type, "buffer_full") && json_num(j, "dropped_events", &v))
		printf(" dropped_events=%.0f", v);
	if (!strcmp(t->type, "events_lost") && json_num(j, "lost", &v))
		printf(" lost=%.0f (this terminal fell behind)", v);
	if (!strncmp(t->type, "stream_e", 8)) {
		const char *st = json_str(j, "status", "?");
		printf(" status=%s", st);
		if (json_num(j, "ttft_ms", &v))
			printf(" ttft_ms=%.1f", v);
		const char *err = json_str(j, "error", NULL);
		if (err)
			printf(" error=\"%s\"", err);
	}
	if (!strcmp(t->type, "chunk") && json_num(j, "chunks", &v))
		printf(" chunks=%.0f", v);
	putchar('\n');
	fflush(stdout);
	cJSON_Delete(j);
}

/* SSE lines: "event: T" then "data: {...}", a blank line ends the event. */
static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct tail *t = ctx;
	size_t n = size * nmemb;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (t->len < sizeof(t->line) - 1)
				t->line[t->len++] = p[i];
			continue;
		}
		t->line[t->len] = '\0';
		if (!strncmp(t->line, "event: ", 7))
			snprintf(t->type, sizeof(t->type), "%s", t->line + 7);
		else if (!strncmp(t->line, "data: ", 6)) {
			print_event(t, t->line + 6);
			if (t->limit && ++t->count >= t->limit)
				return 0; /* stops the transfer */
		}
		t->len = 0;
	}
	return n;
}

int cmd_tail(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"types", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"count", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct tail *t = calloc(1, sizeof(*t));
	char q[600] = "";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 't': {
			char esc[512];
			cli_escape(optarg, esc, sizeof(esc));
			snprintf(q, sizeof(q), "?types=%s", esc);
			break;
		}
		case 'j':
			t->json = true;
			break;
		case 'n':
			t->limit = atol(optarg);
			if (t->limit <= 0) {
				fprintf(stderr, "llmobs-cli tail: --count must be positive\n");
				free(t);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf(
			    "Usage: llmobs-cli tail [--types T[,T...]] [--json] [-n|--count N]\n"
			    "Follows live events: stream_start, chunk, stream_end, stream_error,\n"
			    "backpressure, buffer_full (events_lost if this terminal falls "
			    "behind).\n"
			    "--json prints each event's JSON; -n stops after N events.\n");
			free(t);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'llmobs-cli tail --help'.\n");
			free(t);
			return EXIT_USAGE;
		}
	}
	char url[2048];
	size_t sl = strlen(cli_server);
	while (sl && cli_server[sl - 1] == '/')
		sl--;
	snprintf(url, sizeof(url), "%.*s/api/v1/events%s", (int)sl, cli_server, q);
	CURL *h = curl_easy_init();
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	CURLcode rc = curl_easy_perform(h);
	int ret = EXIT_OK;
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t->limit && t->count >= t->limit)) {
		fprintf(stderr, "llmobs-cli: %s: %s\n", url,
		        cerr[0] ? cerr : curl_easy_strerror(rc));
		ret = EXIT_SERVER;
	}
	curl_easy_cleanup(h);
	free(t);
	return ret;
}
