/* API query strings, and the option errors the subcommands share. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

void query_add(struct query *q, const char *k, const char *v)
{
	size_t vlen = strlen(v), n = strlen(q->s);
	size_t cap = 3 * vlen + 5; /* every byte may become %XX; cli_escape keeps 4 spare */
	char *esc = malloc(cap);
	if (!esc) {
		q->full = true;
		return;
	}
	cli_escape(v, esc, cap);
	int w = snprintf(q->s + n, sizeof(q->s) - n, "%s%s=%s", n ? "&" : "?", k, esc);
	if (w < 0 || (size_t)w >= sizeof(q->s) - n) {
		q->s[n] = '\0'; /* never send a cut value */
		q->full = true;
	}
	free(esc);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "llmobs-cli %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'llmobs-cli %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int cli_option_error(const char *cmd, int c, char **argv, const struct option *opts)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", opt);
	if (strncmp(opt, "--", 2))
		return cli_usage_error(cmd, "unknown option '-%c'", optopt ? optopt : '?');
	/* getopt_long says '?' for a prefix of two options (--s) too */
	size_t len = strcspn(opt + 2, "="), matches = 0;
	for (; opts->name && len; opts++)
		matches += !strncmp(opts->name, opt + 2, len);
	if (matches > 1)
		return cli_usage_error(cmd, "option '%.*s' is ambiguous", (int)len + 2, opt);
	return cli_usage_error(cmd, "unknown option '%s'", opt);
}

bool parse_count(const char *s, long min, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min)
		return false;
	*out = v;
	return true;
}

int term_width(void)
{
	struct winsize ws;
	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col)
		return 0;
	return ws.ws_col;
}
