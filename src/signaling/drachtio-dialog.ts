// One SIP dialog as drachtio-srf holds it, in either direction (we answered the INVITE or sent it), adapted to the
// Dialog the call layer knows: BYE both ways, re-offers through the reoffer contract, DTMF in INFO.
import { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import { DTMF_INFO_TYPES, parseDtmfInfo } from './dtmf-info.js';
import { PendingReoffer } from './reoffer.js';
import { DEFAULT_REFER_TIMEOUT_MS, ReferSubscription, type Refer, type ReferRequest } from './refer.js';
import { NOT_A_TRANSFER_TARGET, warningValue } from './responses.js';
import type { Dialog, DialogEvents } from './types.js';

export class DrachtioDialog extends EventEmitter<DialogEvents> implements Dialog {
  #over = false;
  #bye: Promise<void> | undefined;
  readonly #ready: Promise<Srf.Dialog | undefined>;
  #localSdp: string;
  /** A re-offer the application has not answered yet. */
  #reoffer: PendingReoffer | undefined;
  /** Our REFER whose NOTIFYs are awaited (one at a time). */
  #refer: ReferSubscription | undefined;

  /**
   * `created` is createUAS's promise (we answered: the dialog is confirmed by the caller's ACK), or the dialog
   * createUAC resolved with (we called: drachtio-srf has sent our ACK, so `confirmed` follows at once).
   */
  constructor(
    readonly callId: string,
    localSdp: string,
    created: Promise<Srf.Dialog> | Srf.Dialog,
    private readonly ended: () => void,
  ) {
    super();
    this.#localSdp = localSdp;
    if (!(created instanceof Promise)) {
      this.#wire(created);
      this.#ready = Promise.resolve(created);
      // After the caller has its `answered` event and could listen, as the embedded stack's ACK comes.
      setImmediate(() => {
        if (!this.#over) this.emit('confirmed');
      });
      return;
    }
    this.#ready = created.then(
      (dialog) => {
        this.#wire(dialog);
        return dialog;
      },
      () => {
        // The 200 OK could not be sent (the caller cancelled or the connection to drachtio broke).
        this.#end();
        this.emit('bye');
        return undefined;
      },
    );
  }

  bye(): Promise<void> {
    this.#bye ??= this.#ready.then(async (dialog) => {
      if (!dialog || this.#over) return;
      this.#end();
      await dialog.destroy();
    });
    return this.#bye;
  }

  /** REFER through drachtio-srf's dialog.request; its NOTIFYs come as the dialog's `notify` events. */
  refer(request: ReferRequest): Refer {
    // drachtio-server numbers the REFER: the NOTIFYs are matched by their Event package alone.
    const refer = new ReferSubscription(0, request.timeoutMs ?? DEFAULT_REFER_TIMEOUT_MS, (done) => {
      if (this.#refer === done) this.#refer = undefined;
    });
    if (this.#refer || this.#over) {
      const reason = this.#over ? 'the dialog has ended' : 'a transfer is already in progress';
      setImmediate(() => refer.finish({ ok: false, sipStatus: this.#over ? 481 : 491, reason, stage: 'dialog' }));
      return refer;
    }
    this.#refer = refer;
    void this.#ready.then(async (dialog) => {
      if (!dialog || this.#over) {
        refer.finish({ ok: false, sipStatus: 481, reason: 'the dialog has ended', stage: 'dialog' });
        return;
      }
      const headers: Record<string, string> = { 'Refer-To': `<${request.target}>`, 'Referred-By': `<${dialog.local.uri}>` };
      for (const [name, value] of request.headers ?? []) headers[name] = value;
      try {
        const res = await dialog.request({ method: 'REFER', headers } as unknown as Srf.SrfRequest);
        refer.answered(res.status, res.reason);
      } catch (err) {
        refer.answered(503, `REFER could not be sent: ${(err as Error).message}`);
      }
    });
    return refer;
  }

  #wire(dialog: Srf.Dialog): void {
    dialog.on('ack', () => this.emit('confirmed'));
    dialog.on('destroy', (req: Srf.SrfRequest) => {
      if (this.#over) return;
      this.#end();
      // A BYE drachtio-server sent itself (it does when no ACK comes) reaches us as coming from the "application".
      const fromServer = (req as Srf.SrfRequest & { meta?: { source?: string } }).meta?.source === 'application';
      this.emit(fromServer ? 'ackTimeout' : 'bye');
    });
    // The 200 waits for the application's answer, made from the new offer.
    const reoffer = (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      if (!req.body) {
        res.send(200, { body: this.#localSdp, headers: { 'Content-Type': 'application/sdp' } });
        return;
      }
      const pending = new PendingReoffer(
        req.body,
        (status, phrase, answer) => {
          if (this.#reoffer === pending) this.#reoffer = undefined;
          if (answer && 'sdp' in answer) res.send(200, { body: answer.sdp, headers: { 'Content-Type': 'application/sdp' } });
          else res.send(status, phrase, { headers: answer ? { Warning: answer.warning } : {} });
        },
        (answerSdp) => {
          this.#localSdp = answerSdp;
          dialog.local.sdp = answerSdp;
        },
      );
      this.#reoffer = pending;
      if (this.listenerCount('reoffer') === 0) pending.accept(this.#localSdp);
      else this.emit('reoffer', pending);
    };
    dialog.on('modify', reoffer);
    dialog.on('update', reoffer);
    // The bridge transfers calls; it is never asked to (drachtio-srf would answer 200 without a listener).
    dialog.on('refer', (_req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      res.send(403, 'Forbidden', { headers: { Warning: warningValue(399, NOT_A_TRANSFER_TARGET) } });
    });
    dialog.on('notify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const refer = this.#refer;
      const event = req.has('Event') ? req.get('Event') : '';
      if (!refer || !/^\s*refer\b/i.test(event)) {
        res.send(481, 'Subscription Does Not Exist', {});
        return;
      }
      res.send(200);
      refer.notified({ body: req.body ?? '', subscriptionState: req.has('Subscription-State') ? req.get('Subscription-State') : undefined });
    });
    dialog.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
      const press = parseDtmfInfo(req.has('Content-Type') ? req.get('Content-Type') : '', req.body ?? '');
      if (!press) {
        res.send(415, { headers: { Accept: DTMF_INFO_TYPES.join(', ') } });
        return;
      }
      res.send(200);
      this.emit('dtmf', press.digit, press.durationMs);
    });
  }

  #end(): void {
    this.#over = true;
    this.#reoffer?.terminate();
    this.#refer?.finish({ ok: false, sipStatus: 481, reason: 'the call ended during the transfer', stage: 'dialog' });
    this.ended();
  }
}
