// Writes ONE row group of ROWS rows with hyparquet-writer (snappy, data pages of about 1 MiB, as
// pyarrow and parquet-mr cut them), for the tests of what a large row group costs to read:
//   n     INT64   the row number
//   url   STRING  http://shop.example/cart/N on every tenth row (the sample robots.txt disallows
//                 /cart for every agent), http://a.example/N % 1000 elsewhere
//   text  STRING  about 100 bytes, ending in N
// DuckDB cannot be the writer here: it puts a whole row group's strings into one page (100 MB).
//   node big_group.mjs OUT ROWS
// The packages are deploy/deps.sh's, in tests/parquet/node_modules (OPTOUT_NODE_MODULES elsewhere).
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const modules = process.env.OPTOUT_NODE_MODULES ?? fileURLToPath(new URL('./node_modules', import.meta.url))
const { fileWriter, ParquetWriter, schemaFromColumnData } = await import(join(modules, 'hyparquet-writer', 'src', 'node.js'))

const [out, rowsArg] = process.argv.slice(2)
const rows = Number(rowsArg)
if (!out || !(rows > 0)) {
  process.stderr.write('usage: node big_group.mjs OUT ROWS\n')
  process.exit(2)
}
const n = new Array(rows), url = new Array(rows), text = new Array(rows)
const words = 'optout filters the corpus by robots.txt rules before training; every row is one document '
for (let i = 0; i < rows; i++) {
  n[i] = BigInt(i)
  url[i] = i % 10 === 3 ? `http://shop.example/cart/${i}` : `http://a.example/${i % 1000}`
  text[i] = words + i
}
const columnData = [
  { name: 'n', type: 'INT64', data: n },
  { name: 'url', type: 'STRING', data: url },
  { name: 'text', type: 'STRING', data: text },
]
const pq = new ParquetWriter({ writer: fileWriter(out), schema: schemaFromColumnData({ columnData }), codec: 'SNAPPY' })
const pending = pq.write({ columnData, rowGroupSize: rows, pageSize: 1 << 20 })
if (pending) await pending
await pq.finish()
