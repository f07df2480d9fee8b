/*
 * Why this file exists: the live feed is a ZeroMQ socket, and ZeroMQ sockets are not
 * thread-safe: one owner (the outputs thread, as in CZMQ's actors), and every send is
 * ZMQ_DONTWAIT so a feed without subscribers or with a slow one never delays the files or
 * the outbox of the next event.
 */
#include "sink_pub.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

struct so_sink_pub {
    void *zctx, *pub;
};

void so_sink_pub_destroy(struct so_sink_pub *p)
{
    if (!p) {
        return;
    }
    if (p->pub) {
        int linger = 200;
        zmq_setsockopt(p->pub, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(p->pub);
    }
    if (p->zctx) {
        zmq_ctx_term(p->zctx);
    }
    free(p);
}

struct so_sink_pub *so_sink_pub_create(const char *endpoint)
{
    struct so_sink_pub *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->zctx = zmq_ctx_new();
    p->pub = p->zctx ? zmq_socket(p->zctx, ZMQ_PUB) : NULL;
    if (!p->pub || zmq_bind(p->pub, endpoint) != 0) {
        so_err("outputs", "cannot bind the live feed to %s: %s", endpoint,
               zmq_strerror(zmq_errno()));
        so_sink_pub_destroy(p);
        return NULL;
    }
    return p;
}

void so_sink_pub_send(struct so_sink_pub *p, const char *topic, const char *json,
                      const struct so_event *ev)
{
    if (!p) {
        return;
    }
    int more = ev && ev->n_evidence ? ZMQ_SNDMORE : 0;
    zmq_send(p->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(p->pub, json, strlen(json), more | ZMQ_DONTWAIT);
    for (int i = 0; ev && i < ev->n_evidence; i++) {
        zmq_send(p->pub, ev->evidence[i].jpeg, ev->evidence[i].size,
                 (i + 1 < ev->n_evidence ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
    }
}
