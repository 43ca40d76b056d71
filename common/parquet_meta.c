/* parquet_meta.c — Parquet's footer (FileMetaData: schema, row groups, column chunks, key-value
 * metadata) and page headers, decoded from the Thrift compact protocol into plain structs, and
 * page headers encoded back. Fields the project does not use are skipped, but schema elements and
 * sorting columns keep their encoded bytes so the writer can copy them exactly. */
#include "parquet_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout/util.h"

/* Reads the fields of the struct being read, running `body` for each with its id and wire type in
 * the variables named by `id` and `ft` (nested uses pick other names). */
#define FIELDS(t, id, ft, body)                                                                                        \
    do {                                                                                                               \
        int16_t last_##id = 0, id;                                                                                     \
        int ft, r_##id;                                                                                                \
        while ((r_##id = pq_tr_field(t, &last_##id, &id, &ft)) > 0) {                                                  \
            body                                                                                                       \
        }                                                                                                              \
        if (r_##id < 0) return -1;                                                                                     \
    } while (0)

static int get_i32(pq_tr *t, int ft, int32_t *out) {
    int64_t v;
    if (pq_tr_int(t, ft, &v) < 0) return -1;
    *out = (int32_t)v;
    return 0;
}

static char *dup_bin(const uint8_t *p, uint32_t n) {
    char *s = optout_malloc((size_t)n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static int read_str(pq_tr *t, int ft, char **out) {
    const uint8_t *p;
    uint32_t n;
    if (pq_tr_binary(t, ft, &p, &n) < 0) return -1;
    free(*out);
    *out = dup_bin(p, n);
    return 0;
}

static int decode_time_unit(pq_tr *t, int type, int *unit) {
    if (pq_tr_struct_begin(t, type) < 0) return -1;
    FIELDS(t, id, ft, {
        if (id >= 1 && id <= 3) *unit = id;
        if (pq_tr_skip(t, ft) < 0) return -1;
    });
    pq_tr_struct_end(t);
    return 0;
}

static int decode_logical(pq_tr *t, int type, pq_schema_elem *e) {
    if (pq_tr_struct_begin(t, type) < 0) return -1;
    FIELDS(t, id, ft, {
        e->logical = id;
        if ((id == PQ_LT_TIME || id == PQ_LT_TIMESTAMP) && ft == PQ_T_STRUCT) {
            pq_tr_struct_begin(t, ft);
            FIELDS(t, id2, ft2, {
                if (id2 == 1) {
                    if (pq_tr_bool(t, ft2, &e->utc) < 0) return -1;
                } else if (id2 == 2) {
                    if (decode_time_unit(t, ft2, &e->time_unit) < 0) return -1;
                } else if (pq_tr_skip(t, ft2) < 0) {
                    return -1;
                }
            });
            pq_tr_struct_end(t);
        } else if (id == PQ_LT_INTEGER && ft == PQ_T_STRUCT) {
            pq_tr_struct_begin(t, ft);
            FIELDS(t, id2, ft2, {
                int64_t v;
                if (id2 == 1) {
                    if (pq_tr_int(t, ft2, &v) < 0) return -1;
                    e->int_bits = (int)v;
                } else if (id2 == 2) {
                    if (pq_tr_bool(t, ft2, &e->int_signed) < 0) return -1;
                } else if (pq_tr_skip(t, ft2) < 0) {
                    return -1;
                }
            });
            pq_tr_struct_end(t);
        } else if (id == PQ_LT_DECIMAL && ft == PQ_T_STRUCT) {
            pq_tr_struct_begin(t, ft);
            FIELDS(t, id2, ft2, {
                if (id2 == 1) {
                    if (get_i32(t, ft2, &e->scale) < 0) return -1;
                } else if (id2 == 2) {
                    if (get_i32(t, ft2, &e->precision) < 0) return -1;
                } else if (pq_tr_skip(t, ft2) < 0) {
                    return -1;
                }
            });
            pq_tr_struct_end(t);
        } else if (pq_tr_skip(t, ft) < 0) {
            return -1;
        }
    });
    pq_tr_struct_end(t);
    return 0;
}

static int decode_schema_elem(pq_tr *t, pq_schema_elem *e) {
    memset(e, 0, sizeof *e);
    e->type = -1;
    e->repetition = -1;
    e->converted = -1;
    e->field_id = -1;
    e->raw = t->p;
    if (pq_tr_struct_begin(t, PQ_T_STRUCT) < 0) return -1;
    FIELDS(t, id, ft, {
        int rc = 0;
        switch (id) {
        case 1: rc = get_i32(t, ft, &e->type); break;
        case 2: rc = get_i32(t, ft, &e->type_length); break;
        case 3: rc = get_i32(t, ft, &e->repetition); break;
        case 4: rc = read_str(t, ft, &e->name); break;
        case 5: rc = get_i32(t, ft, &e->num_children); break;
        case 6: rc = get_i32(t, ft, &e->converted); break;
        case 7: rc = get_i32(t, ft, &e->scale); break;
        case 8: rc = get_i32(t, ft, &e->precision); break;
        case 9:
            rc = get_i32(t, ft, &e->field_id);
            e->has_field_id = 1;
            break;
        case 10: rc = decode_logical(t, ft, e); break;
        default: rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    pq_tr_struct_end(t);
    e->raw_len = (size_t)(t->p - e->raw);
    if (!e->name) return pq_tr_fail(t, "schema element without a name");
    if (e->type < -1 || e->type > PQ_FIXED) return pq_tr_fail(t, "unknown physical type");
    if (e->repetition < -1 || e->repetition > PQ_REPEATED) return pq_tr_fail(t, "unknown repetition");
    if (e->num_children < 0) return pq_tr_fail(t, "negative num_children");
    /* the legacy converted types say what the logical type says, for writers that only set those */
    if (e->logical == PQ_LT_NONE) {
        switch (e->converted) {
        case PQ_CT_UTF8: e->logical = PQ_LT_STRING; break;
        case PQ_CT_ENUM: e->logical = PQ_LT_ENUM; break;
        case PQ_CT_JSON: e->logical = PQ_LT_JSON; break;
        case PQ_CT_DECIMAL: e->logical = PQ_LT_DECIMAL; break;
        case PQ_CT_DATE: e->logical = PQ_LT_DATE; break;
        case PQ_CT_TIMESTAMP_MILLIS:
        case PQ_CT_TIMESTAMP_MICROS:
            e->logical = PQ_LT_TIMESTAMP;
            e->time_unit = e->converted == PQ_CT_TIMESTAMP_MILLIS ? PQ_UNIT_MILLIS : PQ_UNIT_MICROS;
            e->utc = 1;
            break;
        case PQ_CT_TIME_MILLIS:
        case PQ_CT_TIME_MICROS:
            e->logical = PQ_LT_TIME;
            e->time_unit = e->converted == PQ_CT_TIME_MILLIS ? PQ_UNIT_MILLIS : PQ_UNIT_MICROS;
            break;
        default:
            if (e->converted >= PQ_CT_UINT_8 && e->converted <= PQ_CT_INT_64) {
                static const int bits[] = {8, 16, 32, 64};
                e->logical = PQ_LT_INTEGER;
                e->int_signed = e->converted >= PQ_CT_INT_8;
                e->int_bits = bits[(e->converted - PQ_CT_UINT_8) % 4];
            }
        }
    }
    return 0;
}

static int decode_stats(pq_tr *t, int type, pq_stats *s) {
    if (pq_tr_struct_begin(t, type) < 0) return -1;
    const uint8_t *lmin = NULL, *lmax = NULL;
    uint32_t lmin_len = 0, lmax_len = 0;
    FIELDS(t, id, ft, {
        int rc;
        switch (id) {
        case 1: rc = pq_tr_binary(t, ft, &lmax, &lmax_len); break;
        case 2: rc = pq_tr_binary(t, ft, &lmin, &lmin_len); break;
        case 3:
            rc = pq_tr_int(t, ft, &s->null_count);
            s->has_nulls = 1;
            break;
        case 5:
            rc = pq_tr_binary(t, ft, &s->max, &s->max_len);
            s->has_max = 1;
            break;
        case 6:
            rc = pq_tr_binary(t, ft, &s->min, &s->min_len);
            s->has_min = 1;
            break;
        default: rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    pq_tr_struct_end(t);
    /* the deprecated min/max (signed byte order for binaries) count as "the input had them" */
    if (!s->has_min && lmin) {
        s->has_min = 1;
        s->min = lmin;
        s->min_len = lmin_len;
    }
    if (!s->has_max && lmax) {
        s->has_max = 1;
        s->max = lmax;
        s->max_len = lmax_len;
    }
    return 0;
}

static int decode_col_meta(pq_tr *t, int type, pq_chunk_meta *c) {
    if (pq_tr_struct_begin(t, type) < 0) return -1;
    FIELDS(t, id, ft, {
        int rc;
        int64_t v;
        switch (id) {
        case 1: rc = get_i32(t, ft, &c->type); break;
        case 4: rc = get_i32(t, ft, &c->codec); break;
        case 5: rc = pq_tr_int(t, ft, &c->num_values); break;
        case 6: rc = pq_tr_int(t, ft, &c->total_uncompressed); break;
        case 7: rc = pq_tr_int(t, ft, &c->total_compressed); break;
        case 9: rc = pq_tr_int(t, ft, &c->data_page_offset); break;
        case 11:
            rc = pq_tr_int(t, ft, &v);
            c->dictionary_page_offset = v;
            break;
        case 12:
            rc = decode_stats(t, ft, &c->stats);
            c->has_stats = 1;
            break;
        default: rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    pq_tr_struct_end(t);
    return 0;
}

static int decode_chunk(pq_tr *t, pq_chunk_meta *c) {
    memset(c, 0, sizeof *c);
    c->type = -1;
    c->dictionary_page_offset = -1;
    int has_meta = 0;
    if (pq_tr_struct_begin(t, PQ_T_STRUCT) < 0) return -1;
    FIELDS(t, id, ft, {
        int rc;
        if (id == 3) {
            rc = decode_col_meta(t, ft, c);
            has_meta = 1;
        } else {
            if (id == 8 || id == 9) c->encrypted = 1;
            if (id == 1) c->has_file_path = 1;
            rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    pq_tr_struct_end(t);
    if (!has_meta && !c->encrypted) return pq_tr_fail(t, "column chunk without metadata");
    return 0;
}

static int decode_row_group(pq_tr *t, pq_row_group *g) {
    memset(g, 0, sizeof *g);
    if (pq_tr_struct_begin(t, PQ_T_STRUCT) < 0) return -1;
    FIELDS(t, id, ft, {
        int rc;
        if (id == 1) {
            int et;
            uint32_t n;
            if (pq_tr_list(t, ft, &et, &n) < 0) return -1;
            if (et != PQ_T_STRUCT) return pq_tr_fail(t, "columns is not a list of structs");
            free(g->cols);
            g->cols = calloc(n ? n : 1, sizeof *g->cols);
            if (!g->cols) return pq_tr_fail(t, "out of memory");
            g->ncols = 0;
            for (uint32_t i = 0; i < n; i++) {
                if (decode_chunk(t, &g->cols[i]) < 0) return -1;
                g->ncols++;
            }
            rc = 0;
        } else if (id == 3) {
            rc = pq_tr_int(t, ft, &g->num_rows);
        } else if (id == 4) {
            g->sorting_raw = t->p;
            rc = pq_tr_skip(t, ft);
            g->sorting_len = (size_t)(t->p - g->sorting_raw);
            if (ft != PQ_T_LIST) g->sorting_raw = NULL;
        } else {
            rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    pq_tr_struct_end(t);
    if (g->num_rows < 0) return pq_tr_fail(t, "negative num_rows");
    return 0;
}

static int decode_kv(pq_tr *t, pq_kv *kv) {
    memset(kv, 0, sizeof *kv);
    if (pq_tr_struct_begin(t, PQ_T_STRUCT) < 0) return -1;
    FIELDS(t, id, ft, {
        int rc;
        if (id == 1) {
            rc = read_str(t, ft, &kv->key);
        } else if (id == 2) {
            const uint8_t *p;
            uint32_t n;
            rc = pq_tr_binary(t, ft, &p, &n);
            if (rc == 0) {
                free(kv->value);
                kv->value = (uint8_t *)dup_bin(p, n);
                kv->value_len = n;
                kv->has_value = 1;
            }
        } else {
            rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    pq_tr_struct_end(t);
    if (!kv->key) return pq_tr_fail(t, "key-value entry without a key");
    return 0;
}

static int decode_file_meta(pq_tr *t, pq_file_meta *m) {
    int has_schema = 0;
    FIELDS(t, id, ft, {
        int rc = 0;
        int et;
        uint32_t n;
        switch (id) {
        case 1: rc = get_i32(t, ft, &m->version); break;
        case 2:
            if (pq_tr_list(t, ft, &et, &n) < 0) return -1;
            if (et != PQ_T_STRUCT || n == 0) return pq_tr_fail(t, "schema is not a non-empty list of structs");
            if (m->schema) return pq_tr_fail(t, "schema given twice");
            m->schema = calloc(n, sizeof *m->schema);
            if (!m->schema) return pq_tr_fail(t, "out of memory");
            for (uint32_t i = 0; i < n; i++) {
                if (decode_schema_elem(t, &m->schema[i]) < 0) {
                    free(m->schema[i].name);
                    return -1;
                }
                m->nschema++;
            }
            has_schema = 1;
            break;
        case 3: rc = pq_tr_int(t, ft, &m->num_rows); break;
        case 4:
            if (pq_tr_list(t, ft, &et, &n) < 0) return -1;
            if (et != PQ_T_STRUCT) return pq_tr_fail(t, "row_groups is not a list of structs");
            if (m->rgs) return pq_tr_fail(t, "row_groups given twice");
            m->rgs = calloc(n ? n : 1, sizeof *m->rgs);
            if (!m->rgs) return pq_tr_fail(t, "out of memory");
            for (uint32_t i = 0; i < n; i++) {
                int r = decode_row_group(t, &m->rgs[i]);
                m->nrgs++;
                if (r < 0) return -1;
            }
            break;
        case 5:
            if (pq_tr_list(t, ft, &et, &n) < 0) return -1;
            if (et != PQ_T_STRUCT) return pq_tr_fail(t, "key_value_metadata is not a list of structs");
            if (m->kv) return pq_tr_fail(t, "key_value_metadata given twice");
            m->kv = calloc(n ? n : 1, sizeof *m->kv);
            if (!m->kv) return pq_tr_fail(t, "out of memory");
            for (uint32_t i = 0; i < n; i++) {
                int r = decode_kv(t, &m->kv[i]);
                m->nkv++;
                if (r < 0) return -1;
            }
            break;
        case 6: rc = read_str(t, ft, &m->created_by); break;
        case 8:
            m->encrypted = 1;
            rc = pq_tr_skip(t, ft);
            break;
        default: rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    if (!has_schema) return pq_tr_fail(t, "FileMetaData without a schema");
    return 0;
}

int pq_meta_decode(pq_file_meta *m, uint8_t *buf, size_t len, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->buf = buf;
    m->buf_len = len;
    pq_tr t;
    pq_tr_init(&t, buf, len);
    if (decode_file_meta(&t, m) < 0 || t.failed) {
        optout_set_err(err, errlen, "footer: %s", t.failed ? t.msg : "corrupt Thrift");
        return -1;
    }
    return 0;
}

void pq_meta_free(pq_file_meta *m) {
    for (uint32_t i = 0; i < m->nschema; i++) free(m->schema[i].name);
    free(m->schema);
    for (uint32_t i = 0; i < m->nrgs; i++) free(m->rgs[i].cols);
    free(m->rgs);
    for (uint32_t i = 0; i < m->nkv; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    free(m->created_by);
    free(m->buf);
    memset(m, 0, sizeof *m);
}

/* ---- page headers ---------------------------------------------------------------------------- */

static int decode_page_header(pq_tr *t, pq_page_header *h) {
    int has_sub = 0;
    FIELDS(t, id, ft, {
        int rc = 0;
        switch (id) {
        case 1: rc = get_i32(t, ft, &h->type); break;
        case 2: rc = get_i32(t, ft, &h->uncompressed_size); break;
        case 3: rc = get_i32(t, ft, &h->compressed_size); break;
        case 4: {
            int32_t c = 0;
            rc = get_i32(t, ft, &c);
            h->crc = (uint32_t)c;
            h->has_crc = 1;
            break;
        }
        case 5: /* DataPageHeader */
        case 7: /* DictionaryPageHeader */
        case 8: /* DataPageHeaderV2 */
            if (pq_tr_struct_begin(t, ft) < 0) return -1;
            has_sub = 1;
            {
                int16_t sub = id;
                FIELDS(t, id2, ft2, {
                    int r2 = 0;
                    if (id2 == 1) {
                        r2 = get_i32(t, ft2, &h->num_values);
                    } else if (sub == 5 && id2 == 2) {
                        r2 = get_i32(t, ft2, &h->encoding);
                    } else if (sub == 5 && id2 == 3) {
                        r2 = get_i32(t, ft2, &h->def_encoding);
                    } else if (sub == 5 && id2 == 4) {
                        r2 = get_i32(t, ft2, &h->rep_encoding);
                    } else if (sub == 7 && id2 == 2) {
                        r2 = get_i32(t, ft2, &h->encoding);
                    } else if (sub == 8 && id2 == 2) {
                        r2 = get_i32(t, ft2, &h->num_nulls);
                    } else if (sub == 8 && id2 == 3) {
                        r2 = get_i32(t, ft2, &h->num_rows);
                    } else if (sub == 8 && id2 == 4) {
                        r2 = get_i32(t, ft2, &h->encoding);
                    } else if (sub == 8 && id2 == 5) {
                        r2 = get_i32(t, ft2, &h->def_len);
                    } else if (sub == 8 && id2 == 6) {
                        r2 = get_i32(t, ft2, &h->rep_len);
                    } else if (sub == 8 && id2 == 7) {
                        r2 = pq_tr_bool(t, ft2, &h->is_compressed);
                    } else {
                        r2 = pq_tr_skip(t, ft2);
                    }
                    if (r2 < 0) return -1;
                });
            }
            pq_tr_struct_end(t);
            break;
        default: rc = pq_tr_skip(t, ft);
        }
        if (rc < 0) return -1;
    });
    if (h->uncompressed_size < 0 || h->compressed_size < 0) return pq_tr_fail(t, "negative page size");
    if (h->num_values < 0 || h->num_nulls < 0 || h->num_rows < 0 || h->def_len < 0 || h->rep_len < 0)
        return pq_tr_fail(t, "negative count in page header");
    if (h->type != PQ_PAGE_INDEX && !has_sub) return pq_tr_fail(t, "page header without its type's header");
    return 0;
}

int pq_page_header_decode(pq_page_header *h, const uint8_t *p, size_t len, size_t *hlen, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->is_compressed = 1;
    pq_tr t;
    pq_tr_init(&t, p, len);
    if (decode_page_header(&t, h) < 0 || t.failed) {
        /* running out of bytes may only mean the caller's window was too small */
        if (t.p >= t.end || strstr(t.msg, "truncated") || strstr(t.msg, "longer than the buffer")) return 1;
        optout_set_err(err, errlen, "page header: %s", t.msg);
        return -1;
    }
    *hlen = (size_t)(t.p - t.base);
    return 0;
}

void pq_page_header_encode(pq_buf *b, const pq_page_header *h) {
    pq_tw w;
    pq_tw_init(&w, b);
    pq_tw_i32(&w, 1, h->type);
    pq_tw_i32(&w, 2, h->uncompressed_size);
    pq_tw_i32(&w, 3, h->compressed_size);
    if (h->has_crc) pq_tw_i32(&w, 4, (int32_t)h->crc);
    if (h->type == PQ_PAGE_DICT) {
        pq_tw_struct_begin(&w, 7);
        pq_tw_i32(&w, 1, h->num_values);
        pq_tw_i32(&w, 2, h->encoding);
        pq_tw_struct_end(&w);
    } else {
        pq_tw_struct_begin(&w, 5);
        pq_tw_i32(&w, 1, h->num_values);
        pq_tw_i32(&w, 2, h->encoding);
        pq_tw_i32(&w, 3, PQ_ENC_RLE);
        pq_tw_i32(&w, 4, PQ_ENC_RLE);
        pq_tw_struct_end(&w);
    }
    pq_tw_stop(&w);
}
