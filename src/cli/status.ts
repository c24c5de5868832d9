import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import type { ClusterView } from '../control/cluster.js'
import type { ServiceView } from '../control/status.js'
import { AdminClient, adminOptions, formatWeights } from './admin-client.js'
import { CliError } from './errors.js'

function builder(yargs: Argv) {
  return adminOptions(yargs)
    .positional('SERVICE', { type: 'string', describe: 'only this service' })
    .example('$0 status', 'every service: groups, weights, instances and their health')
}

type StatusArgs = ReturnType<typeof builder> extends Argv<infer T> ? T : never

/** Columns padded to their widest cell; two spaces between columns. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
}

function percent(share: number): string {
  return `${(share * 100).toFixed(share === 0 || share === 1 ? 0 : 1)}%`
}

function cutoverLine(view: ServiceView): string | undefined {
  const cutover = view.cutover
  if (cutover === null) return undefined
  const head = `cut-over to ${cutover.to} (revision ${cutover.revision}, from ${cutover.from.join(', ') || 'nothing'})`
  if (cutover.phase === 'draining') return `${head}: draining, ${cutover.inflight} requests in flight on the old side, deadline ${cutover.drainSeconds} s`
  const counts = cutover.counts
  if (counts === undefined) return `${head}: ${cutover.phase}`
  const what = { drained: 'drained', deadline: 'deadline reached', superseded: 'superseded by a later change' }[cutover.phase]
  return `${head}: ${what}; ${counts.completed} of ${counts.inflightAtStart} in-flight requests completed, ${counts.cut} cut`
}

/** The readable report of one service. */
export function formatService(view: ServiceView): string {
  const lines = [`${view.name}  revision ${view.revision}  weights ${formatWeights(view.weights)}`]
  if (view.configWeights !== undefined) {
    lines.push(`  weights from the state store; the config file says ${formatWeights(view.configWeights)}`)
  }
  lines.push(
    ...table([
      ['GROUP', 'WEIGHT', 'SHARE', 'OF REQUESTS', 'OF CLIENTS', 'INSTANCES'],
      ...view.groups.map((group) => {
        const live = group.instances.filter((instance) => instance.live).length
        let instances = `${live} of ${group.instances.length} live`
        if (group.discovery !== undefined) {
          instances += `  (SRV ${group.discovery.srv}${group.discovery.lastFailure ? `: ${group.discovery.lastFailure}` : ''})`
        }
        const observed = group.observed ?? null
        const requests = observed?.requests == null ? '-' : percent(observed.requests)
        const clients = observed?.clients == null ? '-' : `${percent(observed.clients)} (${observed.clientCount})${observed.drifting ? ' drifting' : ''}`
        return [group.name, String(group.weight), percent(group.share), requests, clients, instances]
      }),
    ]),
  )
  const window = view.observedShare ?? null
  if (window !== null) {
    const judged = window.judged ? '' : ' (not judged for drift yet: too few clients or less than a window at these weights)'
    lines.push(`  observed over the last ${Math.round(window.seconds)} of ${window.windowSeconds} s${judged}`)
  }
  const instances = view.groups.flatMap((group) =>
    group.instances.map((instance) => [instance.instance, group.name, instance.state, instance.live ? 'yes' : 'no', String(instance.inflight)]),
  )
  if (instances.length > 0) {
    lines.push('', ...table([['INSTANCE', 'GROUP', 'HEALTH', 'LIVE', 'IN FLIGHT'], ...instances]))
  }
  const cutover = cutoverLine(view)
  if (cutover !== undefined) lines.push('', `  ${cutover}`)
  const last = view.history[view.history.length - 1]
  if (last !== undefined) {
    const reason = last.reason === undefined ? '' : ` (${last.reason})`
    lines.push('', `  last change: ${last.kind} at ${last.time}, revision ${last.revision}${reason}`)
  }
  return lines.join('\n')
}

/** The replicas sharing the state, when it is shared (etcd); undefined otherwise. */
function formatCluster(view: ClusterView): string | undefined {
  if (view.store !== 'etcd') return undefined
  let head = `replicas: ${view.replicas.length} on etcd, store revision ${view.storeRevision}`
  if (!view.connected) head += `; etcd unreachable (${view.lastError ?? 'connecting'}): changes are refused, routing stays as it is`
  if (view.source !== 'store') head += `; this replica serves ${view.source === 'cache' ? 'its cached state' : 'the config\'s weights'} until etcd is back`
  const rows = view.replicas.map((replica) => [
    replica.self ? `${replica.id} (this)` : replica.id,
    String(replica.appliedRevision),
    replica.lastSeen,
    replica.lagging ? `lagging ${view.storeRevision - replica.appliedRevision} revisions behind` : '',
  ])
  return [head, ...table([['REPLICA', 'APPLIED', 'LAST SEEN', ''], ...rows]).map((line) => line.trimEnd())].join('\n')
}

/** The cluster view, or undefined from a proxy without `/v1/cluster` (an older one). */
async function clusterOf(client: AdminClient): Promise<ClusterView | undefined> {
  try {
    return await client.get<ClusterView>('/v1/cluster')
  } catch (error) {
    if (error instanceof CliError && /\(404 /.test(error.message)) return undefined
    throw error
  }
}

async function handler(argv: ArgumentsCamelCase<StatusArgs>): Promise<void> {
  const client = new AdminClient({ admin: argv.admin, token: argv.token })
  const cluster = await clusterOf(client)
  const clusterText = cluster === undefined ? undefined : formatCluster(cluster)
  if (argv.SERVICE !== undefined) {
    const view = await client.get<ServiceView>(`/v1/services/${encodeURIComponent(argv.SERVICE)}`)
    process.stdout.write(argv.json ? `${JSON.stringify(view)}\n` : `${[formatService(view), clusterText].filter(Boolean).join('\n\n')}\n`)
    return
  }
  const all = await client.get<{ revision: number; services: ServiceView[] }>('/v1/services')
  const json = cluster === undefined ? all : { ...all, cluster }
  process.stdout.write(argv.json ? `${JSON.stringify(json)}\n` : `${[...all.services.map(formatService), clusterText].filter(Boolean).join('\n\n')}\n`)
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status [SERVICE]',
  describe: 'services, groups, weights, instances and their health, from the admin API',
  builder,
  handler,
}
