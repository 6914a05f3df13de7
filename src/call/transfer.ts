// Handing a call to a person (../shared/spec/call-control.md, "Transfer"): the request, the target rules, and one
// transfer at a time, a REFER in the caller's dialog or an agent leg bridged to the caller (bridge-transfer.ts), whose
// outcome goes to the bot (transfer_status), the metrics and the report.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Dialog, ReferOutcome } from '../signaling/index.js';
import type { AgentLeg } from './agent-leg.js';
import { agentDial, dialAgent, type BridgeSettings, type CallSide } from './bridge-transfer.js';
import { destination, pickTrunk, type Trunk } from './trunks.js';

/** The `transfer` object of the bot's message and of POST /v1/calls/{call_sid}/transfer. */
export const transferBody = z.strictObject({
  to: z.string().min(1).max(256),
  trunk: z.string().min(1).optional(),
  mode: z.enum(['refer', 'bridge']).default('refer'),
  bot: z.enum(['stop', 'listen']).optional(),
  headers: z
    .record(z.string().regex(/^X-[A-Za-z0-9-]{1,64}$/i, 'header names must start with X-'), z.string().max(1024).regex(/^[^\r\n]*$/, 'no line breaks'))
    .default({}),
});
export type TransferRequest = z.infer<typeof transferBody>;

export type TransferStatus = 'trying' | 'ringing' | 'answered' | 'completed' | 'failed';

/** What the report and the call record keep. */
export interface TransferFacts {
  readonly to: string;
  readonly mode: 'refer' | 'bridge';
  readonly status: TransferStatus;
  readonly sipStatus: number | null;
  readonly answeredAt: Date | undefined;
}

/** Where transfers may go: the configured trunks and `transfer.allowedTargets`; `bridge`, how agents are dialled. */
export interface TransferTargets {
  readonly trunks: readonly Trunk[];
  readonly allowedTargets: readonly RegExp[];
  /** Without it, bridge-mode transfers are refused (501). */
  readonly bridge?: BridgeSettings;
}

/** Why a transfer was not started: the API's status and the reason the bot is told. */
export interface TransferRefusal {
  readonly status: 400 | 403 | 404 | 409 | 429 | 501 | 503;
  readonly error: string;
}

/** The target URI: a number through a trunk (returned too), or a sip: URI that `allowedTargets` allows; else why not. */
export function transferTarget(request: TransferRequest, targets: TransferTargets): { uri: string; trunk?: Trunk } | TransferRefusal {
  if (/^sips?:/i.test(request.to)) {
    if (!targets.allowedTargets.some((r) => r.test(request.to))) return { status: 403, error: `to: ${request.to} matches none of transfer.allowedTargets` };
    return { uri: request.to };
  }
  const trunk = pickTrunk(targets.trunks, request.trunk);
  if ('status' in trunk) return { status: 400, error: trunk.error };
  const target = destination(trunk, request.to, targets.allowedTargets);
  if ('status' in target) return { status: target.status === 403 ? 403 : 400, error: target.error };
  return { uri: target.uri, trunk };
}

/** Parses and checks a transfer object from the bot or the API. */
export function checkTransfer(body: unknown, targets: TransferTargets): { request: TransferRequest; uri: string; trunk?: Trunk | undefined } | TransferRefusal {
  const parsed = transferBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { status: 400, error: `transfer${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}` };
  }
  const request = parsed.data;
  if (request.mode === 'bridge' && !targets.bridge) return { status: 501, error: 'bridge mode needs a SIP backend to dial from' };
  const target = transferTarget(request, targets);
  if ('status' in target) return target;
  return { request, uri: target.uri, trunk: target.trunk };
}

export interface TransferEvent {
  readonly status: TransferStatus;
  readonly sipStatus?: number;
  readonly reason?: string;
}

export interface TransferHooks {
  readonly log: Logger;
  /** The bot's `transfer_status`. */
  readonly notify: (event: TransferEvent) => void;
  /** Counted once per transfer asked for, refused ones included: bridge_transfers_total{mode,result}. */
  readonly counted?: (mode: string, result: 'completed' | 'failed' | 'refused') => void;
  /** The call ends (BYE from us if the far end has not sent one): the REFER succeeded, or the bridged agent left. */
  readonly end: (reason: string) => void;
}

/** One call's transfers: one at a time, the last one's facts kept for the report. */
export class CallTransfer {
  #running = false;
  #facts: TransferFacts | undefined;
  /** Bridge mode's agent leg, from the dial on; failed ones are ended at once. */
  #agent: AgentLeg | undefined;
  #endings: Array<Promise<void>> = [];

  constructor(private readonly hooks: TransferHooks) {}

  get running(): boolean {
    return this.#running;
  }

  get facts(): TransferFacts | undefined {
    return this.#facts;
  }

  /** True once a transfer completed: the bot's `stop` then says `transferred`. */
  get completed(): boolean {
    return this.#facts?.status === 'completed';
  }

  /**
   * A transfer asked for by the API or the bot (`fromBot`: a refusal is then told to it as transfer_status failed).
   * `dialog` is the caller's dialog once the call is answered, `unavailable` why it cannot be transferred now, `side`
   * the call's media and caller for bridge mode. Undefined when the REFER or the agent's INVITE is on its way.
   */
  ask(
    body: unknown,
    call: { dialog: Dialog | undefined; unavailable: string | undefined; targets: TransferTargets | undefined; side: CallSide | undefined },
    fromBot: boolean,
  ): TransferRefusal | undefined {
    const checked = checkTransfer(body, call.targets ?? { trunks: [], allowedTargets: [] });
    const refusal: TransferRefusal | undefined =
      'status' in checked
        ? checked
        : call.unavailable !== undefined || !call.dialog
          ? { status: 409, error: call.unavailable ?? 'the call is not answered yet' }
          : this.#running
            ? { status: 409, error: this.#agent ? 'the call is bridged to an agent, or one is being dialled' : 'a transfer is already in progress' }
            : undefined;
    const mode = (body as { mode?: unknown } | null)?.mode === 'bridge' ? 'bridge' : 'refer';
    if (refusal || 'status' in checked || !call.dialog || (checked.request.mode === 'bridge' && !call.side)) {
      this.refused(refusal ?? { status: 409, error: 'the call is not answered yet' }, fromBot, mode);
      return refusal ?? { status: 409, error: 'the call is not answered yet' };
    }
    if (checked.request.mode === 'refer') {
      this.start(call.dialog, checked.request, checked.uri);
      return undefined;
    }
    const bridge = this.#bridge(checked.request, { uri: checked.uri, trunk: checked.trunk }, call.targets!.bridge!, call.side!, call.dialog.callId);
    if (bridge) this.refused(bridge, fromBot, mode);
    return bridge;
  }

  /** The agent's INVITE (the caller stays with the bot until it answers), or why it cannot go. */
  #bridge(request: TransferRequest, target: { uri: string; trunk?: Trunk | undefined }, settings: BridgeSettings, side: CallSide, callerCallId: string): TransferRefusal | undefined {
    const { log } = this.hooks;
    const dial = agentDial(request, target, settings, side);
    if ('status' in dial) return dial;
    this.#running = true;
    this.#facts = { to: request.to, mode: 'bridge', status: 'trying', sipStatus: null, answeredAt: undefined };
    log.info({ to: request.to, target: target.uri, trunk: target.trunk?.name, mode: 'bridge', bot: dial.bot, sip_call_id: callerCallId }, 'transfer: dialling the agent');
    this.hooks.notify({ status: 'trying' });
    const agent = dialAgent(dial, settings, side, log, {
      ringing: (status) => this.#update('ringing', status),
      answered: () => {
        this.#facts = { ...this.#facts!, status: 'answered', sipStatus: 200, answeredAt: new Date() };
        this.hooks.notify({ status: 'answered', sipStatus: 200 });
        // The join is in place as the leg is told of the answer: the transfer is complete.
        this.#facts = { ...this.#facts, status: 'completed' };
        this.hooks.counted?.('bridge', 'completed');
        this.hooks.notify({ status: 'completed', sipStatus: 200 });
      },
      failed: (status, reason) => {
        this.#running = false;
        this.#agent = undefined;
        this.#endings.push(agent.end());
        this.#facts = { ...this.#facts!, status: 'failed', sipStatus: status };
        this.hooks.counted?.('bridge', 'failed');
        this.hooks.notify({ status: 'failed', sipStatus: status, reason });
      },
      hangup: (reason) => this.hooks.end(reason),
    });
    this.#agent = agent;
    return undefined;
  }

  /**
   * The call's teardown: the agent leg (CANCEL or BYE, its relay session and port), and any failed one's ending. An
   * agent still being dialled makes the transfer failed (487: the call ended first).
   */
  close(): Promise<unknown> {
    const agent = this.#agent;
    if (agent) {
      if (this.#facts && this.#facts.status !== 'completed') {
        this.#facts = { ...this.#facts, status: 'failed', sipStatus: 487 };
        this.hooks.counted?.('bridge', 'failed');
      }
      this.#endings.push(agent.end());
    }
    this.#agent = undefined;
    return Promise.all(this.#endings);
  }

  /** A request refused before any SIP was sent; a bot's request hears why on its WebSocket. */
  refused(refusal: TransferRefusal, tellBot: boolean, mode = 'refer'): void {
    this.hooks.log.warn({ status: refusal.status, reason: refusal.error }, 'transfer refused');
    this.hooks.counted?.(mode === 'bridge' ? 'bridge' : 'refer', 'refused');
    if (tellBot) this.hooks.notify({ status: 'failed', reason: refusal.error });
  }

  /** Sends the REFER in `dialog` to `uri`; the caller checked that none is running. */
  start(dialog: Dialog, request: TransferRequest, uri: string): void {
    const { log } = this.hooks;
    this.#running = true;
    this.#facts = { to: request.to, mode: 'refer', status: 'trying', sipStatus: null, answeredAt: undefined };
    log.info({ to: request.to, refer_to: uri, mode: 'refer', sip_call_id: dialog.callId }, 'transfer: sending REFER');
    const refer = dialog.refer({ target: uri, headers: Object.entries(request.headers) });
    refer.on('accepted', (status) => {
      log.info({ sip_status: status, sip_call_id: dialog.callId }, 'transfer: REFER accepted');
      this.#update('trying', status);
    });
    refer.on('progress', (status, reason) => {
      const next: TransferStatus = status === 100 ? 'trying' : 'ringing';
      log.info({ sip_status: status, reason, sip_call_id: dialog.callId }, 'transfer: target progress');
      this.#update(next, status, reason);
    });
    refer.once('done', (outcome) => this.#done(outcome, dialog.callId));
  }

  #update(status: TransferStatus, sipStatus: number, reason?: string): void {
    const facts = this.#facts!;
    this.#facts = { ...facts, status, sipStatus };
    this.hooks.notify({ status, sipStatus, ...(reason && { reason }) });
  }

  #done(outcome: ReferOutcome, sipCallId: string): void {
    this.#running = false;
    const { log } = this.hooks;
    const facts = this.#facts!;
    if (outcome.ok) {
      this.#facts = { ...facts, status: 'completed', sipStatus: outcome.sipStatus, answeredAt: new Date() };
      log.info({ sip_status: outcome.sipStatus, sip_call_id: sipCallId }, 'transfer completed');
      this.hooks.counted?.('refer', 'completed');
      this.hooks.notify({ status: 'completed', sipStatus: outcome.sipStatus });
      this.hooks.end('transferred');
      return;
    }
    this.#facts = { ...facts, status: 'failed', sipStatus: outcome.sipStatus };
    log.warn({ sip_status: outcome.sipStatus, reason: outcome.reason, stage: outcome.stage, sip_call_id: sipCallId }, 'transfer failed: the call goes on');
    this.hooks.counted?.('refer', 'failed');
    this.hooks.notify({ status: 'failed', sipStatus: outcome.sipStatus, reason: outcome.reason });
  }
}

/** A call's transfers, told to its bot (`send` is the bot link's sendEvent) and counted by `observer`. */
export function callTransfer(
  log: Logger,
  send: (name: string, fields: Readonly<Record<string, unknown>>) => void,
  observer: { transfer?(mode: 'refer' | 'bridge', result: 'completed' | 'failed' | 'refused'): void } | undefined,
  end: (reason: string) => void,
): CallTransfer {
  return new CallTransfer({
    log,
    notify: (e) => send('transfer_status', { transfer: { status: e.status, ...(e.sipStatus !== undefined && { sip_status: e.sipStatus }), ...(e.reason && { reason: e.reason }) } }),
    ...(observer?.transfer && { counted: (mode, result) => observer.transfer?.(mode === 'bridge' ? 'bridge' : 'refer', result) }),
    end,
  });
}

/** The report's `transfer` object. */
export function transferReport(facts: TransferFacts): { to: string; mode: string; status: TransferStatus; sip_status: number | null; answered_at: string | null } {
  return { to: facts.to, mode: facts.mode, status: facts.status, sip_status: facts.sipStatus, answered_at: facts.answeredAt?.toISOString() ?? null };
}
