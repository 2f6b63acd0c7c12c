// unit-sources: src/ws_proto.c
// unit-libs: -lwslay
/*-------------------------------------------------------------------------
 * test_websocket.c
 *	  Unit tests of the stream client's WebSocket protocol (src/ws_proto.c)
 *	  without PostgreSQL or a network: the server's handshake answers, and
 *	  the frames it sends, go through an in-memory transport.  Every
 *	  hostile shape must end the connection with a clear error (never an
 *	  "OK" that reads nothing more), and inputs the fuzzer found are
 *	  replayed from test/fuzz/crashes/fuzz_websocket/ when that directory holds
 *	  any.  Prints TAP.
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_proto.h"

static int	tests = 0;
static int	failed = 0;

static void
ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}

static void
has(const char *got, const char *want, const char *name)
{
	int			cond = got != NULL && strstr(got, want) != NULL;

	ok(cond, name);
	if (!cond)
		printf("#   got: '%s'\n#   expected to contain: '%s'\n", got ? got : "(null)", want);
}

/* ---- the in-memory transport ---- */

typedef struct Mem
{
	const uint8_t *in;
	size_t		in_len;
	size_t		in_off;
	size_t		chunk;			/* most bytes one recv returns */
	bool		eof;			/* after the input: the connection ends (else would block) */
	uint8_t		out[65536];		/* what the client sent */
	size_t		out_len;
} Mem;

static ssize_t
mem_recv(void *arg, uint8_t *buf, size_t len, char *error, size_t errlen)
{
	Mem		   *m = (Mem *) arg;
	size_t		n = m->in_len - m->in_off;

	if (n == 0)
	{
		if (!m->eof)
			return 0;
		snprintf(error, errlen, "stream closed by the server without a close frame");
		return -1;
	}
	if (n > len)
		n = len;
	if (m->chunk > 0 && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->in + m->in_off, n);
	m->in_off += n;
	return (ssize_t) n;
}

static ssize_t
mem_send(void *arg, const uint8_t *buf, size_t len, char *error, size_t errlen)
{
	Mem		   *m = (Mem *) arg;

	if (len > sizeof(m->out) - m->out_len)
		len = sizeof(m->out) - m->out_len;
	memcpy(m->out + m->out_len, buf, len);
	m->out_len += len;
	return len > 0 ? (ssize_t) len : 0;
}

/* ---- server frames ---- */

typedef struct Buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} Buf;

static void
put(Buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap)
	{
		b->cap = (b->len + len) * 2 + 64;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

/* A frame: first byte fin/rsv/opcode as given, declared length (may lie), payload. */
static void
frame(Buf *b, uint8_t first, bool masked, uint64_t declared, const char *payload, size_t len)
{
	uint8_t		h[14];
	size_t		n = 0;

	h[n++] = first;
	if (declared < 126)
		h[n++] = (masked ? 0x80 : 0) | (uint8_t) declared;
	else if (declared < 65536)
	{
		h[n++] = (masked ? 0x80 : 0) | 126;
		h[n++] = declared >> 8;
		h[n++] = declared & 0xff;
	}
	else
	{
		h[n++] = (masked ? 0x80 : 0) | 127;
		for (int i = 7; i >= 0; i--)
			h[n++] = (declared >> (8 * i)) & 0xff;
	}
	if (masked)
	{
		memset(h + n, 0, 4);	/* a zero mask: the payload reads as is */
		n += 4;
	}
	put(b, h, n);
	put(b, payload, len);
}

static void
text(Buf *b, const char *s)
{
	frame(b, 0x81, false, strlen(s), s, strlen(s));
}

/* What a run over input ended with. */
typedef struct Run
{
	WsProtoState state;
	int			messages;
	char		last[256];
	char		error[256];
	uint8_t		sent_opcodes[16];	/* opcodes of the client's frames */
	int			nsent;
	uint16_t	close_code;		/* the client's close frame, if any */
} Run;

/* Client frames are masked: read their opcodes and a close code. */
static void
client_frames(Mem *m, Run *r)
{
	size_t		off = 0;

	while (off + 2 <= m->out_len && r->nsent < 16)
	{
		uint8_t		op = m->out[off] & 0x0f;
		uint64_t	len = m->out[off + 1] & 0x7f;
		size_t		head = 2;
		const uint8_t *mask;

		if (len == 126)
		{
			len = ((uint64_t) m->out[off + 2] << 8) | m->out[off + 3];
			head = 4;
		}
		else if (len == 127)
			break;				/* the client sends nothing this long here */
		mask = m->out + off + head;
		head += 4;
		if (off + head + len > m->out_len)
			break;
		r->sent_opcodes[r->nsent++] = op;
		if (op == 0x8 && len >= 2)
			r->close_code = (uint16_t) (((m->out[off + head] ^ mask[0]) << 8) | (m->out[off + head + 1] ^ mask[1]));
		off += head + len;
	}
}

/* Feed input to a new connection, pumping until it ends or the input is read. */
static Run
run_with(const Buf *in, size_t chunk, bool eof, size_t max_message, size_t budget)
{
	Mem		   *m = calloc(1, sizeof(Mem));
	WsTransport t = {mem_recv, mem_send, m};
	WsProto    *p;
	Run			r;

	memset(&r, 0, sizeof(r));
	m->in = in->data;
	m->in_len = in->len;
	m->chunk = chunk;
	m->eof = eof;
	p = ws_proto_create(&t, max_message, NULL, 0);
	for (int i = 0; i < 10000000; i++)
	{
		WsMessage  *msg;

		ws_proto_pump(p, budget);
		while ((msg = ws_proto_next(p)) != NULL)
		{
			r.messages++;
			snprintf(r.last, sizeof(r.last), "%s", msg->data);
			free(msg);
		}
		if (ws_proto_state(p) != WS_PROTO_OK)
			break;
		if (m->in_off == m->in_len && !ws_proto_more_pending(p))
			break;
	}
	r.state = ws_proto_state(p);
	snprintf(r.error, sizeof(r.error), "%s", ws_proto_error(p));
	ws_proto_free(p, false);
	client_frames(m, &r);
	free(m);
	return r;
}

static Run
run(const Buf *in)
{
	return run_with(in, 0, false, WS_MAX_MESSAGE, 256 * 1024);
}

static bool
sent(const Run *r, uint8_t opcode)
{
	for (int i = 0; i < r->nsent; i++)
		if (r->sent_opcodes[i] == opcode)
			return true;
	return false;
}

/* ---- the handshake ---- */

#define ACCEPT "s3pPLMBiTxaQ9kYGJRbK+xOo="	/* RFC 6455's example */

static bool
check(const char *answer, char *error)
{
	error[0] = '\0';
	return ws_check_handshake(answer, strlen(answer), ACCEPT, error, 256);
}

static void
test_handshake(void)
{
	char		err[256];
	const char *good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n";
	char		buf[512];

	ok(ws_handshake_end(good, strlen(good)) == strlen(good), "handshake: its end is found");
	ok(ws_handshake_end(good, strlen(good) - 1) == 0, "handshake: an answer without its blank line is incomplete");
	snprintf(buf, sizeof(buf), "%sXY", good);
	ok(ws_handshake_end(buf, strlen(buf)) == strlen(good), "handshake: frames after the answer are not part of it");

	ok(check(good, err), "handshake: a correct answer is taken");
	ok(check("HTTP/1.1 101 Switching Protocols\r\nupgrade:WebSocket\r\n"
			 "connection: keep-alive, UPGRADE\r\nsec-websocket-accept:   " ACCEPT "  \r\n\r\n", err),
	   "handshake: names and tokens are case-insensitive, lists and spaces allowed");
	ok(check("HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT
			 "\r\n\r\n", err), "handshake: a status line without a reason phrase is taken");

	ok(!check("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", err), "handshake: a 200 is refused");
	has(err, "refused the WebSocket upgrade: HTTP/1.1 200 OK", "handshake: the error shows the status line");
	ok(!check("HTTP/1.1 1010 Odd\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT
			  "\r\n\r\n", err), "handshake: status 1010 is not 101");
	ok(!check("HTTP/1.1 101 Switching\x01\xff\r\n\r\n", err) && strchr(err, '\x01') == NULL &&
	   strchr(err, '\xff') == NULL, "handshake: control and non-ASCII bytes are not echoed into the error");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT
			  "\r\n\r\n", err), "handshake: no Upgrade header is refused");
	has(err, "Upgrade: websocket", "handshake: the error names the Upgrade header");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", err), "handshake: an upgrade to another protocol is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websockets\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", err), "handshake: a token that only starts with websocket is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", err), "handshake: no Connection header is refused");
	has(err, "Connection: upgrade", "handshake: the error names the Connection header");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", err), "handshake: Connection without upgrade is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", err),
	   "handshake: no Sec-WebSocket-Accept is refused");
	has(err, "Sec-WebSocket-Accept", "handshake: the error names Sec-WebSocket-Accept");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n", err), "handshake: a wrong accept is refused");
	has(err, "wrong Sec-WebSocket-Accept", "handshake: the error says the accept is wrong");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Accept: x\r\n\r\n", err),
	   "handshake: a second, different accept is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", err),
	   "handshake: an extension the client did not offer is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\n folded\r\n\r\n", err), "handshake: a folded header line is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\nConnection: Upgrade\r\n"
			  "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", err), "handshake: a space before the colon is refused");
	ok(!check("HTTP/1.1 101 Switching Protocols\n\n", err), "handshake: bare LF line ends are refused");
	{
		/* a NUL inside a header line */
		const char	a[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\0x\r\nConnection: Upgrade\r\n"
			"Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n";

		ok(!ws_check_handshake(a, sizeof(a) - 1, ACCEPT, err, sizeof(err)), "handshake: a NUL in a header is refused");
	}
}

/* ---- frames ---- */

static void
test_frames(void)
{
	Buf			b = {0};
	Run			r;
	char	   *big;

	text(&b, "{\"a\":1}");
	text(&b, "{\"a\":2}");
	r = run(&b);
	ok(r.state == WS_PROTO_OK && r.messages == 2 && strcmp(r.last, "{\"a\":2}") == 0,
	   "frames: text messages are delivered in order");
	r = run_with(&b, 1, false, WS_MAX_MESSAGE, 256 * 1024);
	ok(r.state == WS_PROTO_OK && r.messages == 2, "frames: a byte at a time, the same");

	b.len = 0;
	frame(&b, 0x01, false, 3, "{\"a", 3);
	frame(&b, 0x89, false, 2, "hi", 2);	/* a ping between fragments */
	frame(&b, 0x80, false, 4, "\":3}", 4);
	r = run(&b);
	ok(r.state == WS_PROTO_OK && r.messages == 1 && strcmp(r.last, "{\"a\":3}") == 0,
	   "frames: a fragmented message is delivered whole");
	ok(sent(&r, 0xA), "frames: a ping is answered with a pong");

	b.len = 0;
	frame(&b, 0x81, false, 0, "", 0);
	r = run(&b);
	ok(r.state == WS_PROTO_OK && r.messages == 1 && r.last[0] == '\0', "frames: an empty message is delivered");

	b.len = 0;
	text(&b, "{\"before\":1}");
	frame(&b, 0xC1, false, 2, "{}", 2);	/* RSV1 set */
	text(&b, "{\"after\":1}");
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED, "frames: RSV bits fail the connection");
	ok(r.messages == 1 && strcmp(r.last, "{\"before\":1}") == 0, "frames: what came before is delivered, nothing after");
	has(r.error, "stream protocol error", "frames: RSV bits: the error says protocol error");
	has(r.error, "1002", "frames: RSV bits: the error gives close code 1002");
	ok(sent(&r, 0x8) && r.close_code == 1002, "frames: RSV bits: the client sends close 1002");

	b.len = 0;
	frame(&b, 0x83, false, 2, "{}", 2);	/* opcode 3 is reserved */
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && strstr(r.error, "1002") != NULL, "frames: a reserved opcode fails the connection");

	b.len = 0;
	frame(&b, 0x81, true, 2, "{}", 2);
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && strstr(r.error, "1002") != NULL, "frames: a masked server frame fails the connection");

	b.len = 0;
	frame(&b, 0x80, false, 2, "{}", 2);
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && strstr(r.error, "protocol error") != NULL,
	   "frames: a continuation with no message begun fails the connection");

	b.len = 0;
	frame(&b, 0x01, false, 1, "a", 1);
	frame(&b, 0x81, false, 1, "b", 1);
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED, "frames: a new message inside a fragmented one fails the connection");

	b.len = 0;
	frame(&b, 0x09, false, 1, "a", 1);	/* a fragmented ping */
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && strstr(r.error, "protocol error") != NULL,
	   "frames: a fragmented control frame fails the connection");

	b.len = 0;
	frame(&b, 0x81, false, 126, "", 0);	/* 126 declared in 64-bit form: not minimal */
	b.data[1] = 127;
	memset(b.data + 2, 0, 8);
	b.data[9] = 126;
	b.len = 10;
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && strstr(r.error, "protocol error") != NULL,
	   "frames: a length in a longer form than needed fails the connection");

	b.len = 0;
	/* 2^55 bytes declared; wslay sees a frame once some payload has come */
	frame(&b, 0x81, false, (uint64_t) 1 << 55, "{\"a\":", 5);
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED, "frames: a 2^55-byte frame fails the connection");
	has(r.error, "1009", "frames: 2^55 bytes: the error gives close code 1009");
	ok(r.close_code == 1009, "frames: 2^55 bytes: the client sends close 1009");

	b.len = 0;
	frame(&b, 0x81, false, (uint64_t) 1 << 63, "{}", 2);	/* the top bit is not allowed */
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED, "frames: a 2^63-byte frame fails the connection");

	/* an endless message: empty continuations for ever, cut by the bound */
	b.len = 0;
	frame(&b, 0x01, false, 1, "[", 1);
	for (int i = 0; i < 4096 / 14 + 10; i++)
		frame(&b, 0x00, false, 0, "", 0);
	r = run_with(&b, 0, false, 4096, 256 * 1024);
	ok(r.state == WS_PROTO_FAILED, "frames: endless empty continuation frames fail the connection");
	has(r.error, "fragmented message went past 4096 bytes", "frames: endless continuations: the error says so");

	/* the same with payload, under the real bound */
	b.len = 0;
	big = calloc(1, 65536);
	memset(big, 'x', 65535);
	frame(&b, 0x01, false, 1, "[", 1);
	for (int i = 0; i < WS_MAX_MESSAGE / 65535 + 2; i++)
		frame(&b, 0x00, false, 65535, big, 65535);
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && r.messages == 0, "frames: a message growing past WS_MAX_MESSAGE fails the connection");
	has(r.error, "stream protocol error", "frames: the oversized message: the error says protocol error");

	/* a message just under the bound is taken */
	b.len = 0;
	frame(&b, 0x81, false, 65535, big, 65535);
	r = run_with(&b, 0, false, 65535 + 14, 256 * 1024);
	ok(r.state == WS_PROTO_OK && r.messages == 1, "frames: a message within the bound is delivered");
	free(big);

	b.len = 0;
	text(&b, "{\"x\":1}");
	frame(&b, 0x88, false, 2, "\x03\xe8", 2);
	r = run(&b);
	ok(r.state == WS_PROTO_CLOSED && r.messages == 1, "frames: a close frame closes after the messages before it");
	has(r.error, "closed by the server (code 1000)", "frames: close: the error gives the code");

	b.len = 0;
	frame(&b, 0x88, false, 2, "\x00\x01", 2);	/* status 1 is not valid */
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED, "frames: a close frame with an invalid code fails the connection");

	b.len = 0;
	text(&b, "{\"x\":1}");
	r = run_with(&b, 0, true, WS_MAX_MESSAGE, 256 * 1024);
	ok(r.state == WS_PROTO_FAILED && r.messages == 1, "frames: the end of the connection fails it after its messages");
	has(r.error, "without a close frame", "frames: the end of the connection: the error says so");

	b.len = 0;
	frame(&b, 0x81, false, 2, "\xc3\x28", 2);	/* invalid UTF-8 */
	r = run(&b);
	ok(r.state == WS_PROTO_FAILED && strstr(r.error, "1007") != NULL, "frames: invalid UTF-8 text fails the connection");

	b.len = 0;
	frame(&b, 0x82, false, 3, "\x00\xff\x01", 3);
	r = run(&b);
	ok(r.state == WS_PROTO_OK && r.messages == 1, "frames: a binary message is delivered");

	/* the pump's budget: it stops, says more may wait, and the next pump goes on */
	b.len = 0;
	for (int i = 0; i < 100; i++)
		text(&b, "{\"n\":12345678}");
	r = run_with(&b, 16, false, WS_MAX_MESSAGE, 64);
	ok(r.state == WS_PROTO_OK && r.messages == 100, "frames: a small budget delivers everything over several pumps");
	free(b.data);
}

static void
test_idle(void)
{
	Mem		   *m = calloc(1, sizeof(Mem));
	WsTransport t = {mem_recv, mem_send, m};
	WsProto    *p = ws_proto_create(&t, WS_MAX_MESSAGE, NULL, 0);
	Run			r;
	Buf			b = {0};

	memset(&r, 0, sizeof(r));
	ok(!ws_proto_idle(p, 1000, 10000), "idle: the watch starts");
	ok(!ws_proto_idle(p, 5000, 10000) && m->out_len == 0, "idle: a short silence is nothing");
	ok(!ws_proto_idle(p, 6000, 10000), "idle: half the timeout");
	client_frames(m, &r);
	ok(sent(&r, 0x9), "idle: after half the timeout the server is pinged");
	ok(ws_proto_idle(p, 11000, 10000) && ws_proto_state(p) == WS_PROTO_FAILED, "idle: silent for the timeout: failed");
	has(ws_proto_error(p), "silent", "idle: the error says the stream was silent");
	ws_proto_free(p, false);

	/* bytes coming in start the watch again */
	text(&b, "{}");
	memset(m, 0, sizeof(*m));
	m->in = b.data;
	m->in_len = b.len;
	p = ws_proto_create(&t, WS_MAX_MESSAGE, NULL, 0);
	(void) ws_proto_idle(p, 0, 10000);
	ws_proto_pump(p, 1024);
	free(ws_proto_next(p));
	ok(!ws_proto_idle(p, 9000, 10000), "idle: data resets the watch");
	ok(!ws_proto_idle(p, 18000, 10000) && ws_proto_state(p) == WS_PROTO_OK, "idle: counted from the last data");
	ws_proto_free(p, false);

	/* early bytes (after the handshake answer) are read first */
	memset(m, 0, sizeof(*m));
	p = ws_proto_create(&t, WS_MAX_MESSAGE, b.data, b.len);
	ok(ws_proto_more_pending(p), "early: bytes after the handshake are pending");
	ws_proto_pump(p, 1024);
	{
		WsMessage  *msg = ws_proto_next(p);

		ok(msg != NULL && strcmp(msg->data, "{}") == 0, "early: they are read before the transport");
		free(msg);
	}
	ws_proto_free(p, false);
	free(b.data);
	free(m);
}

/* Inputs the fuzzer once crashed on: each must end cleanly. */
static void
test_crashes(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	int			n = 0;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		path[1024];
		FILE	   *f;
		Buf			b = {0};
		char		chunk[4096];
		size_t		k;
		Run			r;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
			put(&b, chunk, k);
		fclose(f);
		if (b.len == 0)
			put(&b, "", 0);
		r = run(&b);
		(void) r;
		n++;
		free(b.data);
	}
	closedir(d);
	if (n > 0)
		ok(1, "fuzzer crash inputs replay without a crash");
}

int
main(int argc, char **argv)
{
	test_handshake();
	test_frames();
	test_idle();
	test_crashes(argc > 1 ? argv[1] : "test/fuzz/crashes/fuzz_websocket");
	printf("1..%d\n", tests);
	return failed > 0;
}
