/* llmobs-cli: shared declarations of the subcommands and helpers. */
#ifndef LLMOBS_CLI_H
#define LLMOBS_CLI_H

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_VERSION        "0.1.0"
#define CLI_DEFAULT_SERVER "http://127.0.0.1:9477"

enum { EXIT_OK = 0, EXIT_SERVER = 1, EXIT_USAGE = 2 };

extern const char *cli_server;

/* client.c: GET server+path. Returns the HTTP status (0 when unreachable)
 * and the body (caller frees); err gets a message when status is 0. */
long cli_get(const char *path, char **body, char *err, size_t errlen);
/* GET + JSON parse; on failure prints the message and returns NULL with
 * *exit_code set (1). */
cJSON *cli_get_json(const char *path, int *exit_code);
/* Prints j indented and frees it: --json output. EXIT_OK. */
int cli_print_json(cJSON *j);
/* URL-escapes s into out (cap bytes). */
void cli_escape(const char *s, char *out, size_t cap);

/* format.c */
void fmt_ms(double ms, bool known, char *out, size_t n);  /* 350ms 1.2s 3m04s */
void fmt_bytes(double b, char *out, size_t n);            /* 512 B, 1.5 KiB */
void fmt_rate(double v, bool known, char *out, size_t n); /* 42.1 */
/* Copies at most width display columns of s (UTF-8 aware) into out. */
void fmt_fit(const char *s, size_t width, char *out, size_t n);
const char *json_str(const cJSON *o, const char *k, const char *dflt);
bool json_num(const cJSON *o, const char *k, double *v);
/* An RFC 3339 UTC time in local time: 14:03:07 today, else 2026-12-05 14:03. */
void fmt_when(const char *rfc3339, char *out, size_t n);
void fmt_usd(double usd, bool known, char *out, size_t n); /* $0.0012 */
void fmt_count(double v, bool known, char *out, size_t n); /* 1234, or - */
size_t fmt_cols(const char *s);                            /* display columns */

/* columns.c: fixed-width tables padded by display columns, not bytes.
 * Each column is as wide as its widest cell (columns_fit over every row
 * first), at least its name and at most max. */
#define CELL_MAX 256
struct column {
	const char *name;
	int max;
	bool right; /* numbers */
	int width;  /* set by columns_start and columns_fit */
};
void columns_start(struct column *c, int n);
void columns_fit(struct column *c, int n, const char cells[][CELL_MAX]);
int columns_used(const struct column *c, int n); /* their width with the gaps */
void columns_header(const struct column *c, int n);
void columns_row(const struct column *c, int n, const char cells[][CELL_MAX]);

/* query.c: API query strings and the subcommands' option errors. */
#define QUERY_MAX 8192
struct query {
	char s[QUERY_MAX]; /* "" or "?k=v&k=v", values URL-escaped */
	bool full;         /* something did not fit */
};
void query_add(struct query *q, const char *k, const char *v);
/* Prints "llmobs-cli CMD: MSG" and the --help hint; EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The usage error for getopt_long's '?' or ':' (opterr 0, ":" optstring). */
int cli_option_error(const char *cmd, int c, char **argv, const struct option *opts);
/* s is a whole decimal number >= min. */
bool parse_count(const char *s, long min, long *out);
/* The terminal's width in columns; 0 when stdout is not a terminal. */
int term_width(void);

/* table.c: the stream table shared by `streams` and `top`. */
#define TABLE_COLS 11
extern const char *const table_headers[TABLE_COLS];
extern const int table_widths[TABLE_COLS];
void table_row(const cJSON *s, char cells[TABLE_COLS][64]);
void table_print_header(void);
void table_print_row(const cJSON *s);

/* blind.c: the blind-spot section of `probes` (GET /api/v1/blind). */
void blind_print(const cJSON *j);

/* subcommands */
int cmd_streams(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_probes(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_connections(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
