// Reads Parquet files with the independent oracles (DuckDB, hyparquet) in the canonical form described
// in oracle.mjs.
//   node dump.mjs [--reader duckdb|hyparquet] FILE         rows as JSON Lines on stdout
//   node dump.mjs --schema [--reader duckdb|hyparquet] FILE  schema, key-value metadata, row groups (JSON)
//   node dump.mjs --batch OUTDIR LIST                      LIST: lines "ID<TAB>PATH"; writes
//       OUTDIR/ID.duckdb.jsonl and OUTDIR/ID.hyparquet.jsonl: a first line {"meta": ...} or
//       {"error": "..."} then the rows. One process for many files: DuckDB loads once.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson, readWith } from './oracle.mjs'

const READERS = ['duckdb', 'hyparquet']
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e })

function usage(msg) {
  process.stderr.write(`dump.mjs: ${msg}\nusage: node dump.mjs [--schema] [--reader duckdb|hyparquet] FILE | --batch OUTDIR LIST\n`)
  process.exit(2)
}

async function render(reader, file) {
  try {
    const r = await readWith(reader, file)
    const { rows, ...meta } = r
    return [canonicalJson({ meta }), ...rows.map(canonicalJson)].join('\n') + '\n'
  } catch (e) {
    return canonicalJson({ error: String(e?.message ?? e).split('\n')[0] }) + '\n'
  }
}

const args = process.argv.slice(2)
if (args[0] === '--batch') {
  if (args.length !== 3) usage('--batch takes OUTDIR LIST')
  const [, outdir, list] = args
  mkdirSync(outdir, { recursive: true })
  for (const line of readFileSync(list, 'utf8').split('\n')) {
    if (!line) continue
    const [id, path] = line.split('\t')
    for (const reader of READERS) writeFileSync(join(outdir, `${id}.${reader}.jsonl`), await render(reader, path))
  }
} else {
  let reader = 'duckdb'
  let schemaOnly = false
  const files = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--reader') { reader = args[++i]; if (!READERS.includes(reader)) usage(`unknown reader ${reader}`) }
    else if (args[i] === '--schema') schemaOnly = true
    else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`)
    else files.push(args[i])
  }
  if (files.length !== 1) usage('one FILE')
  let r
  try { r = await readWith(reader, files[0]) } catch (e) {
    process.stderr.write(`dump.mjs: ${reader}: ${files[0]}: ${e?.message ?? e}\n`)
    process.exit(1)
  }
  if (schemaOnly) {
    const { rows, ...meta } = r
    process.stdout.write(JSON.stringify(meta, null, 1) + '\n')
  } else {
    for (const row of r.rows) process.stdout.write(canonicalJson(row) + '\n')
  }
}
