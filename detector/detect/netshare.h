/*
 * The networks of a process, shared by its cameras: one so_netpool per distinct model
 * (descriptor name, cfg and weights files, input size) and backend, loaded when the first
 * detector asks for it and freed when the last one that uses it goes (reference counts), so a
 * camera that restarts while others run does not load the weights again. Owned by the daemon
 * (app/run.c) and handed to so_detector_create_shared(); internal to detector/detect/ otherwise.
 *
 * Ownership: the share borrows each pool's descriptor (the first detector's): it must outlive
 * every detector made from the share with it. Threads: any thread, at once. Errors: as
 * so_netpool_create(), NULL with a message in err.
 */
#ifndef SO_DETECT_NETSHARE_H
#define SO_DETECT_NETSHARE_H

#include <stddef.h>

#include "backend.h"
#include "model.h"

struct so_netpool;
struct so_netshare;

/* `max_instances`: instances per network at most (looks at a time); <= 0: the online CPUs. */
struct so_netshare *so_netshare_create(int max_instances);

/* Free; every pool must have been put back (an outstanding one is a bug, logged). NULL ok. */
void so_netshare_destroy(struct so_netshare *s);

/* The pool of this model and backend, loaded now when nobody holds it; one more reference. */
struct so_netpool *so_netshare_get(struct so_netshare *s, const struct so_model_desc *desc,
                                   enum so_detect_backend backend, char *err, size_t errlen);

/* One reference less; the last one frees the pool. NULL ok. */
void so_netshare_put(struct so_netshare *s, struct so_netpool *pool);

/* Networks loaded now (for tests and the log). */
int so_netshare_count(struct so_netshare *s);

#endif
