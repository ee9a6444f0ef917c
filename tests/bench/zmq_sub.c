/* The latency floor's subscriber: bench-sub's ZeroMQ mode in C on the
 * system libzmq, so that "the floor" measures the machine (waking K
 * processes over loopback), not the Rust SUB stack of bench-sub.
 *
 * It speaks bench-sub's line protocol with the driver (wire/control.rs):
 *   stdout "ready" once the sockets are connected and subscribed;
 *   stdout "warm" once every socket has received an event;
 *   stdin  "range FIRST LAST" names the measured events; each socket then
 *          runs until it has seen LAST or has been idle for --drain-ms;
 *   stdout one JSON line, a list of SocketReport (wire/load.rs), one per
 *          socket: received, expected, seq_gaps, n_gaps, bad, last_ns and,
 *          with --times, [[n, receive ns], ...] of the measured range.
 * Each message must be two frames, topic and body; the body is checked as
 * bench-sub's --verify seq does (load.rs scan_body: the emitter number n
 * from the id, and meta.seq, read by a byte scan of the MessagePack), and
 * the receive time is taken after that check, as Tally::record does, from
 * the same clock (CLOCK_REALTIME, ns since the epoch).
 *
 * Usage: zmq-sub --connect EP --topic T [--sockets N] [--verify seq]
 *                [--times] [--drain-ms MS]
 * Built by the bench at run time: cc -O2 zmq_sub.c -lzmq */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define ID_PREFIX "00000000-0000-4000-8000-"

struct tally {
    void *socket;
    uint32_t *ns; /* every n received, in order */
    uint64_t *times; /* receive time per n, with --times */
    size_t len, cap;
    uint64_t last_seq, seq_gaps, n_gaps, bad, last_ns;
    uint64_t idle_since; /* monotonic ns */
    int done;
};

static uint64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static const uint8_t *find(const uint8_t *hay, size_t len, const char *needle, size_t nlen)
{
    for (size_t i = 0; i + nlen <= len; i++)
        if (memcmp(hay + i, needle, nlen) == 0)
            return hay + i;
    return NULL;
}

/* load.rs scan_body: (n, seq) from a MessagePack event, or 0 if malformed. */
static int scan_body(const uint8_t *b, size_t len, uint64_t *n, uint64_t *seq)
{
    const uint8_t *end = b + len, *p = find(b, len, "\xa2id", 3);
    if (!p || (p += 3) >= end)
        return 0;
    size_t slen, head;
    if (*p >= 0xa0 && *p <= 0xbf) {
        slen = *p & 0x1f;
        head = 1;
    } else if (*p == 0xd9 && p + 1 < end) {
        slen = p[1];
        head = 2;
    } else {
        return 0;
    }
    const uint8_t *s = p + head;
    size_t plen = strlen(ID_PREFIX);
    if (s + slen > end || slen <= plen || slen - plen > 16 || memcmp(s, ID_PREFIX, plen) != 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = plen; i < slen; i++) {
        uint8_t c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    *n = v;
    p = find(b, len, "\xa3seq", 4);
    if (!p || (p += 4) >= end)
        return 0;
    size_t w;
    if (*p <= 0x7f) {
        *seq = *p;
        return 1;
    }
    switch (*p) {
    case 0xcc: w = 1; break;
    case 0xcd: w = 2; break;
    case 0xce: w = 4; break;
    case 0xcf: w = 8; break;
    default: return 0;
    }
    if (p + 1 + w > end)
        return 0;
    v = 0;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | p[1 + i];
    *seq = v;
    return 1;
}

/* Tally::record */
static void record(struct tally *t, int ok, uint64_t n, uint64_t seq, int keep_times)
{
    uint64_t now = wall_ns();
    if (!ok) {
        t->bad++;
        return;
    }
    if (t->len > 0) {
        if (n != (uint64_t)t->ns[t->len - 1] + 1)
            t->n_gaps++;
        if (seq != t->last_seq + 1)
            t->seq_gaps++;
    }
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->ns = realloc(t->ns, t->cap * sizeof *t->ns);
        if (keep_times)
            t->times = realloc(t->times, t->cap * sizeof *t->times);
        if (!t->ns || (keep_times && !t->times)) {
            fprintf(stderr, "zmq-sub: out of memory\n");
            exit(1);
        }
    }
    if (keep_times)
        t->times[t->len] = now;
    t->ns[t->len++] = (uint32_t)n;
    t->last_seq = seq;
    t->last_ns = now;
}

/* One message off `t`'s socket if there is one: 1 if read, 0 if none. */
static int receive(struct tally *t, int keep_times)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    if (zmq_msg_recv(&topic, t->socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&topic);
        if (zmq_errno() != EAGAIN) {
            fprintf(stderr, "zmq-sub: recv: %s\n", zmq_strerror(zmq_errno()));
            exit(1);
        }
        return 0;
    }
    int frames = 1, ok = 0;
    uint64_t n = 0, seq = 0;
    zmq_msg_init(&body);
    if (zmq_msg_more(&topic) && zmq_msg_recv(&body, t->socket, 0) >= 0) {
        frames = 2;
        ok = scan_body(zmq_msg_data(&body), zmq_msg_size(&body), &n, &seq);
        /* Anything after the body: not a bench message; drain it. */
        while (zmq_msg_more(&body)) {
            frames++;
            if (zmq_msg_recv(&body, t->socket, 0) < 0)
                break;
        }
    }
    record(t, ok && frames == 2, n, seq, keep_times);
    zmq_msg_close(&body);
    zmq_msg_close(&topic);
    return 1;
}

int main(int argc, char **argv)
{
    const char *connect = NULL, *topic = NULL;
    int sockets = 1, keep_times = 0;
    long drain_ms = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--times") == 0) {
            keep_times = 1;
        } else if (v && strcmp(a, "--connect") == 0) {
            connect = v, i++;
        } else if (v && strcmp(a, "--topic") == 0) {
            topic = v, i++;
        } else if (v && strcmp(a, "--sockets") == 0) {
            sockets = atoi(v), i++;
        } else if (v && strcmp(a, "--drain-ms") == 0) {
            drain_ms = atol(v), i++;
        } else if (v && strcmp(a, "--verify") == 0 && strcmp(v, "seq") == 0) {
            i++; /* the only check this SUB has */
        } else {
            fprintf(stderr, "zmq-sub: unknown or bad argument %s\n", a);
            return 2;
        }
    }
    if (!connect || !topic || sockets < 1) {
        fprintf(stderr, "usage: zmq-sub --connect EP --topic T [--sockets N] [--verify seq] "
                        "[--times] [--drain-ms MS]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    struct tally *tallies = calloc((size_t)sockets, sizeof *tallies);
    zmq_pollitem_t *items = calloc((size_t)sockets + 1, sizeof *items);
    if (!ctx || !tallies || !items) {
        fprintf(stderr, "zmq-sub: start failed\n");
        return 1;
    }
    for (int i = 0; i < sockets; i++) {
        void *s = zmq_socket(ctx, ZMQ_SUB);
        if (!s || zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0 ||
            zmq_connect(s, connect) != 0) {
            fprintf(stderr, "zmq-sub: %s: %s\n", connect, zmq_strerror(zmq_errno()));
            return 1;
        }
        tallies[i].socket = s;
        items[i].socket = s;
        items[i].events = ZMQ_POLLIN;
    }
    items[sockets].fd = 0; /* stdin: the driver */
    items[sockets].events = ZMQ_POLLIN;
    printf("ready\n");
    fflush(stdout);

    char line[256];
    size_t line_len = 0;
    int have_range = 0, said_warm = 0, done = 0, stdin_open = 1;
    uint64_t first = 0, last = 0;
    for (int i = 0; i < sockets; i++)
        tallies[i].idle_since = mono_ns();
    while (done < sockets) {
        if (zmq_poll(items, stdin_open ? sockets + 1 : sockets, 50) < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "zmq-sub: poll: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
        if (stdin_open && (items[sockets].revents & ZMQ_POLLIN)) {
            ssize_t got = read(0, line + line_len, sizeof line - 1 - line_len);
            if (got <= 0)
                exit(3); /* the driver is gone */
            line_len += (size_t)got;
            line[line_len] = 0;
            char *nl = strchr(line, '\n');
            if (nl) {
                unsigned long long a, b;
                if (sscanf(line, "range %llu %llu", &a, &b) == 2) {
                    first = a;
                    last = b ? b : 1;
                    have_range = 1;
                    stdin_open = 0; /* nothing else comes */
                    for (int i = 0; i < sockets; i++)
                        tallies[i].idle_since = mono_ns();
                }
                size_t rest = line_len - (size_t)(nl + 1 - line);
                memmove(line, nl + 1, rest);
                line_len = rest;
            } else if (line_len == sizeof line - 1) {
                line_len = 0; /* not a line of ours */
            }
        }
        int warm = 0;
        for (int i = 0; i < sockets; i++) {
            struct tally *t = &tallies[i];
            if (!t->done) {
                /* What arrived since the last poll, all of it. */
                while (receive(t, keep_times))
                    t->idle_since = mono_ns();
                uint64_t last_n = t->len ? t->ns[t->len - 1] : 0;
                if (have_range && (last_n >= last ||
                                   mono_ns() - t->idle_since >= (uint64_t)drain_ms * 1000000u)) {
                    t->done = 1;
                    done++;
                }
            }
            warm += t->len > 0;
        }
        if (!said_warm && warm == sockets) {
            printf("warm\n");
            fflush(stdout);
            said_warm = 1;
        }
    }

    putchar('[');
    for (int i = 0; i < sockets; i++) {
        struct tally *t = &tallies[i];
        uint64_t received = 0;
        for (size_t j = 0; j < t->len; j++)
            received += t->ns[j] >= first && t->ns[j] <= last;
        printf("%s{\"received\":%llu,\"expected\":%llu,\"seq_gaps\":%llu,\"n_gaps\":%llu,"
               "\"bad\":%llu,\"last_ns\":%llu",
               i ? "," : "", (unsigned long long)received,
               (unsigned long long)(last + 1 - first), (unsigned long long)t->seq_gaps,
               (unsigned long long)t->n_gaps, (unsigned long long)t->bad,
               (unsigned long long)t->last_ns);
        if (keep_times) {
            printf(",\"times\":[");
            int any = 0;
            for (size_t j = 0; j < t->len; j++) {
                if (t->ns[j] < first || t->ns[j] > last)
                    continue;
                printf("%s[%u,%llu]", any ? "," : "", t->ns[j], (unsigned long long)t->times[j]);
                any = 1;
            }
            putchar(']');
        }
        putchar('}');
    }
    printf("]\n");
    fflush(stdout);
    return 0;
}
