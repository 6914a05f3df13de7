// A media worker's LegObserver: gathers a second's observations for the `stats` message, and applies such a batch to
// the main thread's observer on receipt.
import type { LatencyPath } from '../media/index.js';
import type { LegObserver } from './types.js';
import type { ObservedBatch } from './worker-messages.js';

/** Latency observations kept per path and second (a full worker makes ~50 a second per call and path); the rest are counted. */
export const MAX_LATENCY_SAMPLES = 100_000;

const PATHS: readonly LatencyPath[] = ['caller_to_bot', 'bot_to_caller'];

export class ObserverBatch implements LegObserver {
  #botConnectMs: number[] = [];
  #dtmf = { caller_to_bot: 0, bot_to_caller: 0 };
  #recordingErrors = 0;
  #latency = { caller_to_bot: new Float32Array(1024), bot_to_caller: new Float32Array(1024) };
  #latencyCount = { caller_to_bot: 0, bot_to_caller: 0 };
  #latencyDropped = 0;

  botConnected(ms: number): void {
    this.#botConnectMs.push(ms);
  }

  dtmf(direction: 'caller_to_bot' | 'bot_to_caller'): void {
    this.#dtmf[direction]++;
  }

  latency(path: LatencyPath, ms: number): void {
    const count = this.#latencyCount[path];
    if (count === MAX_LATENCY_SAMPLES) {
      this.#latencyDropped++;
      return;
    }
    let samples = this.#latency[path];
    if (count === samples.length) {
      const grown = new Float32Array(Math.min(MAX_LATENCY_SAMPLES, samples.length * 2));
      grown.set(samples);
      samples = this.#latency[path] = grown;
    }
    samples[count] = ms;
    this.#latencyCount[path] = count + 1;
  }

  recordingError(): void {
    this.#recordingErrors++;
  }

  /** What was observed since the last take, and the buffers to transfer with it; starts a new batch. */
  take(): { batch: ObservedBatch; transfer: ArrayBuffer[] } {
    const latency = {
      caller_to_bot: this.#latency.caller_to_bot.slice(0, this.#latencyCount.caller_to_bot),
      bot_to_caller: this.#latency.bot_to_caller.slice(0, this.#latencyCount.bot_to_caller),
    };
    const batch: ObservedBatch = {
      botConnectMs: this.#botConnectMs,
      dtmf: this.#dtmf,
      recordingErrors: this.#recordingErrors,
      latency,
      latencyDropped: this.#latencyDropped,
    };
    this.#botConnectMs = [];
    this.#dtmf = { caller_to_bot: 0, bot_to_caller: 0 };
    this.#recordingErrors = 0;
    this.#latencyCount = { caller_to_bot: 0, bot_to_caller: 0 };
    this.#latencyDropped = 0;
    return { batch, transfer: PATHS.map((path) => latency[path].buffer as ArrayBuffer) };
  }
}

/** Passes a worker's batch on to the main thread's observer, one call per observation as an in-process host would (the
 * dropped latency observations as one count). */
export function applyBatch(observer: LegObserver, batch: ObservedBatch): void {
  for (const ms of batch.botConnectMs) observer.botConnected(ms);
  for (let i = 0; i < batch.dtmf.caller_to_bot; i++) observer.dtmf('caller_to_bot');
  for (let i = 0; i < batch.dtmf.bot_to_caller; i++) observer.dtmf('bot_to_caller');
  for (let i = 0; i < batch.recordingErrors; i++) observer.recordingError?.();
  for (const path of PATHS) for (const ms of batch.latency[path]) observer.latency(path, ms);
  if (batch.latencyDropped > 0) observer.latencyDropped?.(batch.latencyDropped);
}
