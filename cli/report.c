/* `report`: requests, errors, latency, tokens and cost per time window and
 * group, from GET /api/v1/metrics (computed from the history store). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define GROUP_MAX 7

/* What the API can group by, and how wide each column may get. */
static const struct {
	const char *name;
	int max;
} group_fields[GROUP_MAX] = {
    {"provider", 12}, {"model", 28},     {"operation", 16}, {"endpoint", 28},
    {"comm", 15},     {"container", 14}, {"tenant", 20},
};

/* Options whose value goes to the API under the option's own name: val
 * FILTER + their index in the table. No two alike: getopt_long would take an
 * abbreviation they share (--s) for the first one. */
#define FILTER 1000

static const struct option report_opts[] = {
    {"since", required_argument, NULL, 's'},
    {"until", required_argument, NULL, 'u'},
    {"by", required_argument, NULL, 'b'},
    {"step", required_argument, NULL, 't'},
    {"provider", required_argument, NULL, FILTER + 4},
    {"model", required_argument, NULL, FILTER + 5},
    {"comm", required_argument, NULL, FILTER + 6},
    {"container", required_argument, NULL, FILTER + 7},
    {"tenant", required_argument, NULL, FILTER + 8},
    {"route", required_argument, NULL, FILTER + 9},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void help(void)
{
	printf("Usage: llmobs-cli report [--since T] [--until T] [--by FIELDS] [--step STEP]\n"
	       "                         [FILTERS] [--json]\n"
	       "Requests, errors, p95 TTFT and duration, tokens and estimated cost of the\n"
	       "stored calls, per group and time window. Needs the daemon's history store.\n\n"
	       "  --since T, --until T   the range: Unix ms, RFC 3339 UTC (2026-12-05T10:00:00Z)\n"
	       "                         or a duration ago (90m, 24h, 7d); default: the last 1h\n"
	       "  --by FIELDS            one row per value of these, comma-separated (default\n"
	       "                         model): provider, model, operation, endpoint, comm,\n"
	       "                         container, tenant\n"
	       "  --step STEP            window length: 1m, 5m, 1h, ... (a number of minutes or\n"
	       "                         hours), or all (default: one window over the range)\n"
	       "  --provider P, --model M, --comm NAME, --container ID, --tenant T, --route R\n"
	       "                         count only these calls\n"
	       "  --json                 the API's answer as is\n"
	       "The TOTAL line sums requests, errors, tokens and cost; percentiles do not add\n"
	       "up, so it has none.\n"
	       "Exit status: 0 ok, 1 server unreachable or error (503: the store is off),\n"
	       "2 usage error.\n");
}

static int group_index(const char *name, size_t len)
{
	for (int i = 0; i < GROUP_MAX; i++)
		if (strlen(group_fields[i].name) == len &&
		    !strncmp(group_fields[i].name, name, len))
			return i;
	return -1;
}

/* FIELDS: known names, each once. */
static bool valid_by(const char *by, char *why, size_t n)
{
	bool seen[GROUP_MAX] = {false};
	const char *p = by;
	for (;;) {
		size_t len = strcspn(p, ",");
		int g = group_index(p, len);
		if (g < 0) {
			snprintf(why, n,
			         "--by: '%.*s' is not one of provider, model, operation, "
			         "endpoint, comm, container, tenant",
			         (int)len, p);
			return false;
		}
		if (seen[g]) {
			snprintf(why, n, "--by: %s is listed twice", group_fields[g].name);
			return false;
		}
		seen[g] = true;
		if (!p[len])
			return true;
		p += len + 1;
	}
}

/* all, or a whole number of minutes or hours: 1m, 5m, 1h. */
static bool valid_step(const char *s)
{
	if (!strcmp(s, "all"))
		return true;
	size_t digits = strspn(s, "0123456789");
	return digits && s[0] != '0' && (s[digits] == 'm' || s[digits] == 'h') && !s[digits + 1];
}

/* A group-by value as the server gave it (string, number or null). */
static void group_cell(const cJSON *w, const char *field, char *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, field);
	if (cJSON_IsString(v) && v->valuestring)
		fmt_fit(v->valuestring, CELL_MAX, out, CELL_MAX);
	else if (cJSON_IsNumber(v))
		snprintf(out, CELL_MAX, "%g", v->valuedouble);
	else
		snprintf(out, CELL_MAX, "-");
}

struct totals {
	double requests, errors, input, output, cost, unpriced;
	bool priced;
};

#define COLS_MAX (1 + GROUP_MAX + 7)

struct layout {
	struct column cols[COLS_MAX];
	const char *groups[GROUP_MAX];
	int ngroups, ncols;
	bool window;
};

static void layout_init(struct layout *l, const cJSON *doc, const char *by, bool window)
{
	static const struct column stats[] = {
	    {"REQS", 10, true, 0},   {"ERRS", 10, true, 0},      {"P95 TTFT", 8, true, 0},
	    {"P95 DUR", 8, true, 0}, {"TOKENS IN", 12, true, 0}, {"TOKENS OUT", 12, true, 0},
	    {"COST", 12, true, 0},
	};
	static char upper[GROUP_MAX][16];
	memset(l, 0, sizeof(*l));
	l->window = window;
	if (window)
		l->cols[l->ncols++] = (struct column){"WINDOW", 16, false, 0};
	/* the server's own list of groups, else the one asked for */
	const cJSON *gb = cJSON_GetObjectItemCaseSensitive(doc, "group_by"), *g;
	if (cJSON_GetArraySize(gb) > 0) {
		cJSON_ArrayForEach(g, gb)
		{
			if (cJSON_IsString(g) && l->ngroups < GROUP_MAX)
				l->groups[l->ngroups++] = g->valuestring;
		}
	} else {
		for (const char *p = by; *p && l->ngroups < GROUP_MAX;) {
			size_t len = strcspn(p, ",");
			int i = group_index(p, len);
			if (i >= 0)
				l->groups[l->ngroups++] = group_fields[i].name;
			p += len + (p[len] != '\0');
		}
	}
	for (int i = 0; i < l->ngroups; i++) {
		size_t k = 0;
		for (; l->groups[i][k] && k + 1 < sizeof(upper[i]); k++)
			upper[i][k] = (char)toupper((unsigned char)l->groups[i][k]);
		upper[i][k] = '\0';
		int g_i = group_index(l->groups[i], strlen(l->groups[i]));
		l->cols[l->ncols++] =
		    (struct column){upper[i], g_i >= 0 ? group_fields[g_i].max : 20, false, 0};
	}
	memcpy(l->cols + l->ncols, stats, sizeof(stats));
	l->ncols += (int)(sizeof(stats) / sizeof(stats[0]));
	columns_start(l->cols, l->ncols);
}

/* A count's cell, added to its total when known. */
static void count_cell(const cJSON *o, const char *key, char *cell, double *total)
{
	double v;
	bool known = json_num(o, key, &v);
	fmt_count(v, known, cell, CELL_MAX);
	*total += known ? v : 0;
}

static void window_cells(const struct layout *l, const cJSON *w, char cells[][CELL_MAX],
                         struct totals *t)
{
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(w, "tokens");
	double v;
	bool k;
	int c = 0;
	if (l->window)
		fmt_when(json_str(w, "window_start", NULL), cells[c++], CELL_MAX);
	for (int i = 0; i < l->ngroups; i++)
		group_cell(w, l->groups[i], cells[c++]);
	count_cell(w, "requests", cells[c++], &t->requests);
	count_cell(w, "errors", cells[c++], &t->errors);
	k = json_num(w, "p95_ttft_ms", &v);
	fmt_ms(v, k, cells[c++], CELL_MAX);
	k = json_num(w, "p95_latency_ms", &v);
	fmt_ms(v, k, cells[c++], CELL_MAX);
	count_cell(tok, "input", cells[c++], &t->input);
	count_cell(tok, "output", cells[c++], &t->output);
	k = json_num(w, "estimated_cost_usd", &v);
	fmt_usd(v, k, cells[c++], CELL_MAX);
	if (k) {
		t->cost += v;
		t->priced = true;
	}
	if (json_num(w, "unpriced_requests", &v))
		t->unpriced += v;
}

static void total_cells(const struct layout *l, const struct totals *t, char cells[][CELL_MAX])
{
	int c = 0;
	for (; c < l->ncols - 7; c++)
		snprintf(cells[c], CELL_MAX, "%s", c ? "" : "TOTAL");
	fmt_count(t->requests, true, cells[c++], CELL_MAX);
	fmt_count(t->errors, true, cells[c++], CELL_MAX);
	snprintf(cells[c++], CELL_MAX, "-"); /* percentiles do not add up */
	snprintf(cells[c++], CELL_MAX, "-");
	fmt_count(t->input, true, cells[c++], CELL_MAX);
	fmt_count(t->output, true, cells[c++], CELL_MAX);
	fmt_usd(t->cost, t->priced, cells[c++], CELL_MAX);
}

static void print_report(const cJSON *doc, const char *by, bool window)
{
	const cJSON *windows = cJSON_GetObjectItemCaseSensitive(doc, "windows"), *w;
	struct layout l;
	struct totals t = {0};
	char cells[COLS_MAX][CELL_MAX];
	layout_init(&l, doc, by, window);
	cJSON_ArrayForEach(w, windows)
	{
		window_cells(&l, w, cells, &t);
		columns_fit(l.cols, l.ncols, cells);
	}
	total_cells(&l, &t, cells);
	columns_fit(l.cols, l.ncols, cells);
	columns_header(l.cols, l.ncols);
	memset(&t, 0, sizeof(t));
	cJSON_ArrayForEach(w, windows)
	{
		window_cells(&l, w, cells, &t);
		columns_row(l.cols, l.ncols, (const char(*)[CELL_MAX])cells);
	}
	total_cells(&l, &t, cells);
	columns_row(l.cols, l.ncols, (const char(*)[CELL_MAX])cells);
	if (t.unpriced > 0)
		printf("COST leaves out %.0f request%s without a price\n", t.unpriced,
		       t.unpriced == 1 ? "" : "s");
}

int cmd_report(int argc, char **argv)
{
	const char *since = "1h", *until = NULL, *by = "model", *step = "all";
	struct query filters = {.s = ""};
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", report_opts, NULL)) != -1) {
		if (c >= FILTER) {
			query_add(&filters, report_opts[c - FILTER].name, optarg);
			continue;
		}
		switch (c) {
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 't':
			step = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			help();
			return EXIT_OK;
		default:
			return cli_option_error("report", c, argv, report_opts);
		}
	}
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	char why[160];
	if (!valid_by(by, why, sizeof(why)))
		return cli_usage_error("report", "%s", why);
	if (!valid_step(step))
		return cli_usage_error("report",
		                       "--step wants all, or minutes or hours such as "
		                       "1m, 5m, 1h; not '%s'",
		                       step);
	struct query q = {.s = ""};
	query_add(&q, "from", since);
	if (until)
		query_add(&q, "to", until);
	query_add(&q, "step", step);
	query_add(&q, "group_by", by);
	if (strlen(q.s) + strlen(filters.s) >= sizeof(q.s) || q.full || filters.full)
		return cli_usage_error("report", "the query is longer than %d bytes", QUERY_MAX);
	if (filters.s[0]) { /* "?provider=x" goes on as "&provider=x" */
		strcat(q.s, "&");
		strcat(q.s, filters.s + 1);
	}
	char path[QUERY_MAX + 32];
	snprintf(path, sizeof(path), "/api/v1/metrics%s", q.s);
	int rc;
	cJSON *doc = cli_get_json(path, &rc);
	if (!doc)
		return rc;
	if (json)
		return cli_print_json(doc);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "windows"))) {
		fprintf(stderr, "llmobs-cli: the server's answer has no \"windows\" list\n");
		cJSON_Delete(doc);
		return EXIT_SERVER;
	}
	print_report(doc, by, strcmp(step, "all") != 0);
	cJSON_Delete(doc);
	return EXIT_OK;
}
