/*-------------------------------------------------------------------------
 * netguard.h
 *	  Which network addresses a source that no superuser vouched for may
 *	  connect to (see netguard.c).  Plain C, no PostgreSQL: unit-testable.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_NETGUARD_H
#define SYNC_NETGUARD_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * NULL when addr is a public unicast address anybody may reach; otherwise
 * a short word saying what it is ("loopback", "private", "link-local", ...).
 * Anything that is not IPv4 or IPv6 is "not an internet address".
 */
extern const char *sync_netguard_refuses(const struct sockaddr *addr, size_t addrlen);

/* The address as text ("127.0.0.1", "::1"), for error messages. */
extern void sync_netguard_format(const struct sockaddr *addr, size_t addrlen,
								 char *buf, size_t buflen);

#endif							/* SYNC_NETGUARD_H */
