// Bridge-mode transfers (../shared/spec/call-control.md, "Transfer"): the agent's INVITE made from the request
// (through its trunk, holding one of the trunk's channels and its pacing, or straight to an allowed URI) and the agent
// leg's progress turned into transfer_status: trying, ringing, answered then completed (the join is in place), or failed.
import type { Logger } from 'pino';
import type { RtpengineRelay } from '../media/index.js';
import type { DialRequest, SipBackend } from '../signaling/index.js';
import type { StreamLeg } from '../stream/index.js';
import { AgentLeg, type AgentDial, type AgentLegContext } from './agent-leg.js';
import type { TransferRefusal, TransferRequest } from './transfer.js';
import type { Refusal, Trunk, TrunkSlot } from './trunks.js';

/** The call's side of a bridge transfer: its stream leg (the agent's RTP is its peer) and who the caller is. */
export interface CallSide extends Omit<AgentLegContext, 'backend' | 'log'> {
  /** The caller's number as the call sees it: the agent's From. */
  readonly caller: string;
}

export interface BridgeSettings {
  readonly backend: SipBackend;
  /** How long the agent may ring (transfer.ringTimeoutMs). */
  readonly ringTimeoutMs: number;
  /** A channel on `trunk` for the agent's INVITE, or why not; absent, trunks are not limited. */
  readonly admit?: ((trunk: Trunk) => TrunkSlot | Refusal) | undefined;
}

/** A call's side once its stream leg is open (undefined before). */
export function callSide(
  stream: StreamLeg | undefined,
  media: { readonly advertisedAddress: string; readonly relay?: RtpengineRelay | undefined },
  ids: { readonly callSid: string; readonly streamSid: string },
  caller: string,
): CallSide | undefined {
  return stream && { stream, advertisedAddress: media.advertisedAddress, relay: media.relay, callSid: ids.callSid, streamSid: ids.streamSid, caller };
}

const USER_PART = /^[A-Za-z0-9+._-]{1,64}$/;

/** The agent's INVITE for `request` to `uri` (through `trunk` when the target is a number), or why it cannot go. */
export function agentDial(request: TransferRequest, target: { uri: string; trunk?: Trunk | undefined }, settings: BridgeSettings, side: CallSide): AgentDial | TransferRefusal {
  const { trunk } = target;
  let slot: TrunkSlot | undefined;
  if (trunk && settings.admit) {
    const admitted = settings.admit(trunk);
    if ('status' in admitted) return { status: admitted.status === 429 ? 429 : 503, error: admitted.error };
    slot = admitted;
  }
  const user = USER_PART.test(side.caller) ? side.caller : 'bridge';
  const headers = Object.entries(request.headers);
  const invite: Omit<DialRequest, 'sdp'> = trunk
    ? {
        uri: target.uri,
        proxy: trunk.uri,
        from: { user, host: trunk.fromDomain ?? trunk.host },
        headers: [...Object.entries(trunk.headers), ...headers],
        ...(trunk.username !== undefined && trunk.password !== undefined && { credentials: { username: trunk.username, password: trunk.password } }),
        ...(trunk.tls?.ca && { tls: { ca: trunk.tls.ca } }),
      }
    : { uri: target.uri, proxy: target.uri, from: { user, host: side.advertisedAddress }, headers };
  return { request: invite, ringTimeoutMs: settings.ringTimeoutMs, bot: request.bot ?? 'stop', ...(slot && { slot }), ...(trunk?.srtp && { srtp: true }) };
}

export interface AgentProgress {
  ringing(sipStatus: number): void;
  answered(): void;
  failed(sipStatus: number, reason: string): void;
  /** After the join: the agent is gone, the call ends. */
  hangup(reason: string): void;
}

/** Dials the agent; its progress goes to `progress`. */
export function dialAgent(dial: AgentDial, settings: BridgeSettings, side: CallSide, log: Logger, progress: AgentProgress): AgentLeg {
  const { caller: _, ...context } = side;
  const agent = new AgentLeg(dial, { ...context, backend: settings.backend, log });
  agent.on('ringing', (status) => progress.ringing(status));
  agent.once('answered', () => progress.answered());
  agent.once('failed', (status, reason) => progress.failed(status, reason));
  agent.once('hangup', (reason) => progress.hangup(reason));
  void agent.start();
  return agent;
}
