/* Peer addresses from connect(), keyed by (tgid, fd), so a TLS connection
 * whose fd we learnt can name its server. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uthash.h>

#include "core/buf.h"
#include "wire/peer.h"

#define PEERS_MAX 65536

struct peer_key {
	uint32_t tgid;
	int32_t fd;
};

struct peer {
	struct peer_key key;
	char addr[64];
	UT_hash_handle hh;
};

static struct peer *peers;

void peer_note(const struct llmobs_event *ev)
{
	struct peer_key k = {.tgid = ev->tgid, .fd = ev->fd};
	struct peer *p;
	char ip[INET6_ADDRSTRLEN] = "?";

	HASH_FIND(hh, peers, &k, sizeof(k), p);
	if (!p) {
		if (HASH_COUNT(peers) >= PEERS_MAX) {
			/* Evict the oldest entry: fds of long-gone processes. */
			struct peer *old = peers;
			HASH_DEL(peers, old);
			free(old);
		}
		p = xcalloc(1, sizeof(*p));
		p->key = k;
		HASH_ADD(hh, peers, key, sizeof(k), p);
	}
	/* ev->family is the kernel's AF_* value (the same numbers) */
	inet_ntop(ev->family == AF_INET6 ? AF_INET6 : AF_INET, ev->addr, ip, sizeof(ip));
	if (ev->family == AF_INET6)
		snprintf(p->addr, sizeof(p->addr), "[%s]:%u", ip, ntohs(ev->port));
	else
		snprintf(p->addr, sizeof(p->addr), "%s:%u", ip, ntohs(ev->port));
}

const char *peer_lookup(uint32_t tgid, int fd)
{
	struct peer_key k = {.tgid = tgid, .fd = fd};
	struct peer *p;
	if (fd < 0)
		return NULL;
	HASH_FIND(hh, peers, &k, sizeof(k), p);
	return p ? p->addr : NULL;
}

void peer_forget_process(uint32_t tgid)
{
	struct peer *p, *tmp;
	HASH_ITER(hh, peers, p, tmp)
	{
		if (p->key.tgid == tgid) {
			HASH_DEL(peers, p);
			free(p);
		}
	}
}
