import { existsSync, readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { renderConfig, startDnsmasq } from '../../helpers/dnsmasq.js'
import { stopAll } from '../../helpers/processes.js'

afterAll(() => stopAll())

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
const confFileOf = (pid: number) =>
  readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((arg) => arg.startsWith('--conf-file='))!.slice('--conf-file='.length)

describe('test helper: dnsmasq', () => {
  it('restarts on the same port with new records, and cleans up its process and files', async () => {
    const dns = await startDnsmasq({ srv: [{ name: '_a._tcp.marathon.mesos', target: 'a.marathon.mesos', port: 1 }] })
    const first = dns.pid!
    const firstConf = confFileOf(first)
    expect(readFileSync(firstConf, 'utf8')).toContain('srv-host=_a._tcp.marathon.mesos,a.marathon.mesos,1,0,0')

    await dns.setRecords({ hosts: [{ name: 'b.marathon.mesos', addresses: ['127.0.0.1', '::1'] }] })
    const second = dns.pid!
    expect(second).not.toBe(first)
    expect(alive(first)).toBe(false)
    expect(existsSync(firstConf)).toBe(false)
    expect(dns.server).toBe(`127.0.0.1:${dns.port}`)
    expect(dns.output()).toContain(`started, version`)

    const secondConf = confFileOf(second)
    await dns.stop()
    await dns.stop()
    expect(dns.pid).toBeUndefined()
    expect(alive(second)).toBe(false)
    expect(existsSync(secondConf)).toBe(false)
  })

  it('renders Mesos-DNS style records and refuses values that would break a config line', () => {
    expect(renderConfig({ srv: [{ name: '_x._tcp.marathon.mesos', target: 'x-1.marathon.mesos', port: 31005 }], ttlSeconds: 5 })).toBe(
      'local=/mesos/\nlocal-ttl=5\nsrv-host=_x._tcp.marathon.mesos,x-1.marathon.mesos,31005,0,0\n',
    )
    expect(() => renderConfig({ hosts: [{ name: 'a\nserver=8.8.8.8', addresses: ['127.0.0.1'] }] })).toThrow('not a DNS name')
  })
})
