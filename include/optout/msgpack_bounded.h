/* msgpack_bounded.h — unpacking one msgpack object from bytes nobody vouches for.
 *
 * Contract: every msgpack buffer optout reads (a frame from a peer, a stats or counters field
 * inside one, a record or report read back from disk) goes through optout_msgpack_unpack, never
 * straight to msgpack_unpack_next(). msgpack-c allocates a container's element storage as soon as
 * it reads the header, so five hostile bytes (dd ff ff ff ff, "array of 4 billion") would ask for
 * ~96 GB. A structural pre-scan (no allocation) first checks that every header and payload lies
 * inside the buffer, that every declared count can be covered by the bytes that remain, that the
 * buffer holds exactly one object ending at its end, nested at most OPTOUT_MSGPACK_MAX_DEPTH deep
 * and made of at most `max_objects` objects. Only then is the tree built on a zone, whose size is
 * then bounded by about 24 bytes per object.
 *
 * Returns 0 with *out filled (release it with msgpack_unpacked_destroy), or -1 with *out empty and
 * one line in err (when err is not NULL). Str and bin objects point into buf: keep buf alive as
 * long as *out is used.
 */
#ifndef OPTOUT_MSGPACK_BOUNDED_H
#define OPTOUT_MSGPACK_BOUNDED_H

#include <msgpack.h>
#include <stddef.h>

#define OPTOUT_MSGPACK_MAX_OBJECTS 65536 /* per frame: far above any message optout sends */
#define OPTOUT_MSGPACK_MAX_DEPTH 16      /* msgpack-c's own limit is 32, reported as "out of memory" */

/* A frame or a field of one: at most max_len bytes and OPTOUT_MSGPACK_MAX_OBJECTS objects. */
int optout_msgpack_unpack(const void *buf, size_t len, size_t max_len, msgpack_unpacked *out, char *err,
                          size_t err_len);

/* The same checks with a caller's object limit (a file whose size is already bounded). */
int optout_msgpack_unpack_objects(const void *buf, size_t len, size_t max_objects, msgpack_unpacked *out,
                                  char *err, size_t err_len);

#endif
