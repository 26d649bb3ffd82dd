/* Fixed-width tables: cells cut with fmt_fit and padded by display columns
 * (printf's %-*s pads by bytes, which misaligns UTF-8 text). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_cell(const struct column *col, const char *s, bool last)
{
	char fit[CELL_MAX + 4];
	if (fmt_cols(s) > (size_t)col->width && col->width > 1) { /* say it was cut */
		fmt_fit(s, (size_t)col->width - 1, fit, CELL_MAX);
		strcat(fit, "…");
	} else {
		fmt_fit(s, (size_t)col->width, fit, CELL_MAX);
	}
	int pad = col->width - (int)fmt_cols(fit);
	if (col->right)
		printf("%*s%s", pad > 0 ? pad : 0, "", fit);
	else if (last) /* no trailing blanks */
		fputs(fit, stdout);
	else
		printf("%s%*s", fit, pad > 0 ? pad : 0, "");
	putchar(last ? '\n' : ' ');
}

void columns_start(struct column *c, int n)
{
	for (int i = 0; i < n; i++)
		c[i].width = (int)fmt_cols(c[i].name);
}

void columns_fit(struct column *c, int n, const char cells[][CELL_MAX])
{
	for (int i = 0; i < n; i++) {
		int w = (int)fmt_cols(cells[i]);
		if (w > c[i].max)
			w = c[i].max;
		if (w > c[i].width)
			c[i].width = w;
	}
}

int columns_used(const struct column *c, int n)
{
	int w = 0;
	for (int i = 0; i < n; i++)
		w += c[i].width + 1;
	return w;
}

void columns_header(const struct column *c, int n)
{
	for (int i = 0; i < n; i++)
		print_cell(&c[i], c[i].name, i == n - 1);
}

void columns_row(const struct column *c, int n, const char cells[][CELL_MAX])
{
	for (int i = 0; i < n; i++)
		print_cell(&c[i], cells[i], i == n - 1);
}
