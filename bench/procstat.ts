/**
 * Memory and CPU of a process tree from /proc: RSS polled during a run (peak and end), CPU time as
 * the utime + stime delta over the run.
 */
import { readFileSync } from 'node:fs'

/** Clock ticks per second for /proc/PID/stat (USER_HZ; 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100

interface ProcReading {
  rssKiB: number
  hwmKiB: number
  cpuTicks: number
}

function readProc(pid: number): ProcReading | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name: state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {
      rssKiB: kib(status, 'VmRSS:'),
      hwmKiB: kib(status, 'VmHWM:'),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
    }
  } catch {
    return undefined
  }
}

function kib(status: string, label: string): number {
  const at = status.indexOf(label)
  if (at < 0) return 0
  return Number.parseInt(status.slice(at + label.length).trim(), 10) || 0
}

/** What one process tree used during one load run. */
export interface ProcUsage {
  /** Highest RSS seen while polling (MiB, summed over the tree). */
  readonly peakRssMiB: number
  /** RSS when the run ended (MiB). */
  readonly endRssMiB: number
  /** Kernel high-water mark of RSS since start (MiB, summed over the tree). */
  readonly hwmMiB: number
  /** CPU seconds used during the run. */
  readonly cpuSeconds: number
  /** CPU use as a share of one core (1 = one core busy for the whole run). */
  readonly cpuCores: number
}

/**
 * Polls a process tree every `intervalMs` from start() to stop(). CPU is counted per process, from
 * its first to its last reading, so a worker that exits mid-run (a rolling restart) keeps what it
 * used up to the last poll instead of vanishing from the total.
 */
export class ProcSampler {
  #timer: NodeJS.Timeout | undefined
  #startedAt = 0n
  #peakKiB = 0
  /** Per PID: CPU ticks at its first and latest reading during the run. */
  readonly #ticks = new Map<number, { first: number; last: number }>()

  constructor(
    private readonly pids: () => readonly number[],
    private readonly intervalMs = 100,
  ) {}

  /** Reads every process of the tree once; returns the summed reading. */
  #poll(startOfRun: boolean): ProcReading {
    const total: ProcReading = { rssKiB: 0, hwmKiB: 0, cpuTicks: 0 }
    for (const pid of this.pids()) {
      const reading = readProc(pid)
      if (reading === undefined) continue
      total.rssKiB += reading.rssKiB
      total.hwmKiB += reading.hwmKiB
      const ticks = this.#ticks.get(pid)
      // A process born during the run used all its ticks within it.
      if (ticks === undefined) this.#ticks.set(pid, { first: startOfRun ? reading.cpuTicks : 0, last: reading.cpuTicks })
      else ticks.last = reading.cpuTicks
    }
    return total
  }

  start(): void {
    this.#ticks.clear()
    const first = this.#poll(true)
    this.#peakKiB = first.rssKiB
    this.#startedAt = process.hrtime.bigint()
    this.#timer = setInterval(() => {
      const now = this.#poll(false)
      if (now.rssKiB > this.#peakKiB) this.#peakKiB = now.rssKiB
    }, this.intervalMs)
  }

  stop(): ProcUsage {
    clearInterval(this.#timer)
    const end = this.#poll(false)
    const seconds = Number(process.hrtime.bigint() - this.#startedAt) / 1e9
    let usedTicks = 0
    for (const ticks of this.#ticks.values()) usedTicks += ticks.last - ticks.first
    const cpuSeconds = usedTicks / TICKS_PER_SECOND
    return {
      peakRssMiB: Math.max(this.#peakKiB, end.rssKiB) / 1024,
      endRssMiB: end.rssKiB / 1024,
      hwmMiB: end.hwmKiB / 1024,
      cpuSeconds,
      cpuCores: seconds > 0 ? cpuSeconds / seconds : 0,
    }
  }
}
