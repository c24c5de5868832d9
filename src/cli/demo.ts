import type { CommandModule } from 'yargs'

export const demoCommand: CommandModule = {
  command: 'demo',
  describe: 'run the canary lab on this machine (simpleservice 0.9 x3, 1.0 x1, proxy on :8080 at 80/20)',
  handler: async () => {
    throw new Error('not implemented yet')
  },
}
