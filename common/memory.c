/* memory.c — the memory budget of a worker (include/optout/memory.h). */
#include "optout/memory.h"

#include "optout/parse.h"
#include "optout/util.h"

int optout_memory_plan(uint64_t max, unsigned slots, uint64_t *slot_bytes, size_t *max_cached, char *err,
                       size_t errlen) {
    *slot_bytes = 0;
    *max_cached = 0;
    if (max == 0) return 0;
    uint64_t need = OPTOUT_MEM_SLOT_FIXED + OPTOUT_MEM_LINE_DEFAULT + OPTOUT_MEM_MIN_CACHED * OPTOUT_MEM_COMPILED;
    uint64_t min = OPTOUT_MEM_BASE + (uint64_t)slots * need;
    if (max < min) {
        optout_set_err(err, errlen,
                       "--max-memory %llu bytes is below the minimum of %llu MiB for %u slot%s (%llu MiB base + %llu "
                       "MiB a slot: buffers and compression %llu MiB, a 64 MiB line, %d compiled robots.txt sets); "
                       "give at least that, or fewer --slots",
                       (unsigned long long)max, (unsigned long long)((min + OPTOUT_MEM_MIB - 1) / OPTOUT_MEM_MIB),
                       slots, slots == 1 ? "" : "s", (unsigned long long)(OPTOUT_MEM_BASE / OPTOUT_MEM_MIB),
                       (unsigned long long)(need / OPTOUT_MEM_MIB),
                       (unsigned long long)(OPTOUT_MEM_SLOT_FIXED / OPTOUT_MEM_MIB), OPTOUT_MEM_MIN_CACHED);
        return -1;
    }
    *slot_bytes = (max - OPTOUT_MEM_BASE) / slots;
    uint64_t sets = (*slot_bytes - OPTOUT_MEM_SLOT_FIXED - OPTOUT_MEM_LINE_DEFAULT) / OPTOUT_MEM_COMPILED;
    *max_cached = (size_t)(sets > OPTOUT_MEM_MAX_CACHED ? OPTOUT_MEM_MAX_CACHED : sets);
    return 0;
}

uint64_t optout_memory_parquet_share(uint64_t slot_bytes, uint64_t held) {
    if (!slot_bytes) return 0;
    uint64_t share = slot_bytes > held ? slot_bytes - held : 0;
    return share > 0 ? share : 1; /* 0 would mean no budget */
}

int optout_memory_parse(const char *text, uint64_t *bytes, char *err, size_t errlen) {
    return optout_parse_bytes(text, 1, UINT64_MAX, bytes, err, errlen);
}
