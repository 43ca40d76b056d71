// Writes the Parquet fixtures of the oracle test with two independent writers, DuckDB and hyparquet-writer,
// into OUTDIR (generated at test time, never committed; deterministic: a seeded generator, one thread),
// plus OUTDIR/manifest.json recording which writer and options made each file and what it covers.
//   node make_fixtures.mjs OUTDIR
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib'
import { ByteWriter, ParquetWriter, parquetWriteBuffer } from 'hyparquet-writer'
import { duckQuery } from './oracle.mjs'
import { writeInt96File } from './int96.mjs'

// hyparquet-writer's own column and footer writers, for the file its public API cannot make:
// a dictionary that falls back to PLAIN within one column chunk (INT96 files: int96.mjs).
const hw = (f) => import(new URL(`./node_modules/hyparquet-writer/src/${f}`, import.meta.url))
const { writeColumn } = await hw('column.js')
const { encodeNestedValues } = await hw('dremel.js')
const { schemaPathResolver } = await hw('schema.js')

const outdir = process.argv[2]
if (!outdir) { process.stderr.write('usage: node make_fixtures.mjs OUTDIR\n'); process.exit(2) }
mkdirSync(outdir, { recursive: true })
const manifest = []
const sql = (s) => "'" + s.replaceAll("'", "''") + "'"

// ---------------------------------------------------------------------------------------------------
// Deterministic data.
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const WORDS = ['the', 'robots', 'crawler', 'opt-out', 'corpus', 'data', 'page', 'site', 'GPTBot', 'training',
  'café', 'naïve', 'Zürich', '日本語', '中文', 'русский', 'العربية', 'עברית', 'emoji🚀', '👩‍💻', 'ñandú', 'x\ty', 'quote"s',
  'back\\slash', 'line\nbreak', '\u2028sep', 'ß', 'ǅ', '𝔘𝔫𝔦']
const HOSTS = ['example.com', 'www.example.org', 'blog.example.net', 'xn--caf-dma.example', 'shop.example.co.uk', 'a.b.example.io']
const LANGS = ['en', 'de', 'fr', 'ja', 'zh', 'ru', 'ar']
const DUMPS = ['CC-MAIN-2013-20', 'CC-MAIN-2019-35', 'CC-MAIN-2023-50', 'CC-MAIN-2024-10']

function makeRows(n, seed) {
  const r = rng(seed)
  const pick = (a) => a[Math.floor(r() * a.length)]
  const rows = []
  for (let i = 0; i < n; i++) {
    const len = r() < 0.05 ? 0 : Math.floor(r() * 40) + 1
    const words = []
    for (let w = 0; w < len; w++) words.push(pick(WORDS))
    const dump = pick(DUMPS)
    const host = pick(HOSTS)
    rows.push({
      text: words.join(' '),
      id: `<urn:uuid:${(seed * 1000003 + i).toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}>`,
      dump,
      url: r() < 0.03 ? null : `https://${host}/p/${i}?q=${Math.floor(r() * 100)}`,
      date: `${dump.slice(8, 12)}-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 10)}T0${Math.floor(r() * 10)}:12:34Z`,
      file_path: `s3://commoncrawl/crawl-data/${dump}/segments/${i % 7}/warc/f${i % 13}.warc.gz`,
      language: r() < 0.04 ? null : pick(LANGS),
      language_score: r() < 0.04 ? null : Math.round(r() * 1e6) / 1e6 + (r() < 0.1 ? 1e-17 : 0),
      token_count: r() < 0.05 ? null : Math.floor(r() * 5000),
      big: r() < 0.1 ? null : BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 32)) * 4294967311n - 2n ** 62n),
      flag: r() < 0.1 ? null : r() < 0.5,
      f32: r() < 0.1 ? null : Math.fround((r() - 0.5) * 1e6),
      small: Math.floor(r() * 200) - 100,
      tags: r() < 0.1 ? null : Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.1 ? null : pick(WORDS))),
      blob: r() < 0.1 ? null : Uint8Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 256)),
      ts_us: r() < 0.1 ? null : BigInt(Math.floor(r() * 1.7e15)),
    })
  }
  return rows
}

// ---------------------------------------------------------------------------------------------------
// DuckDB: the rows go in through a JSON Lines file; SQL builds the typed columns.
function jsonLine(o) {
  return JSON.stringify(o, (k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))
}
const ROWS = makeRows(4300, 7) // three DuckDB row groups: 2,048 + 2,048 + 204
const jsonl = join(outdir, 'rows.jsonl')
writeFileSync(jsonl, ROWS.map(jsonLine).join('\n') + '\n')
await duckQuery(`CREATE TABLE src AS SELECT row_number() OVER () - 1 AS rn, * FROM read_json(${sql(jsonl)}, format='newline_delimited',
  columns={text:'VARCHAR', id:'VARCHAR', dump:'VARCHAR', url:'VARCHAR', date:'VARCHAR', file_path:'VARCHAR', language:'VARCHAR',
           language_score:'DOUBLE', token_count:'BIGINT', big:'BIGINT', flag:'BOOLEAN', f32:'FLOAT', small:'INTEGER',
           tags:'VARCHAR[]', blob:'VARCHAR', ts_us:'BIGINT'})`)

const FINEWEB = `text, id, dump, url, date, file_path, language, language_score, token_count`
const FINEWEB2 = `text, id, dump, url, date, file_path, language, language_score,
  CASE WHEN language IS NULL THEN NULL ELSE language || '_' || CASE WHEN language IN ('ja','zh') THEN 'Hani' WHEN language = 'ru' THEN 'Cyrl' WHEN language = 'ar' THEN 'Arab' ELSE 'Latn' END END AS language_script,
  (rn % 97)::BIGINT AS minhash_cluster_size,
  '[["' || coalesce(language, 'und') || '", ' || coalesce(language_score, 0) || ']]' AS top_langs`
const WIDE = `${FINEWEB}, big, flag, f32, small::SMALLINT AS small16, (small + 100)::UTINYINT AS u8, (rn * 2654435761)::UBIGINT AS u64,
  tags, {'url': url, 'dump': dump, 'token_count': token_count} AS metadata,
  CASE WHEN rn % 11 = 0 THEN NULL ELSE map(['lang', 'dump'], [coalesce(language, ''), dump]) END AS attrs,
  from_hex(blob) AS blob, make_timestamp(ts_us) AS ts, (make_timestamp(ts_us))::TIMESTAMPTZ AS ts_utc,
  epoch_ms(ts_us // 1000)::TIMESTAMP_MS AS ts_ms, make_timestamp_ns(ts_us * 1000 + rn % 1000) AS ts_ns,
  (DATE '1970-01-01' + (ts_us // 86400000000)::INTEGER) AS day, ((big // 1000000) / 1000)::DECIMAL(18,3) AS dec18,
  (small * 1.25)::DECIMAL(5,2) AS dec5, ('12345678901234567890123456789' || (rn % 10))::DECIMAL(38,0) AS dec38`

async function duckCopy(name, select, opts, covers) {
  const file = join(outdir, name)
  const optText = Object.entries(opts).map(([k, v]) => `${k} ${v}`).join(', ')
  await duckQuery(`COPY (${select}) TO ${sql(file)} (FORMAT parquet${optText ? ', ' + optText : ''})`)
  manifest.push({ file: name, writer: 'duckdb', options: opts, covers })
}

// Every codec DuckDB writes, with data page v1 and v2 (v2 also means DELTA_* and BYTE_STREAM_SPLIT
// where the dictionary is not used), three row groups (DuckDB rounds a row group up to 2,048 rows).
for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4_raw', 'brotli']) {
  for (const version of ['v1', 'v2']) {
    await duckCopy(`duckdb_${codec}_${version}.parquet`, `SELECT ${WIDE} FROM src ORDER BY rn`,
      { COMPRESSION: codec, PARQUET_VERSION: version, ROW_GROUP_SIZE: 2048, KV_METADATA: "{writer_note: 'duckdb fixture', 'optout:test': 'ü'}" },
      ['codec', `page_${version}`, 'dictionary', 'plain', version === 'v2' ? 'delta' : 'rle', 'nulls', 'row_groups', 'list', 'struct', 'map', 'timestamp', 'date', 'decimal', 'unsigned'])
  }
}
// Dictionaries refused (DICTIONARY_SIZE_LIMIT tiny): PLAIN pages in v1, DELTA pages in v2.
await duckCopy('duckdb_nodict_v1.parquet', `SELECT ${WIDE} FROM src ORDER BY rn`, { COMPRESSION: 'zstd', PARQUET_VERSION: 'v1', ROW_GROUP_SIZE: 2048, DICTIONARY_SIZE_LIMIT: 1 }, ['plain'])
await duckCopy('duckdb_nodict_v2.parquet', `SELECT ${WIDE} FROM src ORDER BY rn`, { COMPRESSION: 'snappy', PARQUET_VERSION: 'v2', ROW_GROUP_SIZE: 2048, DICTIONARY_SIZE_LIMIT: 1 }, ['delta'])
// FineWeb's and FineWeb-2's schemas as published (snappy, one row group per 1,000 rows as datatrove writes
// them; DuckDB rounds that up to 2,048).
await duckCopy('fineweb.parquet', `SELECT ${FINEWEB} FROM src ORDER BY rn`, { COMPRESSION: 'snappy', ROW_GROUP_SIZE: 1000 }, ['fineweb'])
await duckCopy('fineweb2.parquet', `SELECT ${FINEWEB2} FROM src ORDER BY rn`, { COMPRESSION: 'zstd', ROW_GROUP_SIZE: 2048, FIELD_IDS: "'auto'" }, ['fineweb2', 'field_ids'])
// As pyarrow (datatrove) writes FineWeb: with the Arrow schema in the key-value metadata, made by Apache
// Arrow's own IPC writer (the Schema message of a stream, base64).
{
  const { Schema, Field, Utf8, Float64, Int64, Table, tableToIPC } = await import('apache-arrow')
  const s = (n) => new Field(n, new Utf8(), true)
  const schema = new Schema([s('text'), s('id'), s('dump'), s('url'), s('date'), s('file_path'), s('language'),
    new Field('language_score', new Float64(), true), new Field('token_count', new Int64(), true)])
  const stream = tableToIPC(new Table(schema), 'stream')
  const b64 = Buffer.from(stream.subarray(0, stream.length - 8)).toString('base64') // without the end-of-stream marker
  await duckCopy('fineweb_arrow.parquet', `SELECT ${FINEWEB} FROM src ORDER BY rn`,
    { COMPRESSION: 'snappy', ROW_GROUP_SIZE: 2048, KV_METADATA: `{'ARROW:schema': '${b64}', 'huggingface': '{"info": {"features": {}}}'}` },
    ['fineweb', 'arrow_schema'])
}
// Dolma/datatrove style: the URL inside a struct.
await duckCopy('datatrove_metadata.parquet', `SELECT text, id, {'url': url, 'date': date, 'dump': dump, 'token_count': token_count, 'language': language} AS metadata FROM src ORDER BY rn`,
  { COMPRESSION: 'zstd' }, ['struct'])
// No rows at all; and a single row group holding a single row.
await duckCopy('empty.parquet', `SELECT ${WIDE} FROM src WHERE false`, { COMPRESSION: 'zstd' }, ['empty'])
await duckCopy('one_row.parquet', `SELECT ${FINEWEB} FROM src WHERE rn = 17`, { COMPRESSION: 'snappy' }, ['one_row'])
// Required (non-null) columns: DuckDB writes NOT NULL columns as REQUIRED.
await duckQuery(`CREATE TABLE req (text VARCHAR NOT NULL, url VARCHAR NOT NULL, token_count BIGINT NOT NULL, score DOUBLE NOT NULL)`)
await duckQuery(`INSERT INTO req SELECT coalesce(text, ''), coalesce(url, ''), coalesce(token_count, 0), coalesce(language_score, 0) FROM src ORDER BY rn`)
await duckCopy('duckdb_required.parquet', 'SELECT * FROM req', { COMPRESSION: 'zstd', ROW_GROUP_SIZE: 2048 }, ['required'])

// ---------------------------------------------------------------------------------------------------
// hyparquet-writer: data page v2 always; every encoding it has, tiny pages, small row groups.
const compressors = { GZIP: (b) => gzipSync(b), BROTLI: (b) => brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: 4 } }) }
const HROWS = makeRows(1200, 11)
const col = (name) => HROWS.map((r) => r[name])

function hyWrite(name, opts, covers) {
  const buf = parquetWriteBuffer({ compressors, ...opts })
  writeFileSync(join(outdir, name), new Uint8Array(buf))
  const described = { ...opts, columnData: opts.columnData.map(({ data, ...c }) => c) }
  manifest.push({ file: name, writer: 'hyparquet-writer', options: described, covers })
}

const hyColumns = (enc) => [
  { name: 'text', data: col('text'), type: 'STRING', encoding: enc.str },
  { name: 'id', data: col('id'), type: 'STRING', encoding: enc.str },
  { name: 'url', data: col('url'), type: 'STRING', encoding: enc.str },
  { name: 'language', data: col('language'), type: 'STRING', encoding: enc.dictStr },
  { name: 'language_score', data: col('language_score'), type: 'DOUBLE', encoding: enc.float },
  { name: 'token_count', data: col('token_count').map((x) => (x === null ? null : BigInt(x))), type: 'INT64', encoding: enc.int },
  { name: 'small', data: col('small'), type: 'INT32', encoding: enc.int, nullable: false },
  { name: 'big', data: col('big'), type: 'INT64', encoding: enc.int },
  { name: 'f32', data: col('f32'), type: 'FLOAT', encoding: enc.float },
  { name: 'flag', data: col('flag'), type: 'BOOLEAN' },
  { name: 'blob', data: col('blob'), type: 'BYTE_ARRAY', encoding: enc.bytes },
]
const ENCODINGS = {
  plain: { str: 'PLAIN', dictStr: 'PLAIN', float: 'PLAIN', int: 'PLAIN', bytes: 'PLAIN' },
  dict: { str: 'RLE_DICTIONARY', dictStr: 'RLE_DICTIONARY', float: 'RLE_DICTIONARY', int: 'RLE_DICTIONARY', bytes: 'RLE_DICTIONARY' },
  delta: { str: 'DELTA_BYTE_ARRAY', dictStr: 'DELTA_LENGTH_BYTE_ARRAY', float: 'BYTE_STREAM_SPLIT', int: 'DELTA_BINARY_PACKED', bytes: 'DELTA_LENGTH_BYTE_ARRAY' },
  // DuckDB reads BYTE_STREAM_SPLIT for floating types only
  bss: { str: 'DELTA_LENGTH_BYTE_ARRAY', dictStr: 'RLE_DICTIONARY', float: 'BYTE_STREAM_SPLIT', int: 'PLAIN', bytes: 'PLAIN' },
}
for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI']) {
  for (const [encName, enc] of Object.entries(ENCODINGS)) {
    hyWrite(`hyparquet_${codec.toLowerCase()}_${encName}.parquet`,
      { columnData: hyColumns(enc), codec, rowGroupSize: 500, pageSize: 512, kvMetadata: [{ key: 'writer_note', value: 'hyparquet fixture' }] },
      ['codec', 'page_v2', encName, 'nulls', 'row_groups', 'tiny_pages', 'required'])
  }
}

// Nested columns through an explicit schema: list<string>, struct (metadata.url), string-keyed map.
{
  const n = HROWS.length
  const schema = [
    { name: 'root', num_children: 4 },
    { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'metadata', repetition_type: 'OPTIONAL', num_children: 3 },
    { name: 'url', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'token_count', type: 'INT64', repetition_type: 'OPTIONAL' },
    { name: 'date', type: 'INT64', repetition_type: 'OPTIONAL', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
    { name: 'attrs', repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
    { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
    { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  ]
  const columnData = [
    { name: 'text', data: col('text') },
    { name: 'tags', data: col('tags') },
    { name: 'metadata', data: HROWS.map((r, i) => (i % 13 === 0 ? null : { url: r.url, token_count: r.token_count === null ? null : BigInt(r.token_count), date: r.ts_us })) },
    { name: 'attrs', data: HROWS.map((r, i) => (i % 9 === 0 ? null : i % 9 === 1 ? [] : [{ key: 'lang', value: r.language }, { key: 'dump', value: r.dump }])) },
  ]
  if (columnData.some((c) => c.data.length !== n)) throw new Error('nested fixture: column lengths differ')
  for (const codec of ['SNAPPY', 'GZIP']) {
    hyWrite(`hyparquet_nested_${codec.toLowerCase()}.parquet`, { columnData, schema, codec, rowGroupSize: 400, pageSize: 1024 },
      ['list', 'struct', 'map', 'timestamp', 'nulls', 'row_groups', 'tiny_pages'])
  }
}

// A dictionary that falls back to PLAIN within one column chunk, as pyarrow writes one when the dictionary
// outgrows its limit: a dictionary page, RLE_DICTIONARY pages, then PLAIN pages, in one chunk.
function writeFallback(name, codec) {
  const r = rng(99)
  const n = 3000
  const long = (i) => `${i % 40 === 0 ? 'repeated value' : 'distinct-' + i + '-' + 'x'.repeat(50 + Math.floor(r() * 200))}`
  const textData = Array.from({ length: n }, (_, i) => (i % 17 === 5 ? null : long(i)))
  const idData = Array.from({ length: n }, (_, i) => BigInt(i))
  const schema = [
    { name: 'root', num_children: 2 },
    { name: 'url', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'n', type: 'INT64', repetition_type: 'REQUIRED' },
  ]
  const writer = new ByteWriter()
  const pw = new ParquetWriter({ writer, schema, codec, compressors })
  const resolve = schemaPathResolver(schema)
  const encoder = (nameCol, encoding) => {
    const path = resolve([nameCol])
    const schemaPath = path.map((p) => p.element)
    return [path, {
      columnName: nameCol, element: schemaPath.at(-1), schemaPath, codec, compressors: pw.compressors, stats: false,
      pageSize: 4096, columnIndex: false, offsetIndex: false, encoding,
    }]
  }
  const groups = [[0, 1700], [1700, n]]
  for (const [start, end] of groups) {
    const start0 = writer.offset
    const cols = []
    // url: the first 60% of the group dictionary-encoded, the rest PLAIN, in one chunk
    const mid = start + Math.floor((end - start) * 0.6)
    const [pathU, encDict] = encoder('url', 'RLE_DICTIONARY')
    const [, encPlain] = encoder('url', 'PLAIN')
    const a = writeColumn({ writer, column: encDict, pageData: encodeNestedValues(pathU, textData.slice(start, mid)) }).chunk
    const b = writeColumn({ writer, column: encPlain, pageData: encodeNestedValues(pathU, textData.slice(mid, end)) }).chunk
    if (a.meta_data.dictionary_page_offset === undefined) throw new Error('fallback fixture: no dictionary was written')
    cols.push({
      file_offset: a.file_offset,
      meta_data: {
        ...a.meta_data,
        encodings: ['PLAIN', 'RLE', 'RLE_DICTIONARY'],
        num_values: a.meta_data.num_values + b.meta_data.num_values,
        total_compressed_size: a.meta_data.total_compressed_size + b.meta_data.total_compressed_size,
        total_uncompressed_size: a.meta_data.total_uncompressed_size + b.meta_data.total_uncompressed_size,
        statistics: undefined,
        encoding_stats: undefined,
      },
    })
    const [pathN, encN] = encoder('n', 'DELTA_BINARY_PACKED')
    cols.push(writeColumn({ writer, column: encN, pageData: encodeNestedValues(pathN, idData.slice(start, end)) }).chunk)
    pw.row_groups.push({ columns: cols, total_byte_size: cols.reduce((s, c) => s + c.meta_data.total_uncompressed_size, 0n),
      num_rows: BigInt(end - start), total_compressed_size: BigInt(writer.offset - start0) })
    pw.num_rows += BigInt(end - start)
  }
  pw.finish()
  writeFileSync(join(outdir, name), new Uint8Array(writer.getBuffer()))
  manifest.push({ file: name, writer: 'hyparquet-writer (column writer; chunk assembled here)', options: { codec, pageSize: 4096, rowGroups: groups },
    covers: ['dictionary_fallback', 'page_v2', 'nulls', 'row_groups'] })
}
writeFallback('hyparquet_dict_fallback_snappy.parquet', 'SNAPPY')
writeFallback('hyparquet_dict_fallback_none.parquet', 'UNCOMPRESSED')

// INT96 (neither writer makes it): int96.mjs's FIXED_LEN_BYTE_ARRAY(12) pages, footer retyped.
{
  const r = rng(5)
  const n = 900
  const nanos = Array.from({ length: n }, (_, i) => (i % 10 === 3 ? null : BigInt(Math.floor(r() * 1.7e9)) * 1000000000n + BigInt(Math.floor(r() * 1e9))))
  const url = Array.from({ length: n }, (_, i) => `https://${HOSTS[i % HOSTS.length]}/${i}`)
  for (const [name, enc] of [['hyparquet_int96_plain.parquet', 'PLAIN'], ['hyparquet_int96_dict.parquet', 'RLE_DICTIONARY']]) {
    writeInt96File(join(outdir, name), url, enc === 'RLE_DICTIONARY' ? nanos.map((x, i) => (x === null ? null : nanos[i % 50] ?? 0n)) : nanos,
      { encoding: enc, codec: 'SNAPPY', rowGroupSize: 300 })
    manifest.push({ file: name, writer: 'hyparquet-writer (FIXED_LEN_BYTE_ARRAY(12) pages, footer retyped INT96)', options: { encoding: enc, codec: 'SNAPPY', rowGroupSize: 300 }, covers: ['int96', 'row_groups', 'nulls'] })
  }
}

writeFileSync(join(outdir, 'manifest.json'), JSON.stringify(manifest, (k, v) => (typeof v === 'bigint' ? v.toString() : v), 1) + '\n')
process.stdout.write(`make_fixtures: ${manifest.length} files in ${outdir}\n`)
