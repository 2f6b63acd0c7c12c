// fuzz-sources: src/ws_proto.c
// fuzz-libs: -lwslay
/*-------------------------------------------------------------------------
 * fuzz_websocket.c
 *	  libFuzzer target: the stream client's WebSocket protocol
 *	  (src/ws_proto.c, with wslay) over an in-memory transport.  The
 *	  fuzzer's bytes are what the server sends.
 *
 * Byte 0 chooses how: bit 0 set, the input starts with the handshake
 * answer (checked against a fixed accept; on success what follows it is
 * read first, as the bytes that came with the answer); clear, the input
 * is frames only.  Bits 1-3 set the most bytes one read returns (1 to
 * 4096), bit 4 a small message bound (4 kB, so that the bound is reached
 * often), bits 5-6 the pump's budget, bit 7 whether the transport ends
 * (EOF) or goes quiet after the input.  The client subscribes first, and
 * a clock moves on with every pump, so the silence watch and its ping
 * run too.
 *
 * What must hold: no crash or leak; the connection ends (never a loop),
 * a FAILED one has an error, messages come NUL-terminated and within the
 * bound.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_proto.h"

#define FUZZ_ACCEPT	"s3pPLMBiTxaQ9kYGJRbK+xOo="

typedef struct FuzzIo
{
	const uint8_t *in;
	size_t		len;
	size_t		off;
	size_t		chunk;
	int			eof;
	size_t		sent;
} FuzzIo;

static ssize_t
fuzz_recv(void *arg, uint8_t *buf, size_t len, char *error, size_t errlen)
{
	FuzzIo	   *io = (FuzzIo *) arg;
	size_t		n = io->len - io->off;

	if (n == 0)
	{
		if (!io->eof)
			return 0;
		snprintf(error, errlen, "stream closed by the server without a close frame");
		return -1;
	}
	if (n > len)
		n = len;
	if (n > io->chunk)
		n = io->chunk;
	memcpy(buf, io->in + io->off, n);
	io->off += n;
	return (ssize_t) n;
}

static ssize_t
fuzz_send(void *arg, const uint8_t *buf, size_t len, char *error, size_t errlen)
{
	FuzzIo	   *io = (FuzzIo *) arg;

	io->sent += len;
	return (ssize_t) len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t budgets[] = {7, 512, 65536, 256 * 1024};
	FuzzIo		io = {0};
	WsTransport t = {fuzz_recv, fuzz_send, &io};
	WsProto    *p;
	const uint8_t *early = NULL;
	size_t		early_len = 0;
	size_t		max_message;
	size_t		budget;
	int64_t		now = 0;
	uint8_t		mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	io.chunk = (size_t) 1 << ((mode >> 1 & 7) + 5);	/* 32 .. 4096 */
	if ((mode >> 1 & 7) == 0)
		io.chunk = 1;
	max_message = (mode & 0x10) ? 4096 : WS_MAX_MESSAGE;
	budget = budgets[mode >> 5 & 3];
	io.eof = (mode & 0x80) != 0;

	if (mode & 1)
	{
		size_t		scan = size < WS_MAX_HANDSHAKE ? size : WS_MAX_HANDSHAKE;
		size_t		head = ws_handshake_end((const char *) data, scan);
		char		error[256];

		if (head == 0)
			return 0;
		error[0] = '\0';
		if (!ws_check_handshake((const char *) data, head, FUZZ_ACCEPT, error, sizeof(error)))
		{
			if (error[0] == '\0')
				abort();		/* a refusal must say why */
			return 0;
		}
		/* what came with the answer is read first; the rest over the transport */
		early = data + head;
		early_len = (size - head) / 2;
		io.in = early + early_len;
		io.len = size - head - early_len;
	}
	else
	{
		io.in = data;
		io.len = size;
	}

	p = ws_proto_create(&t, max_message, early, early_len);
	if (p == NULL)
		return 0;
	(void) ws_proto_send_text(p, "{\"method\":\"SUBSCRIBE\"}");
	/* each pump reads at least a byte or ends it: this bounds the loop */
	for (size_t i = 0; i <= size + 2; i++)
	{
		WsMessage  *m;

		ws_proto_pump(p, budget);
		while ((m = ws_proto_next(p)) != NULL)
		{
			if (m->len > max_message || m->data[m->len] != '\0')
				abort();
			free(m);
		}
		now += 700;
		(void) ws_proto_idle(p, now, 10000);
		if (ws_proto_state(p) != WS_PROTO_OK)
			break;
		if (io.off == io.len && !ws_proto_more_pending(p))
			break;
	}
	if (ws_proto_state(p) == WS_PROTO_FAILED && ws_proto_error(p)[0] == '\0')
		abort();
	/* finding 4 of issue 11: no longer reading, yet "OK" */
	if (ws_proto_state(p) == WS_PROTO_OK && io.off < io.len)
		abort();
	ws_proto_free(p, (mode & 0x40) != 0);
	return 0;
}
