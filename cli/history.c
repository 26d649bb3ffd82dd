/* `history` and `search`: calls from GET /api/v1/calls (the ones in memory
 * and the daemon's history store), newest first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PAGE_DEFAULT 50
#define PAGE_ALL     500 /* --all: fewer round trips, well under the API's 1000 */

struct calls_args {
	const char *cmd;
	struct query filters;
	bool json, all;
	long limit; /* 0: PAGE_DEFAULT, or PAGE_ALL with --all */
	const char *cursor;
};

/* Options whose value goes to the API under the option's own name: val
 * FILTER + their index in the table. No two alike: getopt_long would take an
 * abbreviation they share (--s) for the first one. */
#define FILTER 1000

static const struct option call_opts[] = {
    {"since", required_argument, NULL, FILTER + 0},
    {"until", required_argument, NULL, FILTER + 1},
    {"provider", required_argument, NULL, FILTER + 2},
    {"model", required_argument, NULL, FILTER + 3},
    {"status", required_argument, NULL, FILTER + 4},
    {"comm", required_argument, NULL, FILTER + 5},
    {"container", required_argument, NULL, FILTER + 6},
    {"tenant", required_argument, NULL, FILTER + 7},
    {"route", required_argument, NULL, FILTER + 8},
    {"pid", required_argument, NULL, 'p'},
    {"limit", required_argument, NULL, 'l'},
    {"cursor", required_argument, NULL, 'k'},
    {"all", no_argument, NULL, 'a'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char filters_help[] =
    "Filters:\n"
    "  --since T, --until T   calls started after / before T: Unix ms, RFC 3339 UTC\n"
    "                         (2026-12-05T10:00:00Z) or a duration ago (90m, 24h, 7d)\n"
    "  --provider P           openai, anthropic, gcp.gemini, ollama, ...\n"
    "  --model M              the request's or the response's model\n"
    "  --status S             streaming, completed, error, truncated, aborted, blocked\n"
    "  --pid N, --comm NAME   the calling process\n"
    "  --container ID         the calling process's container\n"
    "  --tenant T, --route R  of calls sent to the ingestion API\n"
    "Paging:\n"
    "  --limit N              at most N calls (default 50; with --all, N per page)\n"
    "  --cursor C             the page after the one whose footer said 'more: --cursor C'\n"
    "  --all                  every page (500 calls each) until the last\n"
    "Output:\n"
    "  --json                 the API's answer as is ({\"calls\": [...], \"next_cursor\",\n"
    "                         \"store\"}; with --all every page's calls in one list)\n";

static void help(const char *cmd)
{
	if (!strcmp(cmd, "search"))
		printf("Usage: llmobs-cli search TEXT... [FILTERS] [--json]\n"
		       "Stored calls whose prompt or completion holds every word of TEXT,\n"
		       "newest first, with a snippet of the match (the words in [brackets]).\n"
		       "Only finished calls are stored: a call is found once it ends. Needs the\n"
		       "daemon's history store (not --store off).\n\n");
	else
		printf("Usage: llmobs-cli history [FILTERS] [--json]\n"
		       "Past and live LLM calls, newest first: the ones in the daemon's memory\n"
		       "and its history store (calls from before a restart).\n\n");
	fputs(filters_help, stdout);
	printf("Exit status: 0 ok, 1 server unreachable or error, 2 usage error.\n");
}

/* -1 when the arguments are good (and parsed into a), else the exit code. */
static int parse_args(struct calls_args *a, int argc, char **argv)
{
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", call_opts, NULL)) != -1) {
		if (c >= FILTER) {
			query_add(&a->filters, call_opts[c - FILTER].name, optarg);
			continue;
		}
		switch (c) {
		case 'p': {
			long pid;
			if (!parse_count(optarg, 0, &pid))
				return cli_usage_error(a->cmd, "--pid wants a process id, not '%s'",
				                       optarg);
			query_add(&a->filters, "pid", optarg);
			break;
		}
		case 'l':
			if (!parse_count(optarg, 1, &a->limit))
				return cli_usage_error(
				    a->cmd, "--limit wants a positive number, not '%s'", optarg);
			break;
		case 'k':
			a->cursor = optarg;
			break;
		case 'a':
			a->all = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			help(a->cmd);
			return EXIT_OK;
		default:
			return cli_option_error(a->cmd, c, argv, call_opts);
		}
	}
	return -1;
}

/* Moves the calls of page into doc's list. */
static void merge_page(cJSON *doc, cJSON *page)
{
	cJSON *into = cJSON_GetObjectItemCaseSensitive(doc, "calls");
	cJSON *from = cJSON_GetObjectItemCaseSensitive(page, "calls");
	while (cJSON_GetArraySize(from) > 0)
		cJSON_AddItemToArray(into, cJSON_DetachItemFromArray(from, 0));
}

/* One page, or every page with --all (merged into the first one's doc). */
static int fetch(const struct calls_args *a, cJSON **out)
{
	cJSON *doc = NULL;
	char *cursor = a->cursor ? strdup(a->cursor) : NULL;
	long page_size = a->limit ? a->limit : a->all ? PAGE_ALL : PAGE_DEFAULT;
	int rc = EXIT_OK;
	for (;;) {
		struct query q = a->filters;
		char n[24];
		snprintf(n, sizeof(n), "%ld", page_size);
		query_add(&q, "limit", n);
		if (cursor)
			query_add(&q, "cursor", cursor);
		if (q.full) {
			rc =
			    cli_usage_error(a->cmd, "the query is longer than %d bytes", QUERY_MAX);
			break;
		}
		char path[QUERY_MAX + 32];
		snprintf(path, sizeof(path), "/api/v1/calls%s", q.s);
		cJSON *page = cli_get_json(path, &rc);
		if (!page)
			break;
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(page, "calls"))) {
			fprintf(stderr, "llmobs-cli: the server's answer has no \"calls\" list\n");
			cJSON_Delete(page);
			rc = EXIT_SERVER;
			break;
		}
		const char *next = json_str(page, "next_cursor", NULL);
		/* a cursor that does not move would loop for ever */
		bool more = a->all && next && !(cursor && !strcmp(next, cursor));
		free(cursor);
		cursor = more ? strdup(next) : NULL;
		if (!doc) {
			doc = page;
		} else {
			merge_page(doc, page);
			cJSON_Delete(page);
		}
		if (!more)
			break;
	}
	free(cursor);
	if (rc != EXIT_OK) {
		cJSON_Delete(doc);
		return rc;
	}
	if (a->all) /* every page is in: there is no next one */
		cJSON_ReplaceItemInObjectCaseSensitive(doc, "next_cursor", cJSON_CreateNull());
	*out = doc;
	return EXIT_OK;
}

enum {
	C_ID,
	C_STARTED,
	C_PROCESS,
	C_PROVIDER,
	C_MODEL,
	C_STATUS,
	C_TTFT,
	C_DURATION,
	C_IN,
	C_OUT,
	C_COST,
	C_SNIPPET,
	C_N
};

static const struct column call_columns[C_N] = {
    {"ID", 12, false, 0},       {"STARTED", 16, false, 0}, {"PROCESS", 22, false, 0},
    {"PROVIDER", 12, false, 0}, {"MODEL", 28, false, 0},   {"STATUS", 9, false, 0},
    {"TTFT", 7, true, 0},       {"DURATION", 8, true, 0},  {"TOK IN", 8, true, 0},
    {"TOK OUT", 8, true, 0},    {"COST", 9, true, 0},      {"SNIPPET", 60, false, 0},
};

/* The snippet on one line: newlines and tabs as single spaces. */
static void flatten(const char *s, char *out, size_t n)
{
	size_t o = 0;
	bool blank = false;
	for (; *s && o + 1 < n; s++) {
		bool ws = (unsigned char)*s < 0x20 || *s == ' ';
		if (ws && blank)
			continue;
		out[o++] = ws ? ' ' : *s;
		blank = ws;
	}
	out[o] = '\0';
}

static void call_cells(const cJSON *c, char cells[C_N][CELL_MAX])
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(c, "usage");
	double v;
	bool k;
	fmt_fit(json_str(c, "id", "-"), CELL_MAX, cells[C_ID], CELL_MAX);
	fmt_when(json_str(c, "started_at", NULL), cells[C_STARTED], CELL_MAX);
	if (!strcmp(json_str(c, "source", ""), "ingest")) {
		/* no process of this host: the tenant that sent it */
		const char *tenant = json_str(c, "tenant_id", NULL);
		if (tenant)
			snprintf(cells[C_PROCESS], CELL_MAX, "ingest:%.*s", CELL_MAX - 8, tenant);
		else
			snprintf(cells[C_PROCESS], CELL_MAX, "ingest");
	} else {
		fmt_fit(json_str(c, "comm", "-"), CELL_MAX, cells[C_PROCESS], CELL_MAX);
	}
	fmt_fit(json_str(c, "provider", "-"), CELL_MAX, cells[C_PROVIDER], CELL_MAX);
	fmt_fit(json_str(c, "model", "-"), CELL_MAX, cells[C_MODEL], CELL_MAX);
	fmt_fit(json_str(c, "status", "-"), CELL_MAX, cells[C_STATUS], CELL_MAX);
	k = json_num(c, "ttft_ms", &v);
	fmt_ms(v, k, cells[C_TTFT], CELL_MAX);
	k = json_num(c, "duration_ms", &v);
	fmt_ms(v, k, cells[C_DURATION], CELL_MAX);
	k = json_num(u, "input_tokens", &v);
	fmt_count(v, k, cells[C_IN], CELL_MAX);
	k = json_num(u, "output_tokens", &v);
	fmt_count(v, k, cells[C_OUT], CELL_MAX);
	k = json_num(c, "cost_usd", &v);
	fmt_usd(v, k, cells[C_COST], CELL_MAX);
	char snippet[CELL_MAX];
	fmt_fit(json_str(c, "snippet", ""), CELL_MAX - 1, snippet, sizeof(snippet));
	flatten(snippet, cells[C_SNIPPET], CELL_MAX);
}

static void print_table(const cJSON *doc, bool snippets, bool all)
{
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(doc, "calls"), *c;
	struct column cols[C_N];
	char cells[C_N][CELL_MAX];
	int n = snippets ? C_N : C_SNIPPET;
	memcpy(cols, call_columns, sizeof(cols));
	columns_start(cols, n);
	cJSON_ArrayForEach(c, calls)
	{
		call_cells(c, cells);
		columns_fit(cols, snippets ? n - 1 : n, cells);
	}
	if (snippets) { /* what the terminal has left, 60 columns off a terminal */
		int tw = term_width(), left = tw - columns_used(cols, n - 1);
		cols[C_SNIPPET].max = tw ? (left > 20 ? left : 20) : 60;
		cJSON_ArrayForEach(c, calls)
		{
			call_cells(c, cells);
			columns_fit(cols + C_SNIPPET, 1, cells + C_SNIPPET);
		}
	}
	columns_header(cols, n);
	cJSON_ArrayForEach(c, calls)
	{
		call_cells(c, cells);
		columns_row(cols, n, (const char(*)[CELL_MAX])cells);
	}
	int count = cJSON_GetArraySize(calls);
	printf("%d call%s\n", count, count == 1 ? "" : "s");
	const char *next = json_str(doc, "next_cursor", NULL);
	if (next && !all)
		printf("more: --cursor %s\n", next);
}

static int run(struct calls_args *a, bool snippets)
{
	cJSON *doc = NULL;
	int rc = fetch(a, &doc);
	if (rc != EXIT_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "store")))
		fprintf(stderr, "note: the daemon's history store is off (--store off): only calls "
		                "in memory are listed\n");
	print_table(doc, snippets, a->all);
	cJSON_Delete(doc);
	return EXIT_OK;
}

int cmd_history(int argc, char **argv)
{
	struct calls_args a = {.cmd = "history"};
	int rc = parse_args(&a, argc, argv);
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage_error(a.cmd, "unexpected argument '%s'", argv[optind]);
	return run(&a, false);
}

int cmd_search(int argc, char **argv)
{
	struct calls_args a = {.cmd = "search"};
	int rc = parse_args(&a, argc, argv);
	if (rc >= 0)
		return rc;
	size_t len = 1, words = 0;
	for (int i = optind; i < argc; i++) {
		len += strlen(argv[i]) + 1;
		words += strspn(argv[i], " \t") < strlen(argv[i]);
	}
	if (!words)
		return cli_usage_error(a.cmd, "what to search for is missing");
	char *text = calloc(1, len);
	if (!text)
		return EXIT_SERVER;
	for (int i = optind; i < argc; i++) {
		if (i > optind)
			strcat(text, " ");
		strcat(text, argv[i]);
	}
	query_add(&a.filters, "q", text);
	free(text);
	return run(&a, true);
}
