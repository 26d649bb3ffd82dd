/* The compiled form of a policy, shared by the loader (policy.c) and the
 * scanner (scan.c) and by nothing else: everyone outside guard/ sees
 * struct guard_policy as opaque. */
#ifndef LLMOBS_GUARD_COMPILED_H
#define LLMOBS_GUARD_COMPILED_H

#include <hs/hs.h>

#include "guard/policy.h"

#define GUARD_MAX_RULES    256
#define GUARD_MAX_PATTERNS 1024

struct guard_policy {
	int refs;
	struct guard_rule rules[GUARD_MAX_RULES];
	unsigned nrules;
	unsigned pattern_rule[GUARD_MAX_PATTERNS]; /* pattern id -> rule */
	unsigned npatterns;
	hs_database_t *db;
	hs_scratch_t *scratch; /* the pipeline thread scans; one at a time */
};

#endif
