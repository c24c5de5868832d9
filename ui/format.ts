/** How figures read on the page; pure. A dash stands for "no data". */

const DASH = '–'

/** 0.2031 → "20.3 %". */
export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? DASH : `${(value * 100).toFixed(digits)} %`
}

/** Seconds → "3.2 ms" / "1.25 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH
  if (seconds === 0) return '0 ms'
  return seconds < 1 ? `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms` : `${seconds.toFixed(2)} s`
}

/** Requests per second: one decimal below 100. */
export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH
  return value < 100 ? value.toFixed(1) : String(Math.round(value))
}

/** Weights as the CLI writes them: "0.9=80 1.0=20". */
export function weightsText(weights: Readonly<Record<string, number>>): string {
  return Object.entries(weights)
    .map(([group, weight]) => `${group}=${weight}`)
    .join(' ')
}

/** An ISO or epoch-ms time as the local wall-clock time, "14:03:07". */
export function clock(time: string | number): string {
  const date = new Date(time)
  return Number.isNaN(date.getTime()) ? String(time) : date.toLocaleTimeString([], { hour12: false })
}
