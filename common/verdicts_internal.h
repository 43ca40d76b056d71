/* verdicts_internal.h — what a verdict source implements (include/optout/verdicts.h): a source
 * struct starts with `struct optout_verdicts` whose ops the generic functions call. */
#ifndef OPTOUT_VERDICTS_INTERNAL_H
#define OPTOUT_VERDICTS_INTERNAL_H

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

#endif
