/* `top`: live stream table (ncurses), like htop. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <getopt.h>
#include <locale.h>
#include <ncurses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define TOP_PATH "/api/v1/streams?limit=1000"

struct view {
	cJSON *doc; /* last good answer */
	const cJSON **rows;
	int nrows;
	int sort; /* -1: server order (newest first), else a column */
	bool reverse, paused;
	int scroll;
	long unparsed; /* connections seen but not parsed (-1: unknown) */
	char err[512];
};

/* JSON keys behind the sortable columns (NULL: string column by cell). */
static const char *const sort_keys[TABLE_COLS] = {"id",       "pid",     "comm",
                                                  "provider", "model",   "status",
                                                  "age_ms",   "ttft_ms", "tokens_per_second",
                                                  "chunks",   "bytes"};
static struct view *cmp_view;

static int cmp_rows(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	const char *k = sort_keys[cmp_view->sort];
	double dx, dy;
	int r;
	bool nx = json_num(x, k, &dx), ny = json_num(y, k, &dy);
	if (nx || ny) {
		if (!nx)
			dx = -1;
		if (!ny)
			dy = -1;
		r = dx < dy ? -1 : dx > dy;
	} else if (!strcmp(k, "id")) {
		r = atoll(json_str(x, k, "0")) < atoll(json_str(y, k, "0")) ? -1 : 1;
	} else {
		r = strcmp(json_str(x, k, ""), json_str(y, k, ""));
	}
	return cmp_view->reverse ? -r : r;
}

/* How many connections the daemon sees but cannot parse: a blind spot the
 * table alone would hide. */
static void refresh_unparsed(struct view *v)
{
	char *body = NULL, err[256];
	v->unparsed = -1;
	if (cli_get("/api/v1/connections?state=unparsed&limit=1", &body, err, sizeof(err)) == 200) {
		cJSON *j = cJSON_Parse(body);
		double n;
		if (json_num(j, "unparsed", &n))
			v->unparsed = (long)n;
		cJSON_Delete(j);
	}
	free(body);
}

static void refresh_data(struct view *v)
{
	refresh_unparsed(v);
	char *body = NULL;
	long st = cli_get(TOP_PATH, &body, v->err, sizeof(v->err));
	cJSON *doc = st == 200 ? cJSON_Parse(body) : NULL;
	if (st && st != 200) {
		cJSON *e = cJSON_Parse(body);
		snprintf(v->err, sizeof(v->err), "server error %ld: %s", st,
		         json_str(e, "error", ""));
		cJSON_Delete(e);
	} else if (st == 200 && !doc) {
		snprintf(v->err, sizeof(v->err), "the server did not answer JSON");
	}
	free(body);
	if (!doc)
		return;
	v->err[0] = '\0';
	cJSON_Delete(v->doc);
	v->doc = doc;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "streams"), *s;
	v->nrows = 0;
	free(v->rows);
	v->rows = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v->rows));
	cJSON_ArrayForEach(s, arr) v->rows[v->nrows++] = s;
	if (v->sort >= 0) {
		cmp_view = v;
		qsort(v->rows, (size_t)v->nrows, sizeof(*v->rows), cmp_rows);
	}
}

static int count_active(const struct view *v)
{
	int n = 0;
	for (int i = 0; i < v->nrows; i++)
		n += !strcmp(json_str(v->rows[i], "status", ""), "streaming");
	return n;
}

static void print_once(struct view *v)
{
	printf("llmobs top — %s — %d active, %d streams\n", cli_server, count_active(v), v->nrows);
	table_print_header();
	for (int i = 0; i < v->nrows; i++)
		table_print_row(v->rows[i]);
	if (v->unparsed > 0)
		printf("%ld connection(s) seen but not parsed: llmobs-cli connections\n",
		       v->unparsed);
}

static int status_color(const char *st)
{
	if (!strcmp(st, "streaming"))
		return 1;
	if (!strcmp(st, "error") || !strcmp(st, "aborted"))
		return 2;
	if (!strcmp(st, "truncated"))
		return 3;
	return 0;
}

static void draw(struct view *v)
{
	char line[512], when[32];
	time_t now = time(NULL);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	erase();
	attron(A_BOLD);
	mvprintw(0, 0, "llmobs top  %s  %s  active %d  streams %d  sort %s%s%s", when, cli_server,
	         count_active(v), v->nrows, v->sort < 0 ? "newest" : table_headers[v->sort],
	         v->reverse ? " (rev)" : "", v->paused ? "  [paused]" : "");
	attroff(A_BOLD);
	if (v->err[0]) {
		attron(COLOR_PAIR(2));
		mvprintw(1, 0, "%.*s (retrying)", COLS > 12 ? COLS - 12 : 0, v->err);
		attroff(COLOR_PAIR(2));
	}
	/* header row, the sort column marked */
	size_t o = 0;
	for (int c = 0; c < TABLE_COLS && o < sizeof(line) - 1; c++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%-*s%s", table_widths[c],
		                      table_headers[c], c == v->sort ? "*" : " ");
	attron(A_REVERSE);
	mvprintw(2, 0, "%-*.*s", COLS, COLS, line);
	attroff(A_REVERSE);
	int room = LINES - 5; /* title, error, header; footer and keys */
	if (v->scroll > v->nrows - 1)
		v->scroll = v->nrows > 0 ? v->nrows - 1 : 0;
	for (int i = 0; i < room && v->scroll + i < v->nrows; i++) {
		const cJSON *s = v->rows[v->scroll + i];
		char cells[TABLE_COLS][64];
		table_row(s, cells);
		o = 0;
		for (int c = 0; c < TABLE_COLS && o < sizeof(line) - 1; c++)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%-*s ", table_widths[c],
			                      cells[c]);
		int color = status_color(json_str(s, "status", ""));
		if (color)
			attron(COLOR_PAIR(color));
		mvaddnstr(3 + i, 0, line, COLS);
		if (color)
			attroff(COLOR_PAIR(color));
	}
	if (v->unparsed > 0) {
		attron(COLOR_PAIR(3));
		mvprintw(LINES - 2, 0,
		         "%ld connection(s) seen but not parsed: llmobs-cli connections",
		         v->unparsed);
		attroff(COLOR_PAIR(3));
	}
	mvprintw(LINES - 1, 0, "q quit  s/S sort column/reverse  p pause  arrows/PgUp/PgDn scroll");
	refresh();
}

/* Returns false when the user quits. */
static bool handle_key(struct view *v, int ch)
{
	switch (ch) {
	case 'q':
	case 'Q':
		return false;
	case 's':
		v->sort = v->sort + 1 >= TABLE_COLS ? -1 : v->sort + 1;
		break;
	case 'S':
		v->reverse = !v->reverse;
		break;
	case 'p':
	case ' ':
		v->paused = !v->paused;
		break;
	case KEY_DOWN:
		v->scroll++;
		break;
	case KEY_UP:
		v->scroll = v->scroll > 0 ? v->scroll - 1 : 0;
		break;
	case KEY_NPAGE:
		v->scroll += LINES - 4;
		break;
	case KEY_PPAGE:
		v->scroll = v->scroll > LINES - 4 ? v->scroll - (LINES - 4) : 0;
		break;
	}
	if (v->sort >= 0 && v->nrows) {
		cmp_view = v;
		qsort(v->rows, (size_t)v->nrows, sizeof(*v->rows), cmp_rows);
	}
	return true;
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {{"interval", required_argument, NULL, 'i'},
	                                     {"once", no_argument, NULL, 'o'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	double interval = 1.0;
	bool once = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': {
			char *end;
			interval = strtod(optarg, &end);
			if (*end || interval < 0.1 || interval > 3600) {
				fprintf(stderr, "llmobs-cli top: --interval must be 0.1 to 3600 "
				                "seconds\n");
				return EXIT_USAGE;
			}
			break;
		}
		case 'o':
			once = true;
			break;
		case 'h':
			printf("Usage: llmobs-cli top [--interval SECS] [--once]\n"
			       "Live table of LLM streams. Keys: q quit, s/S sort column/reverse, "
			       "p pause, arrows/PgUp/PgDn scroll.\n--once (or no tty) prints one "
			       "frame.\n");
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'llmobs-cli top --help'.\n");
			return EXIT_USAGE;
		}
	}
	struct view v = {.sort = -1};
	if (once || !isatty(STDOUT_FILENO)) {
		refresh_data(&v);
		int rc = EXIT_OK;
		if (v.err[0]) {
			fprintf(stderr, "llmobs-cli: %s\n", v.err);
			rc = EXIT_SERVER;
		} else {
			print_once(&v);
		}
		cJSON_Delete(v.doc);
		free(v.rows);
		return rc;
	}
	setlocale(LC_ALL, "");
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_GREEN, -1);
		init_pair(2, COLOR_RED, -1);
		init_pair(3, COLOR_YELLOW, -1);
	}
	timeout((int)(interval * 1000));
	refresh_data(&v);
	for (;;) {
		draw(&v);
		int ch = getch();
		if (ch == ERR) { /* interval elapsed */
			if (!v.paused)
				refresh_data(&v);
			continue;
		}
		if (ch == KEY_RESIZE)
			continue;
		if (!handle_key(&v, ch))
			break;
	}
	endwin();
	cJSON_Delete(v.doc);
	free(v.rows);
	return EXIT_OK;
}
