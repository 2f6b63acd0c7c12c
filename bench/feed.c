/*
 * bench/feed.c: the realtime benchmark's trade source (bench/realtime.sh).
 *
 * It speaks the part of Binance that a sync trades subscription uses, like
 * the fake provider's --live mode, but in C: the Python fake cannot make
 * more than ~50,000 trades a second on this 2-core machine, and the
 * benchmark asks for up to 200,000.
 *   GET /api/v3/aggTrades?symbol=S&fromId=N|startTime=MS[&endTime=MS]&limit=L
 *   GET /ws/<s>@aggTrade (WebSocket): every trade made after the connection
 *   GET /_made?symbol=S: how many trades were made so far
 * Trades are made RATE a second, each stamped with the time it was made
 * ("T", ms) and sent at once; ids are consecutive from 1.
 *
 *   usage: feed PORT_FILE SYMBOL RATE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 64
#define OUT_MAX (64 << 20)		/* a client this far behind is dropped */

typedef struct Conn
{
	int			fd;
	int			ws;				/* 1: a WebSocket client */
	int64_t		next;			/* ws: index of the next trade to send */
	char		in[8192];
	size_t		inlen;
	char	   *out;			/* bytes to send are out[outoff .. outlen) */
	size_t		outoff,
				outlen,
				outcap;
} Conn;

static const char *symbol;
static char symbol_lower[64];
static int64_t *made_ms;		/* made_ms[i]: time of trade id i + 1 */
static int64_t nmade,
			capmade;
static Conn conns[MAX_CONN];

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
out_append(Conn *c, const void *data, size_t len)
{
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + len > c->outcap)
	{
		c->outcap = (c->outlen + len) * 2;
		c->out = realloc(c->out, c->outcap);
		if (c->out == NULL)
			abort();
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
}

static void
conn_close(Conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* the same prices and sizes over and over: only ids and times matter here */
static int
trade_json(char *buf, size_t len, int64_t i)
{
	static const char *const prices[] = {"0.00141709", "0.00141710", "0.00141708", "0.00141712"};
	static const char *const sizes[] = {"259.0", "41.0", "1.5", "1000.0", "7.25"};
	int64_t		id = i + 1;

	return snprintf(buf, len,
					"{\"e\":\"aggTrade\",\"E\":%lld,\"s\":\"%s\",\"a\":%lld,\"p\":\"%s\",\"q\":\"%s\","
					"\"f\":%lld,\"l\":%lld,\"T\":%lld,\"m\":%s,\"M\":true}",
					(long long) now_ms(), symbol, (long long) id, prices[i % 4], sizes[i % 5],
					(long long) id, (long long) id, (long long) made_ms[i], i % 3 == 0 ? "true" : "false");
}

static void
ws_send_trades(Conn *c)
{
	char		msg[512];

	for (; c->next < nmade && c->outlen - c->outoff < OUT_MAX; c->next++)
	{
		int			n = trade_json(msg, sizeof(msg), c->next);
		unsigned char head[4] = {0x81, 0, 0, 0};
		size_t		hl = 2;

		if (n < 126)
			head[1] = (unsigned char) n;
		else
		{
			head[1] = 126;
			head[2] = (unsigned char) (n >> 8);
			head[3] = (unsigned char) n;
			hl = 4;
		}
		out_append(c, head, hl);
		out_append(c, msg, n);
	}
}

static void
http_reply(Conn *c, int status, const char *ctype, const char *body, size_t len)
{
	char		head[256];
	int			n = snprintf(head, sizeof(head),
							 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
							 status, status == 200 ? "OK" : "Error", ctype, len);

	out_append(c, head, n);
	out_append(c, body, len);
}

static int64_t
query_int(const char *query, const char *key, int64_t dflt)
{
	char		pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s=", key);
	for (p = query; (p = strstr(p, pat)) != NULL; p++)
		if (p == query || p[-1] == '&' || p[-1] == '?')
			return strtoll(p + strlen(pat), NULL, 10);
	return dflt;
}

static void
rest_agg_trades(Conn *c, const char *query)
{
	int64_t		limit = query_int(query, "limit", 500);
	int64_t		from_id = query_int(query, "fromId", 0);
	int64_t		start = query_int(query, "startTime", 0);
	int64_t		end = query_int(query, "endTime", INT64_MAX);
	int64_t		lo,
				hi;
	char	   *body;
	size_t		len = 1;
	char		msg[512];

	if (limit > 1000)
		limit = 1000;
	if (from_id > 0)
		lo = from_id - 1;
	else
	{
		int64_t		a = 0,
					b = nmade;

		while (a < b)			/* first trade at or after start */
		{
			int64_t		m = (a + b) / 2;

			if (made_ms[m] < start)
				a = m + 1;
			else
				b = m;
		}
		lo = a;
	}
	hi = lo;
	while (hi < nmade && hi - lo < limit && made_ms[hi] <= end)
		hi++;
	body = malloc(2 + (hi - lo + 1) * 512);
	body[0] = '[';
	for (int64_t i = lo; i < hi; i++)
	{
		int			n = trade_json(msg, sizeof(msg), i);

		if (i > lo)
			body[len++] = ',';
		memcpy(body + len, msg, n);
		len += n;
	}
	body[len++] = ']';
	http_reply(c, 200, "application/json", body, len);
	free(body);
}

static void
ws_accept(Conn *c, const char *key)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char		buf[128];
	unsigned char sha[SHA_DIGEST_LENGTH];
	char		accept[64];
	char		head[256];
	int			n;

	snprintf(buf, sizeof(buf), "%s%s", key, guid);
	SHA1((unsigned char *) buf, strlen(buf), sha);
	EVP_EncodeBlock((unsigned char *) accept, sha, SHA_DIGEST_LENGTH);
	n = snprintf(head, sizeof(head),
				 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	out_append(c, head, n);
	c->ws = 1;
	c->next = nmade;			/* every trade made from now on */
}

/* One whole request in c->in: answer it. */
static void
handle_request(Conn *c)
{
	char		method[8],
				target[1024];
	char	   *query;
	char	   *key = strcasestr(c->in, "Sec-WebSocket-Key:");
	char		wsname[128];

	if (sscanf(c->in, "%7s %1023s", method, target) != 2)
	{
		http_reply(c, 400, "text/plain", "bad request", 11);
		return;
	}
	query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	else
		query = "";
	snprintf(wsname, sizeof(wsname), "/ws/%s@aggTrade", symbol_lower);
	if (key != NULL && strcmp(target, wsname) == 0)
	{
		char		k[64];

		if (sscanf(key + 18, " %63s", k) == 1)
			ws_accept(c, k);
		return;
	}
	if (strcmp(target, "/api/v3/aggTrades") == 0)
		rest_agg_trades(c, query);
	else if (strcmp(target, "/_made") == 0)
	{
		char		n[32];
		int			len = snprintf(n, sizeof(n), "%lld", (long long) nmade);

		http_reply(c, 200, "text/plain", n, len);
	}
	else
		http_reply(c, 404, "application/json", "{\"code\":-1000,\"msg\":\"Unknown path\"}", 35);
}

static void
conn_read(Conn *c)
{
	ssize_t		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);

	if (n <= 0)
	{
		if (n < 0 && errno == EAGAIN)
			return;
		conn_close(c);
		return;
	}
	if (c->ws)
		return;					/* what a client says on its stream is ignored; close by EOF */
	c->inlen += n;
	c->in[c->inlen] = '\0';
	while (strstr(c->in, "\r\n\r\n") != NULL)
	{
		char	   *end = strstr(c->in, "\r\n\r\n") + 4;
		size_t		rest = c->inlen - (end - c->in);

		end[-1] = '\0';
		handle_request(c);
		memmove(c->in, end, rest);
		c->inlen = rest;
		c->in[c->inlen] = '\0';
		if (c->ws)
			break;
	}
	if (c->inlen >= sizeof(c->in) - 1)
		conn_close(c);
}

static void
conn_write(Conn *c)
{
	while (c->outoff < c->outlen)
	{
		ssize_t		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

		if (n < 0)
		{
			if (errno != EAGAIN)
				conn_close(c);
			return;
		}
		c->outoff += n;
	}
	c->outoff = c->outlen = 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in addr = {0};
	socklen_t	alen = sizeof(addr);
	int			lfd;
	double		rate,
				start;
	FILE	   *pf;
	int			one = 1;

	if (argc != 4)
	{
		fprintf(stderr, "usage: feed PORT_FILE SYMBOL RATE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	symbol = argv[2];
	for (size_t i = 0; symbol[i] && i < sizeof(symbol_lower) - 1; i++)
		symbol_lower[i] = (symbol[i] >= 'A' && symbol[i] <= 'Z') ? symbol[i] + 32 : symbol[i];
	rate = atof(argv[3]);
	for (int i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(lfd, 64) != 0)
	{
		perror("feed: listen");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *) &addr, &alen);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	pf = fopen(argv[1], "w");
	fprintf(pf, "%d\n", ntohs(addr.sin_port));
	fclose(pf);

	start = now_s();
	for (;;)
	{
		struct pollfd pfd[MAX_CONN + 1];
		int			map[MAX_CONN + 1];
		int			np = 0;
		int64_t		due = (int64_t) ((now_s() - start) * rate);

		/* make the trades due by now, stamped now */
		if (due > nmade)
		{
			int64_t		t = now_ms();

			if (due > capmade)
			{
				capmade = due * 2 + 1024;
				made_ms = realloc(made_ms, sizeof(int64_t) * capmade);
			}
			while (nmade < due)
				made_ms[nmade++] = t;
		}
		for (int i = 0; i < MAX_CONN; i++)
			if (conns[i].fd >= 0)
			{
				if (conns[i].ws)
					ws_send_trades(&conns[i]);
				conn_write(&conns[i]);
			}

		pfd[np].fd = lfd;
		pfd[np].events = POLLIN;
		map[np++] = -1;
		for (int i = 0; i < MAX_CONN; i++)
			if (conns[i].fd >= 0)
			{
				pfd[np].fd = conns[i].fd;
				pfd[np].events = POLLIN | (conns[i].outlen > conns[i].outoff ? POLLOUT : 0);
				map[np++] = i;
			}
		if (poll(pfd, np, 1) < 0 && errno != EINTR)
			return 1;
		for (int k = 0; k < np; k++)
		{
			if (pfd[k].revents == 0)
				continue;
			if (map[k] < 0)
			{
				int			fd = accept(lfd, NULL, NULL);

				if (fd >= 0)
				{
					int			slot = -1;

					for (int i = 0; i < MAX_CONN && slot < 0; i++)
						if (conns[i].fd < 0)
							slot = i;
					if (slot < 0)
					{
						close(fd);
						continue;
					}
					fcntl(fd, F_SETFL, O_NONBLOCK);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					conns[slot].fd = fd;
				}
				continue;
			}
			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(&conns[map[k]]);
			if (conns[map[k]].fd >= 0 && (pfd[k].revents & POLLOUT))
				conn_write(&conns[map[k]]);
		}
	}
}
