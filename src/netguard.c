/*-------------------------------------------------------------------------
 * netguard.c
 *	  Classifies the address a connection is about to be made to, so that a
 *	  source created by a role that is not a superuser cannot make the
 *	  server reach what only the server can reach: its own loopback, the
 *	  cloud metadata endpoint (169.254.169.254), the private network.
 *
 * http.c calls it from libcurl's open-socket callback, that is with the
 * address DNS resolution produced, right before connect(): a host name
 * that resolves to a private address, now or after a DNS change
 * (rebinding), is refused the same as a literal one.
 *
 * The rule is an allow-list in spirit: IPv4 outside the special-purpose
 * blocks of RFC 6890 and IPv6 inside global unicast 2000::/3 outside its
 * special-purpose blocks.  IPv6 forms that carry an IPv4 address
 * (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are
 * judged by the IPv4 address they reach.
 *
 * Plain C without PostgreSQL headers: it runs inside a curl callback,
 * where nothing may raise an ERROR.
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netguard.h"

typedef struct V4Block
{
	uint32_t	net;
	int			bits;
	const char *what;
} V4Block;

/* IPv4 special-purpose blocks (RFC 6890 and its updates) */
static const V4Block v4_blocks[] = {
	{0x00000000, 8, "unspecified"},		/* 0.0.0.0/8 "this network" */
	{0x0A000000, 8, "private"},			/* 10.0.0.0/8 */
	{0x64400000, 10, "shared (carrier-grade NAT)"},	/* 100.64.0.0/10 */
	{0x7F000000, 8, "loopback"},		/* 127.0.0.0/8 */
	{0xA9FE0000, 16, "link-local"},		/* 169.254.0.0/16, cloud metadata */
	{0xAC100000, 12, "private"},		/* 172.16.0.0/12 */
	{0xC0000000, 24, "reserved"},		/* 192.0.0.0/24 IETF protocol assignments */
	{0xC0000200, 24, "reserved"},		/* 192.0.2.0/24 documentation */
	{0xC0586300, 24, "reserved"},		/* 192.88.99.0/24 6to4 relay anycast */
	{0xC0A80000, 16, "private"},		/* 192.168.0.0/16 */
	{0xC6120000, 15, "reserved"},		/* 198.18.0.0/15 benchmarking */
	{0xC6336400, 24, "reserved"},		/* 198.51.100.0/24 documentation */
	{0xCB007100, 24, "reserved"},		/* 203.0.113.0/24 documentation */
	{0xE0000000, 4, "multicast"},		/* 224.0.0.0/4 */
	{0xF0000000, 4, "reserved"},		/* 240.0.0.0/4 and 255.255.255.255 */
};

static const char *
netguard_v4(uint32_t a)
{
	for (size_t i = 0; i < sizeof(v4_blocks) / sizeof(v4_blocks[0]); i++)
	{
		uint32_t	mask = 0xFFFFFFFFu << (32 - v4_blocks[i].bits);

		if ((a & mask) == v4_blocks[i].net)
			return v4_blocks[i].what;
	}
	return NULL;
}

static uint32_t
v4_at(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* true when the first `bits` bits of a equal those of prefix */
static int
v6_in(const uint8_t *a, const uint8_t *prefix, int bits)
{
	int			bytes = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, prefix, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[bytes] ^ prefix[bytes]) & (0xFF << (8 - rest))) == 0;
}

static const char *
netguard_v6(const uint8_t *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const uint8_t nat64[12] = {0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t sixto4[2] = {0x20, 0x02};
	static const uint8_t ietf[3] = {0x20, 0x01, 0x00};	/* 2001::/23 */
	static const uint8_t doc[4] = {0x20, 0x01, 0x0D, 0xB8};	/* 2001:db8::/32 */
	static const uint8_t doc2[3] = {0x3F, 0xFF, 0x00};	/* 3fff::/20 */
	static const uint8_t zero[16] = {0};

	/* forms that reach an IPv4 address are judged by that address */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return netguard_v4(v4_at(a + 12));
	if (v6_in(a, sixto4, 16))
		return netguard_v4(v4_at(a + 2));

	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback";		/* ::1 */
	if (memcmp(a, zero, 16) == 0)
		return "unspecified";	/* :: */
	if (a[0] == 0xFF)
		return "multicast";		/* ff00::/8 */
	if ((a[0] & 0xFE) == 0xFC)
		return "private";		/* fc00::/7 unique local */
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
		return "link-local";	/* fe80::/10 */
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0)
		return "private";		/* fec0::/10 site-local, deprecated */
	/* only global unicast 2000::/3 is public at all */
	if ((a[0] & 0xE0) != 0x20)
		return "reserved";
	if (v6_in(a, ietf, 23) || v6_in(a, doc, 32) || v6_in(a, doc2, 20))
		return "reserved";
	return NULL;
}

const char *
sync_netguard_refuses(const struct sockaddr *addr, size_t addrlen)
{
	if (addr == NULL)
		return "not an internet address";
	if (addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in))
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) addr;

		return netguard_v4(ntohl(in->sin_addr.s_addr));
	}
	if (addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6))
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) addr;

		return netguard_v6(in6->sin6_addr.s6_addr);
	}
	return "not an internet address";
}

void
sync_netguard_format(const struct sockaddr *addr, size_t addrlen, char *buf, size_t buflen)
{
	const char *ok = NULL;

	if (buflen == 0)
		return;
	if (addr != NULL && addr->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in))
		ok = inet_ntop(AF_INET, &((const struct sockaddr_in *) addr)->sin_addr, buf, buflen);
	else if (addr != NULL && addr->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6))
		ok = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) addr)->sin6_addr, buf, buflen);
	if (ok == NULL)
		snprintf(buf, buflen, "(address family %d)", addr != NULL ? (int) addr->sa_family : -1);
}
