/*
 * Live-feed sink of the outputs (events/outputs.c): the ZeroMQ PUB socket of outputs.publish.
 * Messages are [topic, record JSON, evidence JPEG...] for events (topic event.<kind>.<camera>)
 * and [topic, record JSON] for health records (topic health.<camera>); never blocking: a slow
 * subscriber loses messages (PUB semantics), the detector never waits.
 *
 * Threads: the socket belongs to the thread that calls so_sink_pub_send() (the outputs thread);
 * create/destroy from the owner of the outputs.
 */
#ifndef SO_EVENTS_SINK_PUB_H
#define SO_EVENTS_SINK_PUB_H

#include "event.h"

/* Bind a PUB socket to `endpoint`. Returns NULL after logging the reason. */
struct so_sink_pub *so_sink_pub_create(const char *endpoint);

/* Close the socket (200 ms linger) and its context. Accepts NULL. */
void so_sink_pub_destroy(struct so_sink_pub *p);

/* Publish [topic, json] followed by the evidence JPEGs of `ev` (NULL for a health record).
 * Accepts p == NULL (no live feed: nothing happens). */
void so_sink_pub_send(struct so_sink_pub *p, const char *topic, const char *json,
                      const struct so_event *ev);

#endif
