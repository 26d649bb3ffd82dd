/* The list of TLS stacks and what is the same for all (tls.h). */
#include "capture/tls.h"

#include <stdio.h>
#include <string.h>

#include "capture/tls_boringssl.h"
#include "capture/tls_gnutls.h"
#include "capture/tls_go.h"
#include "capture/tls_openssl.h"

const struct tls_stack *const tls_stacks[] = {&tls_openssl, &tls_gnutls, &tls_go, &tls_boringssl,
                                              NULL};
_Static_assert(sizeof(tls_stacks) / sizeof(tls_stacks[0]) <= TLS_MAX_STACKS + 1,
               "discover.c looks up TLS_MAX_STACKS stacks' symbols at once");

bool tls_usable(const struct tls_stack *s, const uint64_t *offsets)
{
	bool can_read = false, can_write = false;
	for (unsigned i = 0; i < s->nfuncs; i++) {
		if (!offsets[i])
			continue;
		can_read |= s->funcs[i].role == TLS_READ;
		can_write |= s->funcs[i].role == TLS_WRITE;
	}
	return can_read && can_write;
}

bool tls_is_wrapper(const struct tls_stack *s, const struct elf_info *info)
{
	for (int i = 0; s->wrappers && s->wrappers[i]; i++)
		if (strcmp(info->soname, s->wrappers[i]) == 0)
			return true;
	return false;
}

bool tls_is_io(const struct tls_func *f)
{
	return f->role == TLS_READ || f->role == TLS_WRITE;
}

void tls_needs(char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (const struct tls_stack *const *s = tls_stacks; *s && len < n; s++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " or " : "", (*s)->needs);
}
