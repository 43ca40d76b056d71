// Runs SQL statements with DuckDB (an independent Parquet implementation, the tests' oracle) and
// prints the last statement's rows as JSON Lines (BigInt as numbers, timestamps and lists as DuckDB's
// JSON values).
//   node duckdb_sql.mjs 'SQL' ['SQL' ...]
// The packages are deploy/deps.sh's, in tests/parquet/node_modules (OPTOUT_NODE_MODULES elsewhere).
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const modules = process.env.OPTOUT_NODE_MODULES ?? fileURLToPath(new URL('./node_modules', import.meta.url))
const { DuckDBInstance } = createRequire(join(modules, 'index.js'))('@duckdb/node-api')

const instance = await DuckDBInstance.create(':memory:')
const conn = await instance.connect()
let reader
for (const sql of process.argv.slice(2)) reader = await conn.runAndReadAll(sql)
if (reader) {
  for (const row of reader.getRowObjectsJson()) process.stdout.write(JSON.stringify(row) + '\n')
}
