// The main thread's side of a leg hosted by a media worker: the StreamLeg the call holds, turning its verbs into
// messages and the worker's messages into its events and its report.
import { EventEmitter } from 'node:events';
import type { StopReason, StreamStart } from '../bot/index.js';
import type { MediaFormat } from '../media/index.js';
import type { LegReport, LiveMedia, StreamLeg, StreamLegEvents } from './types.js';
import type { LegEvent, ToWorker } from './worker-messages.js';

export class WorkerLeg extends EventEmitter<StreamLegEvents> implements StreamLeg {
  /** As of the worker's last stats message. */
  live: LiveMedia | undefined;
  #report: Promise<LegReport> | undefined;
  #settle: ((report: LegReport) => void) | undefined;
  /** The worker is gone: nothing more is sent, and the report is what is known. */
  #lost = false;

  constructor(
    readonly id: number,
    readonly port: number,
    readonly botConnectMs: number,
    private readonly send: (message: ToWorker) => void,
  ) {
    super();
  }

  start(format: MediaFormat, start: StreamStart): void {
    this.#send({ type: 'start', id: this.id, format, start: startFields(start) });
  }

  renegotiate(format: MediaFormat): void {
    this.#send({ type: 'renegotiate', id: this.id, format });
  }

  callerDtmf(digit: string, durationMs: number): void {
    this.#send({ type: 'callerDtmf', id: this.id, digit, durationMs });
  }

  sendEvent(name: string, fields: Readonly<Record<string, unknown>>): void {
    this.#send({ type: 'sendEvent', id: this.id, name, fields });
  }

  /** The report of a close under way or done; none before close(). */
  get closing(): Promise<LegReport> | undefined {
    return this.#report;
  }

  close(reason: StopReason): Promise<LegReport> {
    this.#report ??= new Promise<LegReport>((resolve) => {
      if (this.#lost) return resolve({});
      this.#settle = resolve;
      this.send({ type: 'close', id: this.id, reason });
    });
    return this.#report;
  }

  /** An event the worker's leg emitted. */
  deliver(event: LegEvent): void {
    if (this.#lost) return;
    (this.emit as (name: string, ...args: unknown[]) => boolean)(event.name, ...event.args);
  }

  /** The worker's report of the leg's close. */
  closed(report: LegReport): void {
    this.#settle?.(report);
    this.#settle = undefined;
  }

  /**
   * The worker died: a close in progress resolves now (its report died with the worker), and a leg still in use ends
   * (its call sends BYE).
   */
  lost(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    if (this.#settle) return this.closed({});
    if (!this.#report) this.emit('end', { by: 'system', reason });
  }

  #send(message: ToWorker): void {
    if (!this.#lost && !this.#report) this.send(message);
  }
}

/** Only StreamStart's own fields cross to the worker: the object given may carry more (a call spread into it). */
function startFields(start: StreamStart): StreamStart {
  const { streamSid, callSid, accountSid, from, to, customParameters, sampleRate, direction } = start;
  return { streamSid, callSid, accountSid, from, to, customParameters, sampleRate, ...(direction && { direction }) };
}
