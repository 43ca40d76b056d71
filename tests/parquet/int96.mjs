// INT96 Parquet files for the tests (neither DuckDB nor hyparquet-writer writes the type):
// hyparquet-writer writes a FIXED_LEN_BYTE_ARRAY(12) column, whose PLAIN and dictionary encodings
// are byte for byte those of INT96, then its footer is rewritten with the type INT96 (statistics
// dropped, as they would order differently).
//
// Used by make_fixtures.mjs, and as a command:
//   node int96.mjs OUT.parquet URL=NANOS...   (NANOS: nanoseconds since 1970 as an integer, or null)
// writes a file of two optional columns, url (STRING) and date (INT96), one row per argument.
import { writeFileSync } from 'node:fs'
import { ByteWriter, parquetWriteBuffer } from 'hyparquet-writer'
import { parquetMetadata } from 'hyparquet'

const { writeMetadata } = await import(new URL('./node_modules/hyparquet-writer/src/metadata.js', import.meta.url))

// The 12 bytes of an INT96 timestamp: nanoseconds of the day, then the Julian day number.
export function int96(nanos) {
  const day = 86400000000000n
  let days = nanos / day
  let rem = nanos % day
  if (rem < 0n) { rem += day; days -= 1n }
  const b = new Uint8Array(12)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, BigInt.asUintN(64, rem), true)
  v.setInt32(8, Number(days + 2440588n), true)
  return b
}

// A file of url (STRING) and date (INT96) columns; nanos: BigInt or null per row.
export function writeInt96File(path, url, nanos, { encoding = 'PLAIN', codec = 'SNAPPY', rowGroupSize = 300 } = {}) {
  const buf = new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: 'url', data: url },
      { name: 'date', data: nanos.map((x) => (x === null ? null : int96(x))), encoding },
    ],
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'url', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'date', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 12, repetition_type: 'OPTIONAL' },
    ],
    codec, rowGroupSize, pageSize: 2048, statistics: false,
  }))
  const footerLen = new DataView(buf.buffer).getUint32(buf.length - 8, true)
  const metadata = parquetMetadata(buf.buffer)
  metadata.schema[2] = { name: 'date', type: 'INT96', repetition_type: 'OPTIONAL' }
  for (const g of metadata.row_groups) for (const c of g.columns) if (c.meta_data.path_in_schema[0] === 'date') c.meta_data.type = 'INT96'
  delete metadata.metadata_length
  const w = new ByteWriter()
  w.appendBytes(buf.subarray(0, buf.length - 8 - footerLen))
  writeMetadata(w, metadata)
  w.appendUint32(0x31524150)
  writeFileSync(path, new Uint8Array(w.getBuffer()))
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const [out, ...rows] = process.argv.slice(2)
  const pairs = rows.map((r) => { const i = r.lastIndexOf('='); return [r.slice(0, i), r.slice(i + 1)] })
  writeInt96File(out, pairs.map(([u]) => u), pairs.map(([, n]) => (n === 'null' ? null : BigInt(n))))
}
