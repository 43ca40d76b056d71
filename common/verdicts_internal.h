/* verdicts_internal.h — what a verdict source implements (include/optout/verdicts.h): a source
 * struct starts with `struct optout_verdicts` whose ops the generic functions call; the directory
 * and Redis sources share the clock that bounds their compiled rule sets. */
#ifndef OPTOUT_VERDICTS_INTERNAL_H
#define OPTOUT_VERDICTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "optout/robots.h"
#include "optout/verdicts.h"

struct verdicts_ops {
    int (*lookup)(optout_verdicts *v, const char *host, size_t len, optout_verdict *out, char *err, size_t errlen);
    int (*prefetch)(optout_verdicts *v, const char *const *hosts, const size_t *lens, size_t count, char *err,
                    size_t errlen); /* NULL: nothing to prefetch */
    void (*free)(optout_verdicts *v);
};

struct optout_verdicts {
    const struct verdicts_ops *ops;
};

/* The compiled rule sets a source keeps (the directory and Redis sources): a host's record embeds a
 * verdicts_compiled; the clock holds at most max of the records whose rules are compiled. Adding one
 * to a full clock first frees the rules of the record under the hand that was not visited since
 * the hand last passed (its rules become NULL: compiled again when asked for); a lookup sets
 * visited. */
struct verdicts_compiled {
    optout_robots *rules;
    uint8_t visited; /* clock bit */
};

struct verdicts_clock {
    struct verdicts_compiled **ring;
    size_t count, max, hand;
};

/* max 0: 65536. 0, or -1 when out of memory. */
int verdicts_clock_init(struct verdicts_clock *c, size_t max);
/* e->rules just compiled: e joins the clock (after an eviction when it is full). */
void verdicts_clock_add(struct verdicts_clock *c, struct verdicts_compiled *e);
/* Every record is gone (its owner freed them, rules included): the clock is empty. */
void verdicts_clock_forget(struct verdicts_clock *c);
void verdicts_clock_free(struct verdicts_clock *c);

#endif
