/* The libzmq peer of the fan-out benchmark: a plain forwarder, PULL bind ->
 * PUB bind joined by zmq_proxy. The high-water marks are raised from
 * libzmq's 1,000 to 100,000 messages, the fixed queue of the pure-Rust
 * zeromq PUB that ptp-broker uses, so the comparison measures forwarding,
 * not queue depth.
 * Binds to ephemeral ports and prints one ready line, like ptp-broker:
 *   zmq-forwarder ready emit=tcp://127.0.0.1:P publish=tcp://127.0.0.1:Q
 * Built by the bench at run time: cc -O2 zmq_forwarder.c -lzmq */
#include <stdio.h>
#include <zmq.h>

static int bind_any(void *socket, char *endpoint, size_t len)
{
    if (zmq_bind(socket, "tcp://127.0.0.1:*") != 0)
        return -1;
    return zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, endpoint, &len);
}

int main(void)
{
    char emit[256], publish[256];
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    /* The same per-subscriber depth as ptp-broker's default subscriber_queue. */
    int hwm = 8192;
    if (!ctx || !pull || !pub ||
        zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        bind_any(pull, emit, sizeof emit) != 0 ||
        bind_any(pub, publish, sizeof publish) != 0) {
        fprintf(stderr, "zmq-forwarder: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("zmq-forwarder ready emit=%s publish=%s\n", emit, publish);
    fflush(stdout);
    zmq_proxy(pull, pub, NULL); /* returns only when the context ends */
    fprintf(stderr, "zmq-forwarder: proxy ended: %s\n", zmq_strerror(zmq_errno()));
    return 1;
}
