import type { CommandModule } from 'yargs'

export const serveCommand: CommandModule = {
  command: 'serve',
  describe: 'run the proxy listeners and the admin listener',
  handler: async () => {
    throw new Error('not implemented yet')
  },
}
