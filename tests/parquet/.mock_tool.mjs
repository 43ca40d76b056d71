// harness check only (not committed): a stand-in parquet_tool built from the oracles
import { canonicalJson, readHyparquet, duckQuery } from './oracle.mjs'
const [cmd, ...a] = process.argv.slice(2)
const q = (s) => "'" + s.replaceAll("'", "''") + "'"
try {
  if (cmd === 'dump') {
    const r = await readHyparquet(a[0])
    for (const row of r.rows) process.stdout.write(canonicalJson(row) + '\n')
  } else if (cmd === 'filter') {
    const [inp, out, ...o] = a
    let drop = [], every = 0, codec = 'zstd', removed = null
    for (let i = 0; i < o.length; i++) {
      if (o[i] === '--drop') drop = o[++i].split(',').map(Number)
      else if (o[i] === '--drop-every') every = Number(o[++i])
      else if (o[i] === '--codec') codec = o[++i]
      else if (o[i] === '--removed-col') removed = o[++i]
    }
    const c = { none: 'uncompressed', lz4: 'lz4_raw' }[codec] ?? codec
    let where = 'true'
    if (drop.length) where = `rn NOT IN (${drop.join(',')})`
    if (every) where = `rn % ${every} <> ${every - 1}`
    const extra = removed ? `, ${q('[' + removed.split(',').map((x) => '"' + x + '"').join(',') + ']')}::VARCHAR[] AS disallowed_user_agents` : ''
    await duckQuery(`COPY (SELECT * EXCLUDE (rn)${extra} FROM (SELECT *, row_number() OVER () - 1 AS rn FROM read_parquet(${q(inp)})) WHERE ${where} ORDER BY rn) TO ${q(out)} (FORMAT parquet, COMPRESSION ${c})`)
  } else { process.stderr.write('usage\n'); process.exit(2) }
} catch (e) { process.stderr.write(`mock: ${e.message}\n`); process.exit(1) }
