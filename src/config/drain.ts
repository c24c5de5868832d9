/**
 * How long a stop (or a rolling restart) lets in-flight requests finish: the longest
 * `drainSeconds` of the services, and at least a second.
 */
export function longestDrainMs(services: readonly { readonly drainSeconds: number }[]): number {
  return Math.max(1_000, ...services.map((service) => service.drainSeconds * 1000))
}
