/*
 * Console sink of the outputs (events/outputs.c): one human line per event on stdout, e.g.
 *   2026-05-04T10:00:03  cam-1  bay-A  blocked_bay  OPENED  dwell 2m05s  media from 12.0s
 *     [P12 Blocked bay]  car 0.91  grid 33UXP0412  seq 17
 * Stateless; thread-safe (the outputs thread is the only caller in the daemon).
 */
#ifndef SO_EVENTS_SINK_CONSOLE_H
#define SO_EVENTS_SINK_CONSOLE_H

#include <jansson.h>
#include <stddef.h>

#include "event.h"

/* Format the line of `ev`, whose record `rec` carries "seq", into buf (no newline; truncated
 * to size - 1). Returns buf. */
char *so_sink_console_format(const struct so_event *ev, const json_t *rec, char *buf,
                             size_t size);

/* Print that line and a newline on stdout, and flush. */
void so_sink_console_print(const struct so_event *ev, const json_t *rec);

#endif
