/* Streaming scans of one call's text against a compiled policy, with the
 * post-match validators (see scan.h). */
#include "guard/scan.h"

#include <ctype.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "guard/compiled.h"

#define WINDOW 1024 /* bytes kept for validators; matches they check are short */

struct pending {
	bool live;
	uint64_t from, to;
	uint64_t reported_from; /* + 1; 0: none yet */
};

/* A match is final once this many bytes went by without it growing: a
 * pattern may continue past bytes that cannot end it (the separators of a
 * card number), so "not at the end of the data" is not enough. */
#define SETTLE 256

struct guard_stream {
	struct guard_policy *p;
	enum guard_where where;
	hs_stream_t *hs;
	uint64_t end; /* bytes scanned so far */
	char window[WINDOW];
	uint64_t window_base; /* stream offset of window[0] */
	size_t window_len;
	struct pending *pend; /* per rule: the match that may still grow */
	guard_hit_fn fn;
	void *ctx;
};

/* ---- validators ---- */

bool guard_luhn(const char *s, size_t n)
{
	int sum = 0, digits = 0;
	for (size_t i = n; i-- > 0;) {
		if (s[i] == ' ' || s[i] == '-')
			continue;
		if (!isdigit((unsigned char)s[i]))
			return false;
		int d = s[i] - '0';
		if (digits++ % 2) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

bool guard_iban(const char *s, size_t n)
{
	char c[40];
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ')
			continue;
		if (len == sizeof(c) || !isalnum((unsigned char)s[i]))
			return false;
		c[len++] = (char)toupper((unsigned char)s[i]);
	}
	if (len < 15 || len > 34)
		return false;
	/* move the first four characters to the end; letters are 10..35;
	 * the number mod 97 must be 1 */
	unsigned rem = 0;
	for (size_t k = 0; k < len; k++) {
		char ch = c[(k + 4) % len];
		if (isdigit((unsigned char)ch))
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/* The longest prefix of [from, to) that passes the rule's validator, as
 * its end offset; 0 when none does. */
static uint64_t validate(struct guard_stream *s, const struct guard_rule *r, uint64_t from,
                         uint64_t to)
{
	if (r->validator == GUARD_VALID_NONE)
		return to;
	if (from < s->window_base || to > s->window_base + s->window_len)
		return 0; /* longer than the window: cannot be checked, not reported */
	const char *m = s->window + (from - s->window_base);
	for (uint64_t end = to; end > from; end--) {
		size_t n = (size_t)(end - from);
		char last = m[n - 1];
		if (last == ' ' || last == '-')
			continue;
		if (r->validator == GUARD_VALID_LUHN ? guard_luhn(m, n) : guard_iban(m, n))
			return end;
	}
	return 0;
}

struct guard_stream *guard_stream_new(struct guard_policy *p, enum guard_where where)
{
	struct guard_stream *s = xcalloc(1, sizeof(*s));
	if (hs_open_stream(p->db, 0, &s->hs) != HS_SUCCESS) {
		free(s);
		return NULL;
	}
	guard_policy_ref(p);
	s->p = p;
	s->where = where;
	s->pend = xcalloc(p->nrules, sizeof(*s->pend));
	return s;
}

static void report(struct guard_stream *s, unsigned ri)
{
	struct pending *pd = &s->pend[ri];
	const struct guard_rule *r = &s->p->rules[ri];
	pd->live = false;
	pd->reported_from = pd->from + 1;
	uint64_t to = validate(s, r, pd->from, pd->to);
	if (!to || !s->fn)
		return;
	struct guard_hit h = {.rule = r, .where = s->where, .from = pd->from, .to = to};
	s->fn(s->ctx, &h);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
	(void)flags;
	struct guard_stream *s = ctx;
	unsigned ri = s->p->pattern_rule[id];
	if (!(s->p->rules[ri].applies & s->where))
		return 0;
	struct pending *pd = &s->pend[ri];
	if (!pd->live && pd->reported_from == from + 1)
		return 0; /* grew after it settled: already reported */
	if (s->p->rules[ri].action == GUARD_BLOCK) {
		/* a block cannot wait for the match to settle: its first form is
		 * enough, and growing it would not change the verdict */
		if (pd->live)
			report(s, ri);
		pd->live = true;
		pd->from = from;
		pd->to = to;
		report(s, ri);
		return 0;
	}
	if (pd->live && from == pd->from) { /* the same match, grown */
		if (to > pd->to)
			pd->to = to;
		return 0;
	}
	if (pd->live && from < pd->to)
		return 0; /* starts inside the match we have: part of it */
	if (pd->live)
		report(s, ri);
	pd->live = true;
	pd->from = from;
	pd->to = to;
	return 0;
}

static void keep_window(struct guard_stream *s, const char *data, size_t len)
{
	if (len >= WINDOW) {
		memcpy(s->window, data + len - WINDOW, WINDOW);
		s->window_len = WINDOW;
		s->window_base = s->end - WINDOW;
		return;
	}
	if (s->window_len + len > WINDOW) {
		size_t drop = s->window_len + len - WINDOW;
		memmove(s->window, s->window + drop, s->window_len - drop);
		s->window_len -= drop;
		s->window_base += drop;
	}
	memcpy(s->window + s->window_len, data, len);
	s->window_len += len;
}

void guard_scan(struct guard_stream *s, const char *data, size_t len, guard_hit_fn fn, void *ctx)
{
	if (!s || !len)
		return;
	s->fn = fn;
	s->ctx = ctx;
	s->end += len;
	keep_window(s, data, len);
	hs_scan_stream(s->hs, data, (unsigned)len, 0, s->p->scratch, on_match, s);
	for (unsigned i = 0; i < s->p->nrules; i++)
		if (s->pend[i].live && s->pend[i].to + SETTLE < s->end)
			report(s, i);
}

void guard_stream_close(struct guard_stream *s, guard_hit_fn fn, void *ctx)
{
	if (!s)
		return;
	s->fn = fn;
	s->ctx = ctx;
	hs_close_stream(s->hs, s->p->scratch, on_match, s);
	for (unsigned i = 0; i < s->p->nrules; i++)
		if (s->pend[i].live)
			report(s, i);
	guard_policy_unref(s->p);
	free(s->pend);
	free(s);
}
