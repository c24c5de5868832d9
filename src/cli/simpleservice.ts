import type { CommandModule } from 'yargs'

export const simpleserviceCommand: CommandModule = {
  command: 'simpleservice',
  describe: 'run the lab test service (env PORT0, SIMPLE_SERVICE_VERSION, HEALTH_MIN, HEALTH_MAX)',
  handler: async () => {
    throw new Error('not implemented yet')
  },
}
