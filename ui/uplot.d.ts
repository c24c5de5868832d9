import type UPlot from 'uplot'

declare global {
  /** uPlot, loaded by a classic script from /ui/vendor/ (copied from the uplot package at build time). */
  const uPlot: typeof UPlot
}
