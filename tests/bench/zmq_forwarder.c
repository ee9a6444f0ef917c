/* The libzmq peer of the fan-out benchmark: a plain forwarder, PULL bind ->
 * PUB bind joined by zmq_proxy. The high-water marks are raised from
 * libzmq's 1,000 to 8,192 messages, ptp-broker's default per-subscriber
 * queue (subscriber_queue), so both queue the same depth and the
 * comparison measures forwarding, not queue depth.
 * --io-threads N sets ZMQ_IO_THREADS (libzmq's default is 1); the bench
 * passes the machine's core count, the broker's number of workers, so
 * neither side is held to one core by its defaults.
 * Binds to ephemeral ports and prints one ready line, like ptp-broker:
 *   zmq-forwarder ready emit=tcp://127.0.0.1:P publish=tcp://127.0.0.1:Q io_threads=N
 * (N read back from the context). Built by the bench at run time:
 *   cc -O2 zmq_forwarder.c -lzmq */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int bind_any(void *socket, char *endpoint, size_t len)
{
    if (zmq_bind(socket, "tcp://127.0.0.1:*") != 0)
        return -1;
    return zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, endpoint, &len);
}

int main(int argc, char **argv)
{
    char emit[256], publish[256];
    int io_threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--io-threads") == 0 && i + 1 < argc) {
            io_threads = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: zmq-forwarder [--io-threads N]\n");
            return 2;
        }
    }
    if (io_threads < 1) {
        fprintf(stderr, "zmq-forwarder: --io-threads must be at least 1\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    /* Before the first socket: the I/O threads start with it. */
    if (!ctx || zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads) != 0) {
        fprintf(stderr, "zmq-forwarder: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    /* The same per-subscriber depth as ptp-broker's default subscriber_queue. */
    int hwm = 8192;
    if (!pull || !pub ||
        zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        bind_any(pull, emit, sizeof emit) != 0 ||
        bind_any(pub, publish, sizeof publish) != 0) {
        fprintf(stderr, "zmq-forwarder: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("zmq-forwarder ready emit=%s publish=%s io_threads=%d\n", emit, publish,
           zmq_ctx_get(ctx, ZMQ_IO_THREADS));
    fflush(stdout);
    zmq_proxy(pull, pub, NULL); /* returns only when the context ends */
    fprintf(stderr, "zmq-forwarder: proxy ended: %s\n", zmq_strerror(zmq_errno()));
    return 1;
}
