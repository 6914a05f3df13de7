// Places one call the way the carrier does, through the embedded SIP stack's UAC (the bridge's own): INVITE, ACK,
// caller audio as RTP, the bridge's audio recorded, BYE.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { negotiate, type NegotiatedAudio } from '../sdp/index.js';
import { headerKey, type HeaderFields, type SipResponse } from '../signaling/message.js';
import { warningText } from '../signaling/responses.js';
import { DEFAULT_TIMERS } from '../signaling/transaction.js';
import type { DialFailure, Dialog } from '../signaling/types.js';
import { EmbeddedSipBackend } from '../signaling/user-agent.js';
import type { CallOutcome, MediaReport, TestCallOptions, TestCallResult } from './call-types.js';
import { describeAudio, Ladder } from './ladder.js';
import { dialRequest, sdpOffer, withCustomHeaders } from './requests.js';
import { RtpRecorder } from './rtp-recorder.js';
import { RtpSender } from './rtp-sender.js';

/** RFC 3261 Timer B: the bridge may take this long to reach a slow bot before it answers. */
const ANSWER_TIMEOUT_MS = 64 * DEFAULT_TIMERS.t1;
/** The bridge answers BYE and CANCEL at once; Timer F's 32 s would only keep someone waiting at a dead prompt. */
const BYE_TIMEOUT_MS = 5000;
/** After the call, so that the last messages (an ACK, a 200) are out and on the ladder before the sockets close. */
const LINGER_MS = 50;
const ACCOUNT_SID = 'test-call';
const MAX_MESSAGE_BYTES = 65_535;

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
  const call = new TestCall(options, headers, callSid);
  const { transport } = options.target;
  const listener = { host: options.localAddress, port: 0 };
  const backend = new EmbeddedSipBackend({
    ...(transport === 'udp' ? { udp: listener } : { tcp: listener }),
    maxMessageBytes: MAX_MESSAGE_BYTES,
    timers: DEFAULT_TIMERS,
    allowSource: () => true,
    refusedSources: 'reject',
    maxConnectionsPerSource: 4,
    messageTimeoutMs: 10_000,
    log: pino({ level: 'silent' }),
    onTraffic: (direction, data) => call.ladder.traffic(direction, data),
  });
  // Nobody calls the caller: an INVITE outside its call is refused.
  backend.on('invite', (invite) => invite.reject(403, 'Forbidden', { warning: { code: 399, text: 'a test caller takes no calls' } }));
  try {
    await backend.start();
  } catch (err) {
    return failed(`cannot open a SIP ${transport.toUpperCase()} socket on ${options.localAddress}: ${(err as Error).message}`);
  }
  let rtp: Socket;
  try {
    rtp = await bindRtp(options.localAddress);
  } catch (err) {
    await backend.stop();
    return failed(`cannot open an RTP socket on ${options.localAddress}: ${(err as Error).message}`);
  }
  try {
    return await call.run(backend, rtp);
  } finally {
    await new Promise((resolve) => setTimeout(resolve, LINGER_MS));
    await backend.stop();
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

class TestCall {
  /** The SIP messages of the call, as they happen. */
  readonly ladder: Ladder;
  readonly #warnings: string[] = [];
  #wakers: Array<() => void> = [];
  #answered: { readonly dialog: Dialog; readonly sdp: string } | undefined;
  #failure: DialFailure | undefined;
  #bridgeBye = false;
  #lost = false;
  #playedOut = false;
  #answeredAt: number | undefined;

  constructor(
    private readonly options: TestCallOptions,
    private readonly headers: HeaderFields,
    private readonly callSid: string,
  ) {
    this.ladder = new Ladder(options.onLadder);
  }

  get #aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  get #settled(): boolean {
    return this.#answered !== undefined || this.#failure !== undefined;
  }

  async run(backend: EmbeddedSipBackend, rtp: Socket): Promise<TestCallResult> {
    const onAbort = () => this.#wake();
    this.options.signal?.addEventListener('abort', onAbort);
    try {
      return await this.#call(backend, rtp);
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async #call(backend: EmbeddedSipBackend, rtp: Socket): Promise<TestCallResult> {
    const { target } = this.options;
    const sdp = sdpOffer(this.options.localAddress, rtp.address().port);
    const deadline = performance.now() + ANSWER_TIMEOUT_MS;
    const call = backend.dial(dialRequest(target, this.options.from, sdp, this.headers));
    call.once('answered', (dialog, answerSdp) => {
      this.#answered = { dialog, sdp: answerSdp };
      dialog.on('bye', () => {
        this.#bridgeBye = true;
        this.#wake();
      });
      dialog.on('lost', () => {
        this.#lost = true;
        this.#wake();
      });
      this.#wake();
    });
    call.once('failed', (failure) => {
      this.#failure = failure;
      this.#wake();
    });

    let hungUp = false;
    if (!(await this.#until(() => this.#settled || this.#aborted, deadline))) {
      // The stack sends the CANCEL once a provisional response has come (RFC 3261 9.1).
      call.cancel();
      return this.#result('failed', `no final response to the INVITE within ${ANSWER_TIMEOUT_MS} ms`);
    }
    if (!this.#settled) {
      hungUp = true;
      call.cancel();
      if (!(await this.#until(() => this.#settled, Math.min(deadline, performance.now() + BYE_TIMEOUT_MS)))) {
        return this.#result('interrupted', `no final response to the INVITE within ${BYE_TIMEOUT_MS} ms of hanging up`);
      }
    }

    if (this.#failure) return this.#failed(this.#failure, hungUp);
    const { dialog, sdp: answerSdp } = this.#answered!;
    this.#answeredAt = performance.now();
    const answer = negotiate(answerSdp);
    if (!answer.ok) {
      const problem = await this.#hangUp(dialog);
      return this.#result('failed', `the bridge's SDP answer is unusable: ${answer.reason}${problem ? `; ${problem}` : ''}`);
    }
    if (this.#aborted) return this.#result('interrupted', (await this.#hangUp(dialog)) ?? 'hung up as the call was answered');

    const media = this.#startMedia(rtp, answer.audio);
    await this.#until(() => this.#playedOut || this.#bridgeBye || this.#lost || this.#aborted);
    media.sender.stop();
    const report = (): MediaReport => ({
      format: describeAudio(answer.audio),
      packetsSent: media.sender.packetsSent,
      digitsSent: media.sender.digitsSent,
      received: media.recorder.report(),
      recording: media.recorder.recording,
    });
    if (this.#bridgeBye) return this.#result('completed', undefined, 'bridge', report());
    if (this.#lost) return this.#result('failed', 'connection closed by the bridge', undefined, report());
    const problem = await this.#hangUp(dialog);
    const endedBy = this.#bridgeBye ? 'bridge' : 'caller';
    if (problem) return this.#result('failed', problem, endedBy, report());
    if (this.#aborted) return this.#result('interrupted', 'hung up on request', endedBy, report());
    return this.#result('completed', undefined, endedBy, report());
  }

  /** The INVITE ended without a dialog: refused by the bridge, cancelled by us, or never answered at all. */
  #failed(failure: DialFailure, hungUp: boolean): TestCallResult {
    const final = this.ladder.final && this.ladder.final.status >= 300 ? finalOf(this.ladder.final) : undefined;
    if (final) {
      if (hungUp && final.status === 487) return this.#result('interrupted', 'cancelled before the answer');
      return this.#result('refused', `${final.status} ${final.reason}${final.warning === undefined ? '' : `: ${final.warning}`}`);
    }
    // A 2xx that crossed the CANCEL: the stack ACKed it and ended it with BYE.
    if (hungUp) return this.#result('interrupted', this.ladder.final ? 'hung up as the call was answered' : 'cancelled before the answer');
    if (failure.status === 408) return this.#result('failed', `no final response to the INVITE within ${ANSWER_TIMEOUT_MS} ms`);
    const { host, port, transport } = this.options.target;
    if (failure.status === 503 && !this.ladder.heard) {
      return this.#result('failed', `cannot reach ${host}:${port} over ${transport.toUpperCase()}: ${failure.detail ?? failure.reason}`);
    }
    return this.#result('failed', `${failure.status} ${failure.reason}${failure.detail === undefined ? '' : `: ${failure.detail}`}`);
  }

  #startMedia(rtp: Socket, audio: NegotiatedAudio): { sender: RtpSender; recorder: RtpRecorder } {
    const { dtmf, dtmfAtMs, holdMs } = this.options;
    if (dtmf.length > 0 && audio.dtmfPayloadType === undefined) {
      this.#warnings.push('the answer has no telephone-event: key presses not sent');
    }
    const recorder = new RtpRecorder(audio);
    rtp.on('message', (data) => recorder.packet(data, performance.now()));
    const sender = new RtpSender(rtp, audio.remote, audio, { audio: this.options.audio, holdMs, dtmf, dtmfAtMs });
    sender.start();
    void sender.done.then(() => {
      this.#playedOut = true;
      this.#wake();
    });
    return { sender, recorder };
  }

  /** Sends our BYE and waits up to BYE_TIMEOUT_MS for its answer; returns what went wrong, if anything did. */
  async #hangUp(dialog: Dialog): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no response to BYE within ${BYE_TIMEOUT_MS} ms`), BYE_TIMEOUT_MS);
    });
    const bye = dialog.bye().then(
      () => undefined,
      // A BYE from the bridge crossing ours ends the call as well.
      (err: Error) => (this.#bridgeBye ? undefined : err.message),
    );
    try {
      return await Promise.race([bye, late]);
    } finally {
      clearTimeout(timer);
    }
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
      ...(this.ladder.final && { final: finalOf(this.ladder.final) }),
      ...(endedBy && { endedBy }),
      callSid: this.callSid,
      ladder: this.ladder.entries,
      answeredMs: this.#answeredAt === undefined ? 0 : Math.round(performance.now() - this.#answeredAt),
      ...(media && { media }),
      warnings: this.#warnings,
    };
  }
}
