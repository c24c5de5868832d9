import type { CommandModule } from 'yargs'

export const canaryCheckCommand: CommandModule = {
  command: 'canary-check URL [CLIENTS]',
  describe: 'measure which version CLIENTS distinct clients see',
  handler: async () => {
    throw new Error('not implemented yet')
  },
}
