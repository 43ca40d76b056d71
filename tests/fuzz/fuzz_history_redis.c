/* fuzz_history_redis.c — libFuzzer target for the history store's record decoder
 * (common/history_record.c), the reader of what Redis hands a worker.
 * Invariants: a record is accepted or refused the same way twice; an accepted one has versions in
 * time order with first <= last, a SHA-256 exactly when the outcome is ok, redirect strings of
 * host-key bytes, capture counts >= 1, and encodes back to the very bytes it came from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"
#include "optout/history_record.h"

static int same(const optout_history_version *a, const optout_history_version *b) {
    return a->origin == b->origin && a->scheme == b->scheme && strcmp(a->crawl, b->crawl) == 0 &&
           a->first == b->first && a->last == b->last && a->status == b->status && a->outcome == b->outcome &&
           !a->redirect == !b->redirect && (!a->redirect || strcmp(a->redirect, b->redirect) == 0) &&
           a->redirect_scheme == b->redirect_scheme && strcmp(a->sha256, b->sha256) == 0 && a->size == b->size &&
           a->truncated == b->truncated;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    optout_history_version *v = NULL, *w = NULL;
    uint64_t *caps = NULL;
    size_t n = 0, m = 0;
    char why[256] = "", why2[256] = "";
    int rc = optout_history_record_decode(data, size, &v, &n, &caps, why, sizeof why);
    int rc2 = optout_history_record_decode(data, size, &w, &m, NULL, why2, sizeof why2);
    CHECK(rc == rc2 && n == m);
    for (size_t i = 0; i < n; i++) CHECK(same(&v[i], &w[i]));
    free(w);
    if (rc != 0) {
        CHECK(!v && n == 0 && why[0] && strcmp(why, why2) == 0);
        return 0;
    }
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        const optout_history_version *x = &v[i];
        CHECK(x->first <= x->last && (i == 0 || x->first >= v[i - 1].first) && caps[i] > 0);
        CHECK((x->outcome == OPTOUT_OUTCOME_OK) == (strlen(x->sha256) == 64));
        if (x->redirect)
            for (const char *p = x->redirect; *p; p++) CHECK((unsigned char)*p >= 0x21 && (unsigned char)*p <= 0x7e);
    }
    char *again = NULL;
    size_t len = 0;
    CHECK(optout_history_record_encode(v, caps, n, &again, &len, why, sizeof why) == 0);
    CHECK(len == size && memcmp(again, data, size) == 0);
    free(again);
    free(v);
    return 0;
}
