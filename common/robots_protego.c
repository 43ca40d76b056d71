/* robots_protego.c — Protego 0.4 compatible parsing (docs/protego-mode.md). */
#include <errno.h>

#include "robots_internal.h"

optout_robots *robots_compile_protego(const char *body, size_t len, const optout_agents *agents) {
    (void)body, (void)len, (void)agents;
    errno = ENOSYS; /* written next: see docs/protego-mode.md */
    return NULL;
}
