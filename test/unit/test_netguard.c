// unit-sources: src/netguard.c
// unit-libs:
/*-------------------------------------------------------------------------
 * test_netguard.c
 *	  Unit test of src/netguard.c: which addresses a source created by a
 *	  non-superuser may connect to.  TAP output, no PostgreSQL.
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netguard.h"

static int	ntests = 0;
static int	nfailed = 0;

/* expect: NULL for a public address, else the word netguard must give */
static void
check(const char *text, const char *expect)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	const char *got;
	char		back[64];

	memset(&in, 0, sizeof(in));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
	{
		in.sin_family = AF_INET;
		got = sync_netguard_refuses((struct sockaddr *) &in, sizeof(in));
		sync_netguard_format((struct sockaddr *) &in, sizeof(in), back, sizeof(back));
	}
	else if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
	{
		in6.sin6_family = AF_INET6;
		got = sync_netguard_refuses((struct sockaddr *) &in6, sizeof(in6));
		sync_netguard_format((struct sockaddr *) &in6, sizeof(in6), back, sizeof(back));
	}
	else
	{
		printf("not ok %d - %s does not parse\n", ++ntests, text);
		nfailed++;
		return;
	}
	if ((expect == NULL) != (got == NULL) || (expect != NULL && strcmp(expect, got) != 0) ||
		strcmp(back, text) != 0)
	{
		printf("not ok %d - %s: expected %s, got %s (formatted %s)\n", ++ntests, text,
			   expect ? expect : "public", got ? got : "public", back);
		nfailed++;
	}
	else
		printf("ok %d - %s is %s\n", ++ntests, text, expect ? expect : "public");
}

int
main(void)
{
	struct sockaddr unix_addr = {.sa_family = AF_UNIX};

	/* IPv4 */
	check("8.8.8.8", NULL);
	check("1.1.1.1", NULL);
	check("52.94.236.248", NULL);
	check("0.0.0.0", "unspecified");
	check("0.1.2.3", "unspecified");
	check("10.0.0.1", "private");
	check("10.255.255.255", "private");
	check("100.64.0.1", "shared (carrier-grade NAT)");
	check("100.127.255.255", "shared (carrier-grade NAT)");
	check("100.128.0.1", NULL);
	check("127.0.0.1", "loopback");
	check("127.255.0.9", "loopback");
	check("169.254.169.254", "link-local");
	check("172.15.255.255", NULL);
	check("172.16.0.1", "private");
	check("172.31.255.254", "private");
	check("172.32.0.1", NULL);
	check("192.0.0.8", "reserved");
	check("192.0.2.1", "reserved");
	check("192.88.99.1", "reserved");
	check("192.168.1.1", "private");
	check("192.169.0.1", NULL);
	check("198.18.0.1", "reserved");
	check("198.19.255.255", "reserved");
	check("198.20.0.1", NULL);
	check("198.51.100.7", "reserved");
	check("203.0.113.9", "reserved");
	check("224.0.0.1", "multicast");
	check("239.255.255.250", "multicast");
	check("240.0.0.1", "reserved");
	check("255.255.255.255", "reserved");
	/* IPv6 */
	check("2606:4700:4700::1111", NULL);
	check("2a00:1450:4001:80b::200e", NULL);
	check("::", "unspecified");
	check("::1", "loopback");
	check("::ffff:127.0.0.1", "loopback");
	check("::ffff:169.254.169.254", "link-local");
	check("::ffff:10.1.2.3", "private");
	check("::ffff:8.8.8.8", NULL);
	check("::127.0.0.1", "reserved");	/* IPv4-compatible, deprecated */
	check("64:ff9b::a9fe:a9fe", "link-local");	/* NAT64 of 169.254.169.254 */
	check("64:ff9b::808:808", NULL);
	check("2002:7f00:1::", "loopback");	/* 6to4 of 127.0.0.1 */
	check("2002:808:808::1", NULL);
	check("fc00::1", "private");
	check("fd12:3456:789a::1", "private");
	check("fe80::1", "link-local");
	check("febf::1", "link-local");
	check("fec0::1", "private");
	check("ff02::1", "multicast");
	check("100::1", "reserved");
	check("2001::1", "reserved");	/* Teredo */
	check("2001:db8::1", "reserved");
	check("2001:200::1", NULL);
	check("3fff::1", "reserved");
	check("3fff:1000::1", NULL);
	check("4000::1", "reserved");
	check("fd00:ec2::254", "private");	/* AWS IPv6 metadata */

	/* neither IPv4 nor IPv6 */
	if (sync_netguard_refuses(&unix_addr, sizeof(unix_addr)) != NULL &&
		sync_netguard_refuses(NULL, 0) != NULL)
		printf("ok %d - other families are refused\n", ++ntests);
	else
	{
		printf("not ok %d - other families are refused\n", ++ntests);
		nfailed++;
	}
	printf("1..%d\n", ntests);
	return nfailed != 0;
}
