/*
 * Why this file exists: the daemon's cameras come and go (reloads restart or add them), and
 * each needs the network; loading it per camera cost ~25 MiB a camera and the load time of a
 * restart. The share keeps one pool per model and backend with a count of the detectors using
 * it (issue 15): the weights load once, the last user frees them.
 *
 * A list and one mutex: a process runs one or two models, and the lock is taken only when a
 * camera starts or stops, never per look. Pools are created under the lock, so two cameras
 * starting at once cannot load the same network twice; a reload waits those milliseconds.
 */
#include "netshare.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netpool.h"
#include "xalloc.h"

struct entry {
    const struct so_model_desc *desc;
    enum so_detect_backend backend;
    struct so_netpool *pool;
    int refs;
    struct entry *next;
};

struct so_netshare {
    pthread_mutex_t lock;
    int max_instances;
    struct entry *list;
};

struct so_netshare *so_netshare_create(int max_instances)
{
    struct so_netshare *s = so_xcalloc(1, sizeof(*s));
    if (max_instances <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        max_instances = n > 0 ? (int)n : 1;
    }
    s->max_instances = max_instances;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void so_netshare_destroy(struct so_netshare *s)
{
    if (!s) {
        return;
    }
    while (s->list) {
        struct entry *e = s->list;
        so_err(e->desc->name, "network still used by %d detector%s at exit", e->refs,
               e->refs == 1 ? "" : "s");
        s->list = e->next;
        so_netpool_destroy(e->pool);
        free(e);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The same network: model files, input size and backend (the descriptor may be another copy). */
static bool same_net(const struct entry *e, const struct so_model_desc *d,
                     enum so_detect_backend backend)
{
    const struct so_model_desc *m = e->desc;
    return e->backend == backend && same_str(m->name, d->name) &&
           same_str(m->files[SO_MODEL_CFG].path, d->files[SO_MODEL_CFG].path) &&
           same_str(m->files[SO_MODEL_WEIGHTS].path, d->files[SO_MODEL_WEIGHTS].path) &&
           m->input_width == d->input_width && m->input_height == d->input_height;
}

struct so_netpool *so_netshare_get(struct so_netshare *s, const struct so_model_desc *desc,
                                   enum so_detect_backend backend, char *err, size_t errlen)
{
    if (backend == SO_DETECT_BACKEND_DEFAULT) {
        backend = so_detect_backend_default();
    }
    pthread_mutex_lock(&s->lock);
    struct entry *e = s->list;
    while (e && !same_net(e, desc, backend)) {
        e = e->next;
    }
    if (!e) {
        struct so_netpool *pool = so_netpool_create(desc, backend, 1, s->max_instances, err,
                                                    errlen);
        if (!pool) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        e = so_xcalloc(1, sizeof(*e));
        *e = (struct entry){.desc = desc, .backend = backend, .pool = pool, .next = s->list};
        s->list = e;
        so_info(desc->name, "network loaded (%s), shared by the cameras: up to %d looks at a "
                "time", so_netpool_backend(pool), s->max_instances);
    }
    e->refs++;
    pthread_mutex_unlock(&s->lock);
    return e->pool;
}

void so_netshare_put(struct so_netshare *s, struct so_netpool *pool)
{
    if (!s || !pool) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    for (struct entry **pe = &s->list; *pe; pe = &(*pe)->next) {
        struct entry *e = *pe;
        if (e->pool == pool) {
            if (--e->refs == 0) {
                *pe = e->next;
                so_netpool_destroy(e->pool);
                free(e);
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

int so_netshare_count(struct so_netshare *s)
{
    pthread_mutex_lock(&s->lock);
    int n = 0;
    for (const struct entry *e = s->list; e; e = e->next) {
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}
