/* Guardrail policies: JSON rules parsed, checked and compiled into one
 * vectorscan streaming database (see policy.h). */
#include "guard/policy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/macros.h"
#include "core/buf.h"
#include "guard/compiled.h"

const char *guard_action_name(enum guard_action a)
{
	return a == GUARD_BLOCK ? "block" : a == GUARD_REDACT ? "redact" : "alert";
}

const char *guard_where_name(enum guard_where w)
{
	return w == GUARD_REQUEST ? "request" : w == GUARD_RESPONSE ? "response" : "both";
}

static int fail(char *err, size_t errlen, const char *rule, const char *fmt, const char *what)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, what);
	if (rule)
		snprintf(err, errlen, "rule \"%s\": %s", rule, msg);
	else
		snprintf(err, errlen, "%s", msg);
	return -1;
}

static int pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

/* A literal as a regular expression: every byte outside [A-Za-z0-9 ] escaped. */
static char *literal_regex(const char *lit)
{
	size_t n = strlen(lit);
	char *out = xmalloc(4 * n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)lit[i];
		if (isalnum(ch) || ch == ' ')
			*o++ = (char)ch;
		else
			o += sprintf(o, "\\x%02x", ch);
	}
	*o = '\0';
	return out;
}

static int parse_rule(struct guard_policy *p, const cJSON *r, unsigned idx, char **exprs,
                      unsigned *flags, char *err, size_t errlen)
{
	static const char *const keys[] = {"id",       "description", "patterns",
	                                   "literals", "applies",     "severity",
	                                   "action",   "validator",   "caseless"};
	static const char *const wheres[] = {"request", "response", "both"};
	static const char *const severities[] = {"low", "medium", "high", "critical"};
	static const char *const actions[] = {"alert", "redact", "block"};
	static const char *const validators[] = {"none", "luhn", "iban"};
	char where[32];
	snprintf(where, sizeof(where), "#%u", idx + 1);
	if (!cJSON_IsObject(r))
		return fail(err, errlen, where, "%s", "is not an object");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
	if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) >= 64)
		return fail(err, errlen, where, "%s",
		            "needs an \"id\" (a string of 1 to 63 characters)");
	const char *name = id->valuestring;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return fail(err, errlen, name, "%s",
			            "id may hold only letters, digits, . _ -");
	for (unsigned i = 0; i < p->nrules; i++)
		if (!strcmp(p->rules[i].id, name))
			return fail(err, errlen, name, "%s", "id used twice");
	const cJSON *k;
	cJSON_ArrayForEach(k, r)
	{
		if (pick(k->string, keys, ARRAY_LEN(keys)) < 0)
			return fail(err, errlen, name, "unknown key \"%s\"", k->string);
	}
	struct guard_rule *rule = &p->rules[p->nrules];
	memset(rule, 0, sizeof(*rule));
	snprintf(rule->id, sizeof(rule->id), "%s", name);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "description");
	if (v && !cJSON_IsString(v))
		return fail(err, errlen, name, "%s", "\"description\" must be a string");
	snprintf(rule->description, sizeof(rule->description), "%s", v ? v->valuestring : "");
	int w = GUARD_BOTH - 1, sev = 1, act = GUARD_ALERT, val = GUARD_VALID_NONE;
	struct {
		const char *key;
		const char *const *names;
		int n;
		int *out;
	} enums[] = {
	    {"applies", wheres, 3, &w},
	    {"severity", severities, 4, &sev},
	    {"action", actions, 3, &act},
	    {"validator", validators, 3, &val},
	};
	for (size_t i = 0; i < ARRAY_LEN(enums); i++) {
		v = cJSON_GetObjectItemCaseSensitive(r, enums[i].key);
		if (!v)
			continue;
		int got = cJSON_IsString(v) ? pick(v->valuestring, enums[i].names, enums[i].n) : -1;
		if (got < 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "\"%s\" must be one of", enums[i].key);
			for (int j = 0; j < enums[i].n; j++)
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s",
				         enums[i].names[j]);
			return fail(err, errlen, name, "%s", msg);
		}
		*enums[i].out = got;
	}
	rule->applies = (enum guard_where)(w + 1);
	snprintf(rule->severity, sizeof(rule->severity), "%s", severities[sev]);
	rule->action = (enum guard_action)act;
	rule->validator = (enum guard_validator)val;
	v = cJSON_GetObjectItemCaseSensitive(r, "caseless");
	if (v && !cJSON_IsBool(v))
		return fail(err, errlen, name, "%s", "\"caseless\" must be true or false");
	bool caseless = cJSON_IsTrue(v);
	unsigned before = p->npatterns;
	static const char *const lists[] = {"patterns", "literals"};
	for (int l = 0; l < 2; l++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r, lists[l]), *e;
		if (!arr)
			continue;
		if (!cJSON_IsArray(arr))
			return fail(err, errlen, name, "\"%s\" must be an array of strings",
			            lists[l]);
		cJSON_ArrayForEach(e, arr)
		{
			if (!cJSON_IsString(e) || !e->valuestring[0])
				return fail(err, errlen, name, "\"%s\" must hold non-empty strings",
				            lists[l]);
			if (p->npatterns == GUARD_MAX_PATTERNS)
				return fail(err, errlen, name, "%s",
				            "too many patterns in the policy");
			exprs[p->npatterns] =
			    l ? literal_regex(e->valuestring) : xstrdup(e->valuestring);
			flags[p->npatterns] =
			    HS_FLAG_SOM_LEFTMOST | (caseless ? HS_FLAG_CASELESS : 0);
			p->pattern_rule[p->npatterns++] = p->nrules;
		}
	}
	if (p->npatterns == before)
		return fail(err, errlen, name, "%s", "needs \"patterns\" or \"literals\"");
	p->nrules++;
	return 0;
}

/* The line of an escaped NUL (\u0000) in JSON text, or 0. cJSON would
 * end the string there, silently cutting a pattern short. */
static unsigned escaped_nul_line(const char *s, size_t n)
{
	unsigned line = 1;
	for (size_t i = 0; i + 6 <= n; i++) {
		if (s[i] == '\n')
			line++;
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4))
			return line;
		i++; /* an escape: its next byte is not a backslash that starts one */
	}
	return 0;
}

struct guard_policy *guard_policy_load(const char *json, size_t len, char *err, size_t errlen)
{
	unsigned nul = escaped_nul_line(json, len);
	if (nul) {
		snprintf(err, errlen,
		         "line %u: \\u0000 (a NUL byte) cannot be kept in a policy string; in a "
		         "pattern, write the regex \\x00",
		         nul);
		return NULL;
	}
	cJSON *j = cJSON_ParseWithLength(json, len);
	const cJSON *rules = j ? cJSON_GetObjectItemCaseSensitive(j, "rules") : NULL;
	if (!j || !cJSON_IsArray(rules) || !cJSON_GetArraySize(rules)) {
		snprintf(err, errlen, "%s",
		         j ? "expected {\"rules\": [...]} with at least one rule"
		           : "not valid JSON");
		cJSON_Delete(j);
		return NULL;
	}
	struct guard_policy *p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	char **exprs = xcalloc(GUARD_MAX_PATTERNS, sizeof(*exprs));
	unsigned *flags = xcalloc(GUARD_MAX_PATTERNS, sizeof(*flags)), *ids = NULL;
	const cJSON *r;
	unsigned idx = 0;
	int rc = 0;
	cJSON_ArrayForEach(r, rules)
	{
		if (p->nrules == GUARD_MAX_RULES) {
			rc = fail(err, errlen, NULL, "%s", "more than 256 rules");
			break;
		}
		if ((rc = parse_rule(p, r, idx++, exprs, flags, err, errlen)) != 0)
			break;
	}
	if (!rc) {
		ids = xcalloc(p->npatterns, sizeof(*ids));
		for (unsigned i = 0; i < p->npatterns; i++)
			ids[i] = i;
		hs_compile_error_t *ce = NULL;
		if (hs_compile_multi((const char *const *)exprs, flags, ids, p->npatterns,
		                     HS_MODE_STREAM | HS_MODE_SOM_HORIZON_LARGE, NULL, &p->db,
		                     &ce) != HS_SUCCESS) {
			unsigned bad = ce && ce->expression >= 0 ? (unsigned)ce->expression : 0;
			char msg[256];
			snprintf(msg, sizeof(msg), "pattern \"%s\": %s", exprs[bad],
			         ce ? ce->message : "does not compile");
			rc = fail(err, errlen, p->rules[p->pattern_rule[bad]].id, "%s", msg);
			hs_free_compile_error(ce);
		} else if (hs_alloc_scratch(p->db, &p->scratch) != HS_SUCCESS) {
			rc =
			    fail(err, errlen, NULL, "%s", "cannot allocate the scan scratch space");
		}
	}
	for (unsigned i = 0; i < GUARD_MAX_PATTERNS; i++)
		free(exprs[i]);
	free(exprs);
	free(flags);
	free(ids);
	cJSON_Delete(j);
	if (rc) {
		guard_policy_unref(p);
		return NULL;
	}
	return p;
}

struct guard_policy *guard_policy_default(char *err, size_t errlen)
{
	return guard_policy_load(guard_default_policy_json, strlen(guard_default_policy_json), err,
	                         errlen);
}

void guard_policy_ref(struct guard_policy *p)
{
	p->refs++;
}

void guard_policy_unref(struct guard_policy *p)
{
	if (!p || --p->refs > 0)
		return;
	hs_free_scratch(p->scratch);
	hs_free_database(p->db);
	free(p);
}

unsigned guard_policy_rules(const struct guard_policy *p)
{
	return p->nrules;
}

const struct guard_rule *guard_policy_rule(const struct guard_policy *p, unsigned i)
{
	return i < p->nrules ? &p->rules[i] : NULL;
}
