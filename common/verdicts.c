/* verdicts.c — the generic side of verdict sources (include/optout/verdicts.h): dispatch to the
 * implementation (verdicts_dir.c, verdicts_archive.c, verdicts_redis.c), and the clock that bounds the
 * compiled rule sets of the directory and Redis sources. */
#include "verdicts_internal.h"

#include <stdlib.h>
#include <string.h>

int optout_verdicts_lookup(optout_verdicts *v, const char *host, size_t len, optout_verdict *out, char *err,
                           size_t errlen) {
    return v->ops->lookup(v, host, len, out, err, errlen);
}

int optout_verdicts_prefetch(optout_verdicts *v, const char *const *hosts, const size_t *lens, size_t count,
                             char *err, size_t errlen) {
    return v->ops->prefetch ? v->ops->prefetch(v, hosts, lens, count, err, errlen) : 0;
}

void optout_verdicts_free(optout_verdicts *v) {
    if (v) v->ops->free(v);
}

int optout_verdicts_can_prefetch(const optout_verdicts *v) { return v->ops->prefetch != NULL; }

/* ---- the compiled sets' clock (verdicts_internal.h) -------------------------------------------- */

int verdicts_clock_init(struct verdicts_clock *c, size_t max) {
    memset(c, 0, sizeof *c);
    c->max = max ? max : 65536;
    c->ring = calloc(c->max, sizeof *c->ring);
    return c->ring ? 0 : -1;
}

/* Makes room for one more compiled set: the clock hand skips recently visited ones. */
static void evict_one(struct verdicts_clock *c) {
    for (;;) {
        struct verdicts_compiled *e = c->ring[c->hand];
        if (e->visited) {
            e->visited = 0;
            c->hand = (c->hand + 1) % c->max;
            continue;
        }
        optout_robots_free(e->rules);
        e->rules = NULL;
        c->ring[c->hand] = c->ring[--c->count];
        c->ring[c->count] = NULL;
        if (c->hand >= c->count) c->hand = 0;
        return;
    }
}

void verdicts_clock_add(struct verdicts_clock *c, struct verdicts_compiled *e) {
    if (c->count == c->max) evict_one(c);
    c->ring[c->count++] = e;
}

void verdicts_clock_forget(struct verdicts_clock *c) {
    memset(c->ring, 0, c->max * sizeof *c->ring);
    c->count = 0;
    c->hand = 0;
}

void verdicts_clock_free(struct verdicts_clock *c) {
    free(c->ring);
    c->ring = NULL;
}
