/**
 * What one open dashboard tab asks of a proxy's admin listener, without a browser: the event
 * stream held open, and `/v1/services` plus each service's series every 2 s (the page's rate), so a
 * benchmark can price the dashboard in the proxy's CPU per request.
 */
import { Agent, request } from 'undici'

/** The page's polling interval (ui/main.ts POLL_MS). */
const POLL_MS = 2_000

export interface DashboardClient {
  /** Rounds of polling done so far. */
  polls(): number
  stop(): Promise<void>
}

async function drain(url: string, agent: Agent, signal?: AbortSignal): Promise<unknown> {
  const response = await request(url, { dispatcher: agent, ...(signal === undefined ? {} : { signal }) })
  const text = await response.body.text()
  if (response.statusCode !== 200) throw new Error(`dashboard client: GET ${url} answered ${response.statusCode}`)
  return JSON.parse(text) as unknown
}

/** Attaches one dashboard's worth of traffic to `adminUrl`; rejects if the first round fails. */
export async function attachDashboard(adminUrl: string): Promise<DashboardClient> {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 4 })
  const abort = new AbortController()
  const events = await request(`${adminUrl}/v1/events`, { dispatcher: agent, signal: abort.signal })
  if (events.statusCode !== 200) throw new Error(`dashboard client: /v1/events answered ${events.statusCode}`)
  events.body.on('data', () => {})
  events.body.on('error', () => {})
  let rounds = 0
  const round = async () => {
    const { services } = (await drain(`${adminUrl}/v1/services`, agent, abort.signal)) as { services: { name: string }[] }
    await Promise.all(services.map((service) => drain(`${adminUrl}/v1/services/${encodeURIComponent(service.name)}/series`, agent, abort.signal)))
    rounds++
  }
  await round()
  const timer = setInterval(() => void round().catch(() => {}), POLL_MS)
  return {
    polls: () => rounds,
    async stop() {
      clearInterval(timer)
      abort.abort()
      await agent.close().catch(() => {})
    },
  }
}
