/**
 * An exchange's claim on the instance it is sent to: counted in the instance's load (`inflight`)
 * while assigned, and, while sending, holding one of its connection slots (upstream/slots.ts).
 * Kept apart from the exchange's streaming so each part reads on its own; one object per request.
 */
import type { Instance } from '../upstream/instance.js'
import type { SlotWaiter } from '../upstream/slots.js'

export abstract class InstanceClaim implements SlotWaiter {
  protected instance: Instance
  /** Counted in the instance's inflight. */
  protected assigned = false
  /** Holds one of its connection slots: the request is (being) sent. */
  protected sending = false
  protected clientGone = false

  constructor(first: Instance) {
    this.instance = first
  }

  /** The attempt can be sent now. */
  protected abstract send(): void
  /** `instance` had no room (or no free slot in time): go elsewhere or answer. */
  protected abstract overflow(full: Instance, why: string): void
  /** The group the claim picks another instance from when its own is gone. */
  protected abstract pickAnother(): Instance | undefined

  /** Takes a connection slot of `instance`, waits for one, or goes elsewhere when it has no room. */
  protected assign(instance: Instance): void {
    // A request that waited for its turn may find its instance gone since.
    if (instance.draining) instance = this.pickAnother() ?? instance
    this.instance = instance
    this.assigned = true
    instance.inflight++
    const slot = instance.slots.acquire(this)
    if (slot === 'now') {
      this.sending = true
      this.send()
    } else if (slot === 'full') this.#leave('at its connection and queue limits')
  }

  admitted(): void {
    this.sending = true
    if (this.clientGone) this.release()
    else this.send()
  }

  expired(): void {
    this.#leave('no free connection in time')
  }

  #leave(why: string): void {
    const full = this.instance
    this.unassign()
    this.overflow(full, why)
  }

  /** The attempt is over: its slot goes to the next waiter, its load off the instance. */
  protected release(): void {
    if (!this.assigned) return
    const instance = this.instance
    this.unassign()
    if (this.sending) {
      this.sending = false
      instance.slots.release()
    }
  }

  /** Off the instance's load; a place in its queue is given up. */
  protected unassign(): void {
    if (!this.assigned) return
    this.assigned = false
    this.instance.inflight--
    if (!this.sending) this.instance.slots.cancel(this)
  }
}
