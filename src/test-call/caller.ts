// Places one call the way the carrier does: INVITE, ACK, caller audio as RTP, the bridge's audio recorded, BYE.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { DtmfDigit } from '../media/dtmf.js';
import { negotiate, type NegotiatedAudio, type Negotiation } from '../sdp/index.js';
import { headerKey, type HeaderFields, type OutgoingRequest, type SipMessage, type SipRequest, type SipResponse } from '../signaling/message.js';
import { warningText } from '../signaling/responses.js';
import { serializeRequest, serializeResponse } from '../signaling/serializer.js';
import { DEFAULT_TIMERS, newBranch } from '../signaling/transaction.js';
import {
  ackOfFailure,
  cancelOf,
  dialogOf,
  inDialogRequest,
  inviteRequest,
  newLeg,
  responseTo,
  sdpOffer,
  withCustomHeaders,
  type CallLeg,
  type CallerDialog,
} from './requests.js';
import { RtpRecorder, type ReceptionReport } from './rtp-recorder.js';
import { RtpSender } from './rtp-sender.js';
import { SipChannel } from './sip-channel.js';
import type { CallTarget } from './target.js';

const { t1, t2 } = DEFAULT_TIMERS;
/** RFC 3261 Timer B: the bridge may take this long to reach a slow bot before it answers. */
const ANSWER_TIMEOUT_MS = 64 * t1;
/** The bridge answers BYE and CANCEL at once; Timer F's 32 s would only keep someone waiting at a dead prompt. */
const BYE_TIMEOUT_MS = 5000;
const ACCOUNT_SID = 'test-call';

export interface TestCallOptions {
  readonly target: CallTarget;
  /** The calling number: the From user. */
  readonly from: string;
  /** Our address for SIP (Via, Contact), the SDP and RTP. */
  readonly localAddress: string;
  /** Headers for the INVITE; one named like a default (X-Exotel-CallSid, X-Exotel-AccountSid) replaces it. */
  readonly headers: HeaderFields;
  /** The caller's audio, 8 kHz mono. */
  readonly audio: Int16Array;
  /** Silence sent after the audio and key presses, before our BYE. */
  readonly holdMs: number;
  readonly dtmf: readonly DtmfDigit[];
  /** When the first key is pressed, in ms from the answer. */
  readonly dtmfAtMs: number;
  /** Aborting ends the call: CANCEL before the answer, BYE after. */
  readonly signal?: AbortSignal;
  /** Hears each ladder entry as it happens. */
  readonly onLadder?: (entry: LadderEntry) => void;
}

export interface LadderEntry {
  /** ms since the INVITE was sent. */
  readonly atMs: number;
  readonly direction: 'sent' | 'received';
  /** The request line or the status, with what matters about it. */
  readonly summary: string;
  /** The whole message. */
  readonly text: string;
}

/** completed: answered and ended with a BYE answered 200 (either side's); refused: a final failure status to the INVITE. */
export type CallOutcome = 'completed' | 'refused' | 'failed' | 'interrupted';

export interface MediaReport {
  /** The answered codec and telephone-event payload type, e.g. "PCMA, telephone-event/96". */
  readonly format: string;
  readonly packetsSent: number;
  readonly digitsSent: number;
  readonly received: ReceptionReport;
  /** What the bridge sent, 8 kHz mono, from its first packet on. */
  readonly recording: Int16Array;
}

export interface TestCallResult {
  readonly outcome: CallOutcome;
  /** What went wrong, for every outcome but completed. */
  readonly problem?: string;
  /** The INVITE's final response, with the text of its Warning header. */
  readonly final?: { readonly status: number; readonly reason: string; readonly warning?: string };
  /** Who sent the BYE, for answered calls. */
  readonly endedBy?: 'caller' | 'bridge';
  /** X-Exotel-CallSid: the bridge logs the call under it. */
  readonly callSid: string;
  readonly ladder: readonly LadderEntry[];
  /** From the answer to the end of the call. */
  readonly answeredMs: number;
  /** Present once the call was answered with usable SDP. */
  readonly media?: MediaReport;
  /** Things that did not stop the call but did not go as asked. */
  readonly warnings: readonly string[];
}

/** Places the call and resolves when it is over; never rejects for anything the network or the bridge does. */
export async function placeTestCall(options: TestCallOptions): Promise<TestCallResult> {
  const headers = withCustomHeaders(
    [
      ['X-Exotel-CallSid', `test-call-${randomBytes(6).toString('hex')}`],
      ['X-Exotel-AccountSid', ACCOUNT_SID],
    ],
    options.headers,
  );
  const callSid = headers.find(([name]) => headerKey(name) === 'x-exotel-callsid')![1];
  const failed = (problem: string): TestCallResult => ({ outcome: 'failed', problem, callSid, ladder: [], answeredMs: 0, warnings: [] });
  let channel: SipChannel;
  let rtp: Socket;
  try {
    channel = await SipChannel.open(options.target, options.localAddress);
  } catch (err) {
    const { host, port, transport } = options.target;
    return failed(`cannot reach ${host}:${port} over ${transport.toUpperCase()}: ${(err as Error).message}`);
  }
  try {
    rtp = await bindRtp(options.localAddress);
  } catch (err) {
    channel.close();
    return failed(`cannot open an RTP socket on ${options.localAddress}: ${(err as Error).message}`);
  }
  try {
    return await new TestCall(options, channel, rtp, headers, callSid).run();
  } finally {
    channel.close();
    rtp.close();
  }
}

function bindRtp(address: string): Promise<Socket> {
  const socket = createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** The INVITE's final response, with the text of its Warning header (`399 host "text"`) when it has one. */
function finalOf(response: SipResponse): NonNullable<TestCallResult['final']> {
  const warning = response.headers.get('warning');
  const text = warning === undefined ? undefined : warningText(warning);
  return { status: response.status, reason: response.reason, ...(text !== undefined && { warning: text }) };
}

function describeAudio(audio: NegotiatedAudio): string {
  return audio.dtmfPayloadType === undefined ? audio.codec : `${audio.codec}, telephone-event/${audio.dtmfPayloadType}`;
}

class TestCall {
  /** When the INVITE was sent: the ladder's time zero. */
  #startedAt = 0;
  readonly #ladder: LadderEntry[] = [];
  readonly #warnings: string[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #leg: CallLeg;
  #wakers: Array<() => void> = [];
  #provisional = false;
  #final: SipResponse | undefined;
  #answer: Negotiation | undefined;
  #invite: OutgoingRequest | undefined;
  #dialog: CallerDialog | undefined;
  /** The ACK for the INVITE's final response, sent again for each retransmission of that response. */
  #ack: OutgoingRequest | undefined;
  #byeResponse: SipResponse | undefined;
  #bridgeBye = false;
  #playedOut = false;
  #closed: string | undefined;
  #answeredAt: number | undefined;

  constructor(
    private readonly options: TestCallOptions,
    private readonly channel: SipChannel,
    private readonly rtp: Socket,
    private readonly headers: HeaderFields,
    private readonly callSid: string,
  ) {
    this.#leg = newLeg(options.target, channel.local, options.from);
    channel.on('message', (message, raw) => this.#receive(message, raw));
    channel.on('unparseable', (reason, raw) => this.#record('received', `unparseable message: ${reason}`, raw));
    channel.on('closed', (reason) => {
      this.#closed = reason;
      this.#wake();
    });
  }

  get #aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<TestCallResult> {
    const onAbort = () => this.#wake();
    this.options.signal?.addEventListener('abort', onAbort);
    try {
      return await this.#call();
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
      for (const timer of this.#timers) clearTimeout(timer);
    }
  }

  async #call(): Promise<TestCallResult> {
    const sdp = sdpOffer(this.options.localAddress, this.rtp.address().port);
    const invite = inviteRequest(this.#leg, newBranch(), sdp, this.headers);
    this.#invite = invite;
    this.#startedAt = performance.now();
    // Timer A: over UDP the INVITE is sent again, T1 doubling, until any response comes.
    this.#request(invite, () => this.#provisional || this.#final !== undefined, Infinity);
    let deadline = performance.now() + ANSWER_TIMEOUT_MS;
    let hangingUp = false;
    let cancelled = false;
    while (!this.#final) {
      // A CANCEL waits for a provisional response (RFC 3261 9.1): before one, the bridge may not have the INVITE yet.
      const cancelDue = () => this.#aborted && !cancelled && (this.#provisional || !hangingUp);
      const woke = await this.#until(() => this.#final !== undefined || this.#closed !== undefined || cancelDue(), deadline);
      if (this.#final) break;
      if (this.#closed) return this.#result('failed', this.#closed);
      if (!woke) {
        if (hangingUp) return this.#result('interrupted', `no final response to the INVITE within ${BYE_TIMEOUT_MS} ms of hanging up`);
        if (this.#provisional) this.#request(cancelOf(invite), () => true);
        return this.#result('failed', `no final response to the INVITE within ${ANSWER_TIMEOUT_MS} ms`);
      }
      if (!hangingUp) {
        hangingUp = true;
        deadline = Math.min(deadline, performance.now() + BYE_TIMEOUT_MS);
      }
      if (this.#provisional) {
        cancelled = true;
        this.#request(cancelOf(invite), () => this.#final !== undefined);
      }
    }

    const final = finalOf(this.#final);
    if (final.status >= 300) {
      if (cancelled && final.status === 487) return this.#result('interrupted', 'cancelled before the answer');
      return this.#result('refused', `${final.status} ${final.reason}${final.warning === undefined ? '' : `: ${final.warning}`}`);
    }
    this.#answeredAt = performance.now();
    const answer = this.#answer!;
    if (!answer.ok) {
      const problem = await this.#hangUp();
      return this.#result('failed', `the bridge's SDP answer is unusable: ${answer.reason}${problem ? `; ${problem}` : ''}`);
    }
    if (hangingUp) return this.#result('interrupted', (await this.#hangUp()) ?? 'hung up as the call was answered');

    const media = this.#startMedia(answer.audio);
    await this.#until(() => this.#playedOut || this.#bridgeBye || this.#closed !== undefined || this.#aborted);
    media.sender.stop();
    const report = (): MediaReport => ({
      format: describeAudio(answer.audio),
      packetsSent: media.sender.packetsSent,
      digitsSent: media.sender.digitsSent,
      received: media.recorder.report(),
      recording: media.recorder.recording,
    });
    if (this.#bridgeBye) return this.#result('completed', undefined, 'bridge', report());
    if (this.#closed) return this.#result('failed', this.#closed, undefined, report());
    const problem = await this.#hangUp();
    const endedBy = this.#bridgeBye ? 'bridge' : 'caller';
    if (problem) return this.#result('failed', problem, endedBy, report());
    if (this.#aborted) return this.#result('interrupted', 'hung up on request', endedBy, report());
    return this.#result('completed', undefined, endedBy, report());
  }

  #startMedia(audio: NegotiatedAudio): { sender: RtpSender; recorder: RtpRecorder } {
    const { dtmf, dtmfAtMs, holdMs } = this.options;
    if (dtmf.length > 0 && audio.dtmfPayloadType === undefined) {
      this.#warnings.push('the answer has no telephone-event: key presses not sent');
    }
    const recorder = new RtpRecorder(audio);
    this.rtp.on('message', (data) => recorder.packet(data, performance.now()));
    const sender = new RtpSender(this.rtp, audio.remote, audio, { audio: this.options.audio, holdMs, dtmf, dtmfAtMs });
    sender.start();
    void sender.done.then(() => {
      this.#playedOut = true;
      this.#wake();
    });
    return { sender, recorder };
  }

  /** Sends our BYE and waits for its answer; returns what went wrong, if anything did. */
  async #hangUp(): Promise<string | undefined> {
    if (!this.#dialog) return undefined;
    this.#request(inDialogRequest('BYE', this.#leg, this.#dialog, newBranch(), 2), () => this.#byeResponse !== undefined || this.#bridgeBye);
    await this.#until(() => this.#byeResponse !== undefined || this.#bridgeBye || this.#closed !== undefined, performance.now() + BYE_TIMEOUT_MS);
    const response = this.#byeResponse;
    // A BYE from the bridge crossing ours ends the call as well.
    if (this.#bridgeBye || (response && response.status < 300)) return undefined;
    if (response) return `BYE answered ${response.status} ${response.reason}`;
    return this.#closed ?? `no response to BYE within ${BYE_TIMEOUT_MS} ms`;
  }

  #receive(message: SipMessage, raw: Buffer): void {
    if (message.kind === 'request') {
      this.#record('received', `${message.method} ${message.uri}`, raw);
      this.#requestFromBridge(message);
      return;
    }
    const { status, reason, cseq } = message;
    if (cseq.method !== 'INVITE') {
      this.#record('received', `${status} ${reason} (${cseq.method})`, raw);
      if (cseq.method === 'BYE' && status >= 200) {
        this.#byeResponse ??= message;
        this.#wake();
      }
      return;
    }
    if (status < 200) {
      this.#record('received', `${status} ${reason}`, raw);
      this.#provisional = true;
      return;
    }
    if (status < 300) {
      this.#answer ??= negotiate(message.body.toString('utf8'));
      this.#record('received', `${status} ${reason} (${this.#answer.ok ? describeAudio(this.#answer.audio) : 'unusable SDP'})`, raw);
      this.#dialog ??= dialogOf(message, this.#leg);
      this.#ack ??= inDialogRequest('ACK', this.#leg, this.#dialog, newBranch(), 1);
    } else {
      this.#record('received', `${status} ${reason}`, raw);
      this.#ack ??= ackOfFailure(this.#invite!, message);
    }
    this.#send(this.#ack);
    if (!this.#final) {
      this.#final = message;
      this.#wake();
    }
  }

  #requestFromBridge(request: SipRequest): void {
    if (request.method === 'ACK') return;
    if (request.method !== 'BYE') {
      this.#respond(request, 405, 'Method Not Allowed', [['Allow', 'ACK, BYE']]);
      return;
    }
    this.#respond(request, 200, 'OK');
    this.#bridgeBye = true;
    this.#wake();
  }

  /** Sends a request; over UDP again at T1 doubling (capped at `cap`) until `settled` or the call is over. */
  #request(request: OutgoingRequest, settled: () => boolean, cap = t2): void {
    const data = this.#send(request);
    if (this.options.target.transport !== 'udp') return;
    const resend = (interval: number) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (settled()) return;
        this.channel.send(data);
        this.#record('sent', `${request.method} ${request.uri} (retransmission)`, data);
        resend(Math.min(2 * interval, cap));
      }, interval);
      this.#timers.add(timer);
    };
    resend(t1);
  }

  #send(request: OutgoingRequest): Buffer {
    const data = serializeRequest(request);
    this.channel.send(data);
    this.#record('sent', `${request.method} ${request.uri}`, data);
    return data;
  }

  #respond(request: SipRequest, status: number, reason: string, headers?: HeaderFields): void {
    const data = serializeResponse(responseTo(request, status, reason, headers));
    this.channel.send(data);
    this.#record('sent', `${status} ${reason} (${request.method})`, data);
  }

  #record(direction: LadderEntry['direction'], summary: string, data: Buffer): void {
    const entry = { atMs: Math.round(performance.now() - this.#startedAt), direction, summary, text: data.toString('utf8') };
    this.#ladder.push(entry);
    this.options.onLadder?.(entry);
  }

  /** Resolves true once `condition` holds, false if `deadline` (performance.now() time) passes first. */
  async #until(condition: () => boolean, deadline = Infinity): Promise<boolean> {
    while (!condition()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        this.#wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  #wake(): void {
    for (const wake of this.#wakers.splice(0)) wake();
  }

  #result(outcome: CallOutcome, problem?: string, endedBy?: 'caller' | 'bridge', media?: MediaReport): TestCallResult {
    return {
      outcome,
      ...(problem !== undefined && { problem }),
      ...(this.#final && { final: finalOf(this.#final) }),
      ...(endedBy && { endedBy }),
      callSid: this.callSid,
      ladder: this.#ladder,
      answeredMs: this.#answeredAt === undefined ? 0 : Math.round(performance.now() - this.#answeredAt),
      ...(media && { media }),
      warnings: this.#warnings,
    };
  }
}
