/* A libzmq peer of the broker for tests/e2e/libzmq.rs: a PUSH connected
 * to the broker's emit endpoint and a SUB (subscribed to everything)
 * connected to its PUB, both on the system libzmq, both sending ZMTP
 * heartbeats (PING every 50 ms, the connection dropped if nothing comes
 * back within 300 ms).
 *
 *   peer PUB_ENDPOINT EMIT_ENDPOINT
 *
 * stdin, one command a line:  send HEX [HEX...]   one message, a frame a HEX
 * stdout, one line each:      msg HEX [HEX...]    a message the SUB received
 *                             event push|sub disconnected|connected
 *
 * Built by the test with `cc -O2 -o peer peer.c -lzmq`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static void die(const char *what) {
    fprintf(stderr, "peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static int unhex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* One "send HEX HEX..." line: every word after the first is a frame. */
static void send_line(void *push, char *line) {
    char *words[64];
    int n = 0;
    for (char *w = strtok(line, " "); w && n < 64; w = strtok(NULL, " ")) words[n++] = w;
    if (n < 2 || strcmp(words[0], "send") != 0) {
        fprintf(stderr, "peer: bad command\n");
        exit(2);
    }
    for (int i = 1; i < n; i++) {
        size_t len = strlen(words[i]) / 2;
        unsigned char *data = malloc(len + 1);
        for (size_t j = 0; j < len; j++)
            data[j] = (unsigned char)(unhex(words[i][2 * j]) * 16 + unhex(words[i][2 * j + 1]));
        /* "-" is an empty frame. */
        if (strcmp(words[i], "-") == 0) len = 0;
        if (zmq_send(push, data, len, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) die("send");
        free(data);
    }
}

static void print_message(void *sub) {
    fputs("msg", stdout);
    int more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sub, 0) < 0) die("recv");
        const unsigned char *data = zmq_msg_data(&part);
        putchar(' ');
        if (zmq_msg_size(&part) == 0) putchar('-');
        for (size_t i = 0; i < zmq_msg_size(&part); i++) printf("%02x", data[i]);
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    putchar('\n');
    fflush(stdout);
}

/* A monitor event: 2 bytes of event number, 4 of value, then the address. */
static void print_event(void *monitor, const char *name) {
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, monitor, 0) < 0) die("monitor recv");
    unsigned short event;
    memcpy(&event, zmq_msg_data(&part), 2);
    zmq_msg_close(&part);
    zmq_msg_init(&part);
    zmq_msg_recv(&part, monitor, 0);
    zmq_msg_close(&part);
    if (event == ZMQ_EVENT_DISCONNECTED) printf("event %s disconnected\n", name);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) printf("event %s connected\n", name);
    fflush(stdout);
}

static void *open_socket(void *ctx, int type, const char *endpoint, const char *monitor) {
    void *s = zmq_socket(ctx, type);
    int ivl = 50, timeout = 300, linger = 2000;
    zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_socket_monitor(s, monitor, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0)
        die("monitor");
    if (zmq_connect(s, endpoint) < 0) die("connect");
    return s;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: peer PUB_ENDPOINT EMIT_ENDPOINT\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *sub = open_socket(ctx, ZMQ_SUB, argv[1], "inproc://sub-monitor");
    void *push = open_socket(ctx, ZMQ_PUSH, argv[2], "inproc://push-monitor");
    void *sub_monitor = zmq_socket(ctx, ZMQ_PAIR);
    void *push_monitor = zmq_socket(ctx, ZMQ_PAIR);
    zmq_connect(sub_monitor, "inproc://sub-monitor");
    zmq_connect(push_monitor, "inproc://push-monitor");
    char line[1 << 16];
    size_t held = 0;
    for (;;) {
        zmq_pollitem_t items[] = {
            {sub, 0, ZMQ_POLLIN, 0},
            {NULL, 0, ZMQ_POLLIN, 0},
            {sub_monitor, 0, ZMQ_POLLIN, 0},
            {push_monitor, 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 4, -1) < 0) {
            if (zmq_errno() == EINTR) continue;
            die("poll");
        }
        if (items[0].revents & ZMQ_POLLIN) print_message(sub);
        if (items[2].revents & ZMQ_POLLIN) print_event(sub_monitor, "sub");
        if (items[3].revents & ZMQ_POLLIN) print_event(push_monitor, "push");
        if (items[1].revents & ZMQ_POLLIN) {
            ssize_t n = read(0, line + held, sizeof line - 1 - held);
            if (n <= 0) break; /* stdin closed: the test is done */
            held += (size_t)n;
            char *start = line, *end;
            while ((end = memchr(start, '\n', held - (size_t)(start - line)))) {
                *end = 0;
                send_line(push, start);
                start = end + 1;
            }
            held -= (size_t)(start - line);
            memmove(line, start, held);
        }
    }
    zmq_close(sub);
    zmq_close(push);
    zmq_close(sub_monitor);
    zmq_close(push_monitor);
    zmq_ctx_term(ctx);
    return 0;
}
