/* verdicts.c — the generic side of verdict sources (include/optout/verdicts.h): dispatch to the
 * implementation (verdicts_dir.c, verdicts_redis.c). */
#include "verdicts_internal.h"

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
