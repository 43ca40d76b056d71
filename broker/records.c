/* records.c — the broker's journal records as msgpack maps (records.h).
 *
 *   {"r": "epoch", "e": N}
 *   {"r": "accepted", "id": TASK, "e": EPOCH, "a": ATTEMPT, "f": [[name, size, sha256]...], "s": STATS}
 *   {"r": "published", "id": TASK}
 *   {"r": "failed", "id": TASK, "err": MESSAGE}
 *
 * Decoding is as strict as the wire protocol's: a record that does not have this shape stops the
 * replay (the journal's checksum already excludes torn writes, so this means a bug or tampering).
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "optout/msgpack_bounded.h"
#include "records.h"

static void pack_str(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_key(msgpack_packer *pk, const char *k) { pack_str(pk, k); }

int record_encode(const struct record *r, msgpack_sbuffer *buf) {
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    switch (r->kind) {
    case RECORD_EPOCH:
        msgpack_pack_map(&pk, 2);
        pack_key(&pk, "r"), pack_str(&pk, "epoch");
        pack_key(&pk, "e"), msgpack_pack_uint64(&pk, r->epoch);
        break;
    case RECORD_ACCEPTED:
        msgpack_pack_map(&pk, 6);
        pack_key(&pk, "r"), pack_str(&pk, "accepted");
        pack_key(&pk, "id"), msgpack_pack_uint64(&pk, r->task);
        pack_key(&pk, "e"), msgpack_pack_uint64(&pk, r->epoch);
        pack_key(&pk, "a"), msgpack_pack_uint64(&pk, r->attempt);
        pack_key(&pk, "f");
        msgpack_pack_array(&pk, r->file_count);
        for (size_t i = 0; i < r->file_count; i++) {
            msgpack_pack_array(&pk, 3);
            pack_str(&pk, r->files[i].name);
            msgpack_pack_uint64(&pk, r->files[i].size);
            pack_str(&pk, r->files[i].sha256);
        }
        pack_key(&pk, "s");
        msgpack_pack_bin(&pk, r->stats_len);
        msgpack_pack_bin_body(&pk, r->stats, r->stats_len);
        break;
    case RECORD_PUBLISHED:
        msgpack_pack_map(&pk, 2);
        pack_key(&pk, "r"), pack_str(&pk, "published");
        pack_key(&pk, "id"), msgpack_pack_uint64(&pk, r->task);
        break;
    case RECORD_FAILED:
        msgpack_pack_map(&pk, 3);
        pack_key(&pk, "r"), pack_str(&pk, "failed");
        pack_key(&pk, "id"), msgpack_pack_uint64(&pk, r->task);
        pack_key(&pk, "err"), pack_str(&pk, r->error);
        break;
    }
    return 0;
}

static int key_is(const msgpack_object *k, const char *name) {
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static int copy_str(const msgpack_object *o, char *dst, size_t cap) {
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap) return -1;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

int record_decode(const void *data, size_t len, struct record *r, msgpack_unpacked *keep) {
    memset(r, 0, sizeof *r);
    char err[128];
    msgpack_unpacked_destroy(keep); /* optout_msgpack_unpack initialises it again */
    if (optout_msgpack_unpack(data, len, OPTOUT_MSG_MAX_BYTES, keep, err, sizeof err) != 0) return -1;
    const msgpack_object *o = &keep->data;
    if (o->type != MSGPACK_OBJECT_MAP) return -1;
    int kind = -1;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (key_is(k, "r")) {
            if (v->type != MSGPACK_OBJECT_STR) return -1;
            if (key_is(v, "epoch")) kind = RECORD_EPOCH;
            else if (key_is(v, "accepted")) kind = RECORD_ACCEPTED;
            else if (key_is(v, "published")) kind = RECORD_PUBLISHED;
            else if (key_is(v, "failed")) kind = RECORD_FAILED;
            else return -1;
        } else if (key_is(k, "e") || key_is(k, "id") || key_is(k, "a")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
            if (key_is(k, "e")) r->epoch = v->via.u64;
            else if (key_is(k, "id")) r->task = v->via.u64;
            else r->attempt = v->via.u64;
        } else if (key_is(k, "f")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > OPTOUT_MSG_MAX_FILES) return -1;
            r->file_count = v->via.array.size;
            for (uint32_t f = 0; f < v->via.array.size; f++) {
                const msgpack_object *e = &v->via.array.ptr[f];
                if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
                    copy_str(&e->via.array.ptr[0], r->files[f].name, sizeof r->files[f].name) != 0 ||
                    e->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                    copy_str(&e->via.array.ptr[2], r->files[f].sha256, sizeof r->files[f].sha256) != 0)
                    return -1;
                r->files[f].size = e->via.array.ptr[1].via.u64;
            }
        } else if (key_is(k, "s")) {
            if (v->type != MSGPACK_OBJECT_BIN) return -1;
            r->stats = v->via.bin.ptr;
            r->stats_len = v->via.bin.size;
        } else if (key_is(k, "err")) {
            if (copy_str(v, r->error, sizeof r->error) != 0) return -1;
        }
    }
    if (kind < 0) return -1;
    r->kind = (enum record_kind)kind;
    return 0;
}
