/**
 * Distinct clients per group, counted in a HyperLogLog sketch (Flajolet et al. 2007) over the
 * sticky key's hash the routing decision already computed. One add is a shift, a count of leading
 * zeros and at most one byte written: no allocation, no hashing of its own. 2^12 one-byte
 * registers give a standard error of 1.6 % in 4 KiB; below 2.5 * 4096 clients linear counting
 * takes over and is closer still.
 *
 *   32 low bits of the key's 53-bit hash:  [ 12 bits: register | 20 bits: rank = leading zeros + 1 ]
 */

/** Bits of the hash that pick a register. */
export const SKETCH_BITS = 12
/** Registers per sketch. */
export const SKETCH_REGISTERS = 1 << SKETCH_BITS

const RANK_BITS = 32 - SKETCH_BITS
/** Ends the rank's bit string, so an all-zero rest counts as RANK_BITS + 1 and never more. */
const RANK_STOP = 1 << (SKETCH_BITS - 1)
const ALPHA = 0.7213 / (1 + 1.079 / SKETCH_REGISTERS)

/** A fresh, empty set of registers. */
export function newSketch(): Uint8Array {
  return new Uint8Array(SKETCH_REGISTERS)
}

/** Counts a client by its key's hash (a number below 2^53 whose low 32 bits are well mixed). */
export function addToSketch(registers: Uint8Array, keyHash: number): void {
  const low = keyHash >>> 0
  const index = low >>> RANK_BITS
  const rank = Math.clz32((low << SKETCH_BITS) | RANK_STOP) + 1
  if (registers[index]! < rank) registers[index] = rank
}

/** Folds `from` into `into` (the union of both sets of clients). */
export function mergeSketch(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < SKETCH_REGISTERS; i++) if (from[i]! > into[i]!) into[i] = from[i]!
}

/** Whether no client was counted. */
export function sketchEmpty(registers: Uint8Array): boolean {
  for (let i = 0; i < SKETCH_REGISTERS; i++) if (registers[i] !== 0) return false
  return true
}

/** The estimated number of distinct clients counted. */
export function estimateSketch(registers: Uint8Array): number {
  let sum = 0
  let zeros = 0
  for (let i = 0; i < SKETCH_REGISTERS; i++) {
    const rank = registers[i]!
    sum += 2 ** -rank
    if (rank === 0) zeros++
  }
  const raw = (ALPHA * SKETCH_REGISTERS * SKETCH_REGISTERS) / sum
  // Small range: linear counting is unbiased and tighter while registers are still empty.
  if (raw <= 2.5 * SKETCH_REGISTERS && zeros > 0) return SKETCH_REGISTERS * Math.log(SKETCH_REGISTERS / zeros)
  return raw
}

/** The registers as base64 (what a worker sends its primary). */
export function encodeSketch(registers: Uint8Array): string {
  return Buffer.from(registers.buffer, registers.byteOffset, registers.byteLength).toString('base64')
}

/** Registers sent by `encodeSketch`; undefined when the text is not a sketch of this size. */
export function decodeSketch(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, 'base64')
  return bytes.length === SKETCH_REGISTERS ? new Uint8Array(bytes) : undefined
}
