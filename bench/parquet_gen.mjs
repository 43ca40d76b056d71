// Writes FineWeb-shaped JSON Lines (stdin, tools/gen-corpus --style fineweb) as one Parquet file laid
// out as datatrove's ParquetWriter lays out FineWeb: FineWeb's nine columns in FineWeb's order,
// snappy, dictionary encoding where it pays, row groups of 1,000 rows. The writer is
// hyparquet-writer (pure JavaScript; it writes data page v2), so the benchmark's input comes from an
// implementation independent of ours and of DuckDB, the baseline it is timed against.
//   zstd -dc x.jsonl.zst | node bench/parquet_gen.mjs OUT.parquet [ROWS_PER_GROUP]
// The packages are deploy/deps.sh's, in tests/parquet/node_modules (OPTOUT_NODE_MODULES elsewhere).
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const modules = process.env.OPTOUT_NODE_MODULES ??
  fileURLToPath(new URL('../tests/parquet/node_modules', import.meta.url))
const hw = await import(join(modules, 'hyparquet-writer', 'src', 'node.js'))

const [out, groupArg] = process.argv.slice(2)
if (!out) {
  process.stderr.write('usage: node bench/parquet_gen.mjs OUT.parquet [ROWS_PER_GROUP] < corpus.jsonl\n')
  process.exit(2)
}
const GROUP = Number(groupArg ?? 1000)
const BATCH = GROUP * 20 // rows handed to the writer at once (it splits them into row groups)

// FineWeb's schema (datatrove): everything a string but the score and the token count.
const COLUMNS = [
  ['text', 'STRING'], ['id', 'STRING'], ['dump', 'STRING'], ['url', 'STRING'], ['date', 'STRING'],
  ['file_path', 'STRING'], ['language', 'STRING'], ['language_score', 'DOUBLE'], ['token_count', 'INT64'],
]
const batch = () => COLUMNS.map(() => [])
const columnData = (cols) => COLUMNS.map(([name, type], i) => ({ name, type, data: cols[i] }))

const writer = hw.fileWriter(out)
const pq = new hw.ParquetWriter({
  writer,
  schema: hw.schemaFromColumnData({ columnData: columnData(batch()) }),
  codec: 'SNAPPY',
  createdBy: 'optout bench/parquet_gen.mjs (hyparquet-writer)',
})
let cols = batch()
let rows = 0
let lines = 0
const flush = async () => {
  if (cols[0].length === 0) return
  const pending = pq.write({ columnData: columnData(cols), rowGroupSize: GROUP })
  if (pending) await pending
  rows += cols[0].length
  cols = batch()
}
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  lines++
  let d
  try {
    d = JSON.parse(line)
  } catch {
    continue // gen-corpus's bad lines (if any): not rows
  }
  if (d === null || typeof d !== 'object') continue
  for (let i = 0; i < COLUMNS.length; i++) {
    const [name, type] = COLUMNS[i]
    const v = d[name]
    if (v === undefined || v === null) cols[i].push(null)
    else if (type === 'INT64') cols[i].push(Number.isInteger(v) ? BigInt(v) : null)
    else if (type === 'DOUBLE') cols[i].push(typeof v === 'number' ? v : null)
    else cols[i].push(typeof v === 'string' ? v : JSON.stringify(v))
  }
  if (cols[0].length >= BATCH) await flush()
}
await flush()
await pq.finish()
process.stderr.write(`parquet_gen: ${rows} rows of ${lines} lines in row groups of ${GROUP} -> ${out}\n`)
