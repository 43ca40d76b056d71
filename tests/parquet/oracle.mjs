// Two independent Parquet readers (DuckDB and hyparquet) rendering a file in one canonical form, so that
// the project's own reader (parquet_tool dump) and writer (parquet_tool filter) can be checked against
// implementations that share no code with it, nor with each other.
//
// Canonical rendering of a file (what both readers produce, and what test_parquet_oracle.py compares
// with parquet_tool's output after the normalisations it documents):
//   rows: one JSON object per row, keys = top-level column names in schema order;
//     null; booleans; integers exact (int64 and uint64 beyond 2^53 too: bigints are written as digits);
//     floating values as the shortest round-trip decimal (NaN/±Infinity as the strings "NaN", "Infinity",
//     "-Infinity"); UTF8/STRING/ENUM/JSON byte arrays as strings; other byte arrays and fixed-length byte
//     arrays (UUID included) as base64; DATE as days; TIME and TIMESTAMP as integers in the column's
//     own unit; INT96 as nanoseconds since the epoch; DECIMAL as its unscaled integer; structs as
//     objects (fields in schema order); lists as arrays; maps as arrays of {"key": k, "value": v}.
//   schema: the flat list of schema elements as each reader reports it; kv: key-value metadata;
//   row_groups: row counts per row group; columns: codec and encodings per column chunk.

import { readFileSync } from 'node:fs'
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

const utf8 = new TextDecoder('utf-8', { fatal: true })

// ---------------------------------------------------------------------------------------------------
// Canonical JSON text: JSON.stringify cannot write a bigint as a number, nor bytes as base64.
export function canonicalJson(v) {
  if (v === null || v === undefined) return 'null'
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false'
    case 'bigint': return v.toString()
    case 'number':
      if (Number.isNaN(v)) return '"NaN"'
      if (!Number.isFinite(v)) return v > 0 ? '"Infinity"' : '"-Infinity"'
      return JSON.stringify(v)
    case 'string': return JSON.stringify(v)
    default:
  }
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'))
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']'
  return '{' + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ':' + canonicalJson(x)).join(',') + '}'
}

// ---------------------------------------------------------------------------------------------------
// The schema as a tree, from the flat list of elements (both readers give one).
function schemaTree(elements) {
  let i = 0
  function node() {
    const e = elements[i++]
    const n = { e, children: [] }
    for (let c = 0; c < (Number(e.num_children) || 0); c++) n.children.push(node())
    return n
  }
  return node()
}

// What a leaf is, whichever reader described it (hyparquet: objects; DuckDB: strings).
function leafKind(e) {
  const ct = e.converted_type
  const lt = e.logical_type
  const ltName = typeof lt === 'string' ? lt : lt?.type
  if (ct === 'DECIMAL' || /decimal/i.test(ltName ?? '')) return { kind: 'decimal' }
  if (e.type === 'INT96') return { kind: 'int96' }
  // hyparquet: {unit: 'MICROS'}; DuckDB: 'TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>)'
  const unitName = typeof lt === 'string'
    ? (/NanoSeconds\(/.test(lt) ? 'NANOS' : /MicroSeconds\(/.test(lt) ? 'MICROS' : /MilliSeconds\(/.test(lt) ? 'MILLIS' : undefined)
    : lt?.unit
  const unit = { NANOS: 'ns', MICROS: 'us', MILLIS: 'ms' }[unitName]
  if (ct === 'TIMESTAMP_MILLIS' || ct === 'TIMESTAMP_MICROS' || /timestamp/i.test(ltName ?? ''))
    return { kind: 'timestamp', unit: unit ?? (ct === 'TIMESTAMP_MILLIS' ? 'ms' : 'us') }
  if (ct === 'TIME_MILLIS' || ct === 'TIME_MICROS' || /^time/i.test(ltName ?? ''))
    return { kind: 'time', unit: unit ?? (ct === 'TIME_MILLIS' ? 'ms' : 'us') }
  if (ct === 'DATE' || /^date/i.test(ltName ?? '')) return { kind: 'date' }
  if (ct === 'UTF8' || ct === 'ENUM' || ct === 'JSON' || /^(string|enum|json)/i.test(ltName ?? '')) return { kind: 'string' }
  if (e.type === 'BYTE_ARRAY' || e.type === 'FIXED_LEN_BYTE_ARRAY') return { kind: 'bytes' }
  return { kind: 'plain' }
}

const isList = (n) => n.e.converted_type === 'LIST' || /^list/i.test(typeof n.e.logical_type === 'string' ? n.e.logical_type : n.e.logical_type?.type ?? '')
const isMap = (n) => n.e.converted_type === 'MAP' || n.e.converted_type === 'MAP_KEY_VALUE' ||
  /^map/i.test(typeof n.e.logical_type === 'string' ? n.e.logical_type : n.e.logical_type?.type ?? '')

// The element of a LIST-annotated group, by the format's backward-compatibility rules.
function listElement(n) {
  const rep = n.children[0]
  if (rep.children.length === 1 && rep.e.name !== 'array' && rep.e.name !== `${n.e.name}_tuple`) return rep.children[0]
  return rep
}

// ---------------------------------------------------------------------------------------------------
// DuckDB.
let duckInstance
async function duck() {
  if (!duckInstance) {
    const { DuckDBInstance } = await import('@duckdb/node-api')
    const db = await DuckDBInstance.create(':memory:', { threads: '1' })
    duckInstance = await db.connect()
  }
  return duckInstance
}

const sqlString = (s) => "'" + s.replaceAll("'", "''") + "'"

export async function duckQuery(sql) {
  const c = await duck()
  return (await c.runAndReadAll(sql)).getRowObjects()
}

function duckNanos(v) {
  // Every DuckDB time value, in nanoseconds.
  if ('nanos' in v) return v.nanos
  if ('micros' in v) return v.micros * 1000n
  if ('millis' in v) return v.millis * 1000000n
  if ('seconds' in v) return v.seconds * 1000000000n
  throw new Error(`DuckDB time value of unknown shape: ${v}`)
}
const unitDiv = { ns: 1n, us: 1000n, ms: 1000000n }

function duckRender(v, n) {
  if (v === null || v === undefined) return null
  if (n.children.length) {
    if (isMap(n)) return v.entries.map(({ key, value }) => {
      const kv = n.children[0]
      return { key: duckRender(key, kv.children[0]), value: duckRender(value, kv.children[1]) }
    })
    if (isList(n)) return v.items.map((x) => duckRender(x, listElement(n)))
    if (n.e.repetition_type === 'REPEATED' && !n.repeatedHandled) {
      // a bare repeated group outside a LIST: DuckDB reads it as a list of structs
      return v.items.map((x) => duckRender(x, { ...n, repeatedHandled: true }))
    }
    const out = {}
    for (const c of n.children) out[c.e.name] = duckRender(v.entries[c.e.name], c)
    return out
  }
  if (n.e.repetition_type === 'REPEATED' && !n.repeatedHandled && v.items)
    return v.items.map((x) => duckRender(x, { ...n, repeatedHandled: true }))
  const k = leafKind(n.e)
  switch (k.kind) {
    case 'decimal':
      if (typeof v === 'object' && 'scale' in v) return v.value
      // DuckDB reads some decimals as DOUBLE (precision > 38): keep what it gives
      return v
    case 'int96': return duckNanos(v)
    case 'timestamp': return duckNanos(v) / unitDiv[k.unit]
    case 'time': return duckNanos(v) / unitDiv[k.unit]
    case 'date': return v.days
    case 'bytes':
      if (v.bytes) return v.bytes
      if (typeof v.hugeint === 'bigint') { // UUID: DuckDB flips the top bit to sort it
        const h = BigInt.asUintN(128, v.hugeint ^ (1n << 127n))
        return Uint8Array.from(Buffer.from(h.toString(16).padStart(32, '0'), 'hex'))
      }
      if (typeof v === 'string') return v
      return v
    default:
      if (typeof v === 'object' && v !== null && 'bytes' in v) return v.bytes
      if (typeof v === 'object' && v !== null && 'days' in v && 'months' in v) return v.toString()
      return v
  }
}

export async function readDuckDB(file) {
  const f = sqlString(file)
  const schema = (await duckQuery(`SELECT * EXCLUDE (file_name) FROM parquet_schema(${f})`)).map((r) => {
    const o = {}
    for (const [k, v] of Object.entries(r)) o[k] = typeof v === 'bigint' ? Number(v) : (v === null ? undefined : v)
    return o
  })
  const kv = (await duckQuery(`SELECT key, value FROM parquet_kv_metadata(${f})`)).map((r) => [
    Buffer.from(r.key.bytes).toString('utf8'), r.value ? Buffer.from(r.value.bytes).toString('utf8') : null])
  const meta = await duckQuery(`SELECT row_group_id, row_group_num_rows, column_id, path_in_schema, compression, encodings,
                                       stats_null_count, stats_min_value, stats_max_value
                                FROM parquet_metadata(${f}) ORDER BY row_group_id, column_id`)
  const rowGroups = []
  const columns = []
  for (const m of meta) {
    const g = Number(m.row_group_id)
    if (rowGroups.length <= g) rowGroups.push(Number(m.row_group_num_rows))
    columns.push({ row_group: g, path: m.path_in_schema, codec: m.compression, encodings: m.encodings,
      null_count: m.stats_null_count, min: m.stats_min_value, max: m.stats_max_value })
  }
  const tree = schemaTree(schema)
  const result = await (await duck()).runAndReadAll(`SELECT * FROM read_parquet(${f})`)
  const names = result.columnNames()
  const rows = result.getRows().map((r) => {
    const o = {}
    names.forEach((name, i) => { o[name] = duckRender(r[i], tree.children[i]) })
    return o
  })
  const types = result.columnTypes().map((t) => t.toString())
  return { reader: 'duckdb', schema, kv, row_groups: rowGroups, columns, types, rows }
}

// ---------------------------------------------------------------------------------------------------
// hyparquet. DECIMAL annotations are removed from the metadata it reads with (it would scale them into
// lossy doubles) and time values are kept as raw integers, so both are rendered exactly here.
const rawParsers = {
  timestampFromMilliseconds: (x) => BigInt(x),
  timestampFromMicroseconds: (x) => BigInt(x),
  timestampFromNanoseconds: (x) => BigInt(x),
  dateFromDays: (x) => x,
  stringFromBytes: (b) => b && utf8.decode(b),
  jsonFromBytes: (b) => b && utf8.decode(b),
  geometryFromBytes: (b) => b,
  geographyFromBytes: (b) => b,
  uuidFromBytes: (b) => b,
}

function bytesToSigned(b) {
  if (!b.length) return 0n
  let x = 0n
  for (const byte of b) x = (x << 8n) | BigInt(byte)
  const bits = BigInt(b.length * 8)
  return x >= (1n << (bits - 1n)) ? x - (1n << bits) : x
}

function hypRender(v, n) {
  // a repeated field has no null state: hyparquet gives null for an empty bare repeated field
  if ((v === null || v === undefined) && n.e.repetition_type === 'REPEATED' && !n.repeatedHandled) return []
  if (v === null || v === undefined) return null
  if (n.children.length) {
    if (isMap(n)) {
      // hyparquet assembles a map into a JS object: keys come back as property names (strings), so
      // keys of other types are parsed back by their column's type
      const [keyNode, valueNode] = n.children[0].children
      const keyOf = (k) => (keyNode.e.type === 'INT32' || keyNode.e.type === 'INT64' ? BigInt(k)
        : keyNode.e.type === 'BOOLEAN' ? k === 'true' : keyNode.e.type === 'FLOAT' || keyNode.e.type === 'DOUBLE' ? Number(k) : k)
      return Object.entries(v).map(([key, value]) => ({ key: keyOf(key), value: valueNode ? hypRender(value, valueNode) : null }))
    }
    if (isList(n)) return Array.from(v, (x) => hypRender(x, listElement(n)))
    if (n.e.repetition_type === 'REPEATED' && !n.repeatedHandled)
      return Array.from(v, (x) => hypRender(x, { ...n, repeatedHandled: true }))
    const out = {}
    for (const c of n.children) out[c.e.name] = hypRender(v[c.e.name], c)
    return out
  }
  if (n.e.repetition_type === 'REPEATED' && !n.repeatedHandled && Array.isArray(v))
    return v.map((x) => hypRender(x, { ...n, repeatedHandled: true }))
  const k = leafKind(n.e)
  switch (k.kind) {
    case 'decimal': return v instanceof Uint8Array ? bytesToSigned(v) : BigInt(v)
    case 'int96': {
      // nanoseconds of the day (signed int64, little-endian), then the Julian day (signed int32);
      // exact arithmetic, no wrapping
      const d = new DataView(v.buffer, v.byteOffset, 12)
      return (BigInt(d.getInt32(8, true)) - 2440588n) * 86400000000000n + d.getBigInt64(0, true)
    }
    case 'string': return v instanceof Uint8Array ? utf8.decode(v) : v
    case 'bytes': return v
    case 'time': return BigInt(v)
    default: return v
  }
}

function plainMeta(x) {
  // The metadata as JSON-able data (bigints as numbers: sizes here never pass 2^53).
  return JSON.parse(JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? Number(v) : v)))
}

// The Arrow schema pyarrow stores in the key-value metadata (ARROW:schema: base64 of an IPC Schema
// message), decoded by Apache Arrow's own reader: [name, type, nullable, item nullable (lists)] per field.
async function arrowSchema(kv) {
  const entry = kv.find(([k]) => k === 'ARROW:schema')
  if (!entry) return undefined
  try {
    const { RecordBatchReader } = await import('apache-arrow')
    const eos = Buffer.from('ffffffff00000000', 'hex')
    const reader = RecordBatchReader.from(Buffer.concat([Buffer.from(entry[1] ?? '', 'base64'), eos]))
    reader.open()
    return reader.schema.fields.map((f) => [f.name, String(f.type), f.nullable, f.type.children?.[0]?.nullable ?? null])
  } catch (e) {
    return { error: String(e?.message ?? e) }
  }
}

export async function readHyparquet(file) {
  const buf = readFileSync(file)
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const metadata = parquetMetadata(ab)
  const schema = plainMeta(metadata.schema)
  const kv = (metadata.key_value_metadata ?? []).map(({ key, value }) => [key, value ?? null])
  const rowGroups = metadata.row_groups.map((g) => Number(g.num_rows))
  const columns = []
  metadata.row_groups.forEach((g, i) => g.columns.forEach((c) => columns.push({
    row_group: i, path: c.meta_data?.path_in_schema.join('.'), codec: c.meta_data?.codec, encodings: c.meta_data?.encodings,
    encoding_stats: c.meta_data?.encoding_stats,
  })))
  // read with DECIMAL stripped and INT96 read as its 12 raw bytes (hyparquet mixes a negative
  // nanosecond-of-day into the day); the original schema drives the rendering
  const readSchema = metadata.schema.map((e, i) => {
    if (e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL')
      return { ...e, converted_type: undefined, logical_type: undefined, scale: undefined, precision: undefined }
    if (e.type === 'INT96') return { ...e, type: 'FIXED_LEN_BYTE_ARRAY', type_length: 12 }
    return e
  })
  const readMeta = { ...metadata, schema: readSchema, row_groups: metadata.row_groups.map((g) => ({ ...g,
    columns: g.columns.map((c) => (c.meta_data?.type === 'INT96'
      ? { ...c, meta_data: { ...c.meta_data, type: 'FIXED_LEN_BYTE_ARRAY' } } : c)) })) }
  const tree = schemaTree(metadata.schema)
  const rows = await parquetReadObjects({ file: ab, metadata: readMeta, compressors, parsers: rawParsers, utf8: false })
  const out = rows.map((r) => {
    const o = {}
    for (const c of tree.children) o[c.e.name] = hypRender(r[c.e.name], c)
    return o
  })
  return { reader: 'hyparquet', schema, kv, arrow_schema: await arrowSchema(kv), row_groups: rowGroups, columns, rows: out }
}

export async function readWith(reader, file) {
  return reader === 'duckdb' ? readDuckDB(file) : readHyparquet(file)
}
