/* The stream table: one row per stream, shared by `streams` and `top`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *const table_headers[TABLE_COLS] = {
    "ID", "PID", "COMM", "PROVIDER", "MODEL", "STATUS", "AGE", "TTFT", "TOK/S", "CHUNKS", "BYTES"};
const int table_widths[TABLE_COLS] = {6, 8, 15, 9, 24, 10, 7, 7, 7, 7, 10};

void table_row(const cJSON *s, char cells[TABLE_COLS][64])
{
	double v;
	bool k;
	fmt_fit(json_str(s, "id", "-"), (size_t)table_widths[0], cells[0], 64);
	if (json_num(s, "pid", &v))
		snprintf(cells[1], 64, "%.0f", v);
	else
		snprintf(cells[1], 64, "-");
	fmt_fit(json_str(s, "comm", "-"), (size_t)table_widths[2], cells[2], 64);
	fmt_fit(json_str(s, "provider", "-"), (size_t)table_widths[3], cells[3], 64);
	fmt_fit(json_str(s, "model", "-"), (size_t)table_widths[4], cells[4], 64);
	fmt_fit(json_str(s, "status", "-"), (size_t)table_widths[5], cells[5], 64);
	k = json_num(s, "age_ms", &v);
	fmt_ms(v, k, cells[6], 64);
	k = json_num(s, "ttft_ms", &v);
	fmt_ms(v, k, cells[7], 64);
	k = json_num(s, "tokens_per_second", &v);
	fmt_rate(v, k, cells[8], 64);
	if (json_num(s, "chunks", &v))
		snprintf(cells[9], 64, "%.0f", v);
	else
		snprintf(cells[9], 64, "-");
	if (json_num(s, "bytes", &v))
		fmt_bytes(v, cells[10], 64);
	else
		snprintf(cells[10], 64, "-");
}

static void print_cells(const char *const *cells)
{
	for (int i = 0; i < TABLE_COLS; i++)
		printf(i == TABLE_COLS - 1 ? "%-*s\n" : "%-*s ", table_widths[i], cells[i]);
}

void table_print_header(void)
{
	print_cells(table_headers);
}

void table_print_row(const cJSON *s)
{
	char cells[TABLE_COLS][64];
	const char *p[TABLE_COLS];
	table_row(s, cells);
	for (int i = 0; i < TABLE_COLS; i++)
		p[i] = cells[i];
	print_cells(p);
}
