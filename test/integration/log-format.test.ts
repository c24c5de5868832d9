import { afterAll, describe, expect, it } from 'vitest'
import { startCli, stopAll } from '../helpers/processes.js'
import { removeTempFiles, serviceConfig, writeConfig } from '../helpers/proxy.js'

describe('log format', () => {
  afterAll(async () => {
    await stopAll()
    removeTempFiles()
  })

  const config = () => writeConfig(serviceConfig({ a: ['127.0.0.1:9'] }, { a: 1 }))

  it('prints readable lines with ZDD_LOG_FORMAT=pretty (as on a terminal), JSON lines otherwise', async () => {
    const pretty = await startCli(['serve', '--config', config()], { waitFor: /INFO.*proxy listening/, env: { ZDD_LOG_FORMAT: 'pretty' } })
    const line = pretty.output().split('\n').find((text) => text.includes('proxy listening'))!
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(zdd-proxy\): proxy listening/)
    expect(pretty.output()).toMatch(/^ {4}event: "listening"$/m)
    await pretty.stop()

    const json = await startCli(['serve', '--config', config()], { waitFor: /"event":"listening"/ })
    for (const text of json.output().trim().split('\n')) expect(() => JSON.parse(text)).not.toThrow()
    await json.stop()
  })
})
