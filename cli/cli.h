/* llmobs-cli: shared declarations of the subcommands and helpers. */
#ifndef LLMOBS_CLI_H
#define LLMOBS_CLI_H

#include <cjson/cJSON.h>
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

#endif
