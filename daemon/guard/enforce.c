/* Cutting a TCP connection from outside the process that owns it: the
 * kernel's SOCK_DESTROY over NETLINK_SOCK_DIAG (CONFIG_INET_DIAG_DESTROY),
 * addressed by the connection's 4-tuple, which /proc/PID/net/tcp{,6} gives
 * for the socket inode behind /proc/PID/fd/FD. */
#include "guard/enforce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tuple {
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order */
};

static void hex_words(const char *hex, uint8_t *out, int words)
{
	for (int w = 0; w < words; w++) {
		char part[9];
		memcpy(part, hex + 8 * w, 8);
		part[8] = '\0';
		uint32_t v = (uint32_t)strtoul(part, NULL, 16);
		memcpy(out + 4 * w, &v, 4); /* printed as the native u32 of be32 words */
	}
}

static bool find_tuple(uint32_t pid, unsigned long inode, struct tuple *t)
{
	static const struct {
		const char *file;
		int family, words;
	} tables[] = {{"tcp", AF_INET, 1}, {"tcp6", AF_INET6, 4}};
	for (size_t i = 0; i < 2; i++) {
		char fn[64], line[512];
		snprintf(fn, sizeof(fn), "/proc/%u/net/%s", pid, tables[i].file);
		FILE *f = fopen(fn, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[40], remote[40];
			unsigned lport, rport;
			unsigned long ino;
			if (sscanf(line,
			           " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %*x %*s %*s %*s %*d "
			           "%*d %lu",
			           local, &lport, remote, &rport, &ino) != 5 ||
			    ino != inode)
				continue;
			memset(t, 0, sizeof(*t));
			t->family = tables[i].family;
			hex_words(local, t->src, tables[i].words);
			hex_words(remote, t->dst, tables[i].words);
			t->sport = (uint16_t)lport;
			t->dport = (uint16_t)rport;
			fclose(f);
			return true;
		}
		fclose(f);
	}
	return false;
}

int sock_destroy(uint32_t pid, int fd, char *err, size_t errlen)
{
	char link[64], target[64];
	snprintf(link, sizeof(link), "/proc/%u/fd/%d", pid, fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	unsigned long inode;
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", link, strerror(errno));
		return -1;
	}
	target[n] = '\0';
	if (sscanf(target, "socket:[%lu]", &inode) != 1) {
		snprintf(err, errlen, "fd %d of pid %u is not a socket (%s)", fd, pid, target);
		return -1;
	}
	struct tuple t;
	if (!find_tuple(pid, inode, &t)) {
		snprintf(err, errlen, "socket %lu of pid %u is not a TCP connection", inode, pid);
		return -1;
	}
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg = {
	    .nh = {.nlmsg_len = sizeof(msg),
	           .nlmsg_type = SOCK_DESTROY,
	           .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
	           .nlmsg_seq = 1},
	    .req = {.sdiag_family = (uint8_t)t.family,
	            .sdiag_protocol = IPPROTO_TCP,
	            .idiag_states = ~0u,
	            .id = {.idiag_sport = htons(t.sport),
	                   .idiag_dport = htons(t.dport),
	                   .idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
	};
	memcpy(msg.req.id.idiag_src, t.src, 16);
	memcpy(msg.req.id.idiag_dst, t.dst, 16);
	int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0) {
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int rc = -1;
	if (sendto(s, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		snprintf(err, errlen, "SOCK_DESTROY: %s", strerror(errno));
	} else {
		char buf[512];
		ssize_t got = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		if (got >= (ssize_t)(sizeof(*h) + sizeof(struct nlmsgerr)) &&
		    h->nlmsg_type == NLMSG_ERROR) {
			int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (!e)
				rc = 0;
			else
				snprintf(err, errlen, "SOCK_DESTROY: %s", strerror(-e));
		} else {
			snprintf(err, errlen, "SOCK_DESTROY: no answer from the kernel");
		}
	}
	close(s);
	return rc;
}
