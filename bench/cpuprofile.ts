/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile DIR`): self time by function and by
 * file, so the hot path's own share is visible next to Node's and undici's.
 * Usage: node dist/bench/cpuprofile.js FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
}

/** Shortens a script URL to what identifies it: our files from dist/, packages by name, node internals. */
function place(url: string): string {
  if (url === '') return '(native)'
  const dist = url.indexOf('/dist/')
  if (dist >= 0) return url.slice(dist + 6)
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) return url.slice(modules + 14)
  return url.replace(/^node:/, 'node:')
}

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/cpuprofile.js FILE.cpuprofile [TOP]\n')
  process.exit(2)
}
const top = Number(topArg ?? 40)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const hits = new Map<number, number>()
for (const sample of profile.samples) hits.set(sample, (hits.get(sample) ?? 0) + 1)
const total = profile.samples.length
let idle = 0
const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
for (const [id, count] of hits) {
  const frame = byId.get(id)!.callFrame
  if (frame.functionName === '(idle)') {
    idle += count
    continue
  }
  const where = place(frame.url)
  const key = `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + count)
  const fileKey = where.startsWith('node:') ? where : where.split(':')[0]!
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + count)
}
const busy = total - idle
const pct = (count: number): string => `${((100 * count) / busy).toFixed(1).padStart(5)}%`
const lines: string[] = [`${total} samples, ${((100 * idle) / total).toFixed(1)}% idle; shares below are of the busy samples`, '', 'self time by function']
for (const [key, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(count)}  ${key}`)
lines.push('', 'self time by file')
for (const [key, count] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(count)}  ${key}`)
process.stdout.write(`${lines.join('\n')}\n`)
