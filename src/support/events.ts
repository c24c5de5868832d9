import { EventEmitter } from 'node:events'

/** Event types, named as on Marathon's event bus (`eventType`); the admin API streams them on `/v1/events`. */
export type ZddEventType =
  | 'weights_changed'
  | 'cutover_started'
  | 'cutover_completed'
  | 'rollback'
  | 'instance_added'
  | 'instance_removed'
  | 'health_changed'
  | 'discovery_error'
  | 'rollout_started'
  | 'rollout_step'
  | 'rollout_paused'
  | 'rollout_resumed'
  | 'rollout_failed'
  | 'rollout_aborted'
  | 'rollout_completed'
  | 'split_drift'
  | 'split_drift_ended'

/** One event: its type, ISO timestamp, and a flat JSON payload. */
export interface ZddEvent {
  readonly eventType: ZddEventType
  readonly timestamp: string
  readonly [field: string]: unknown
}

/**
 * The in-process event bus. Facts (discovery, health) and the control plane publish; the SSE
 * endpoint and the log subscribe. Publishing never throws into the publisher.
 */
export class EventBus {
  readonly #emitter = new EventEmitter()

  constructor() {
    this.#emitter.setMaxListeners(0)
  }

  publish(eventType: ZddEventType, payload: Record<string, unknown>): ZddEvent {
    const event: ZddEvent = { eventType, timestamp: new Date().toISOString(), ...payload }
    try {
      this.#emitter.emit('event', event)
    } catch {
      // A failing subscriber must not break the publisher.
    }
    return event
  }

  subscribe(listener: (event: ZddEvent) => void): () => void {
    this.#emitter.on('event', listener)
    return () => this.#emitter.off('event', listener)
  }
}
