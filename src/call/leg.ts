// A call's stream leg as the call sees it: the spec it hands the media host, the `start` fields, the keys the caller
// pressed, and closing it once with the `stop` reason the call's end calls for. One copy for both directions.
import type { Logger } from 'pino';
import type { BotProtocolName, BotSampleRate, StopReason, StreamStart } from '../bot/index.js';
import type { MediaFormat } from '../media/index.js';
import type { NegotiatedAudio } from '../sdp/index.js';
import { LegOpenError, type LegReport, type LegSpec, type MediaHost, type StreamLeg } from '../stream/index.js';
import type { EndCause } from './call.js';
import type { StreamPolicy } from './recording.js';

/** The negotiated audio as the leg takes it: plain data, without the parsed offer. */
export function mediaFormat(audio: NegotiatedAudio): MediaFormat {
  const { codec, payloadType, dtmfPayloadType, remote, direction } = audio;
  return { codec, payloadType, ...(dtmfPayloadType !== undefined && { dtmfPayloadType }), remote: { address: remote.address, port: remote.port }, direction };
}

export interface LegBot {
  readonly url: URL;
  readonly protocol: BotProtocolName;
  readonly headers?: Readonly<Record<string, string>>;
  readonly sampleRate: BotSampleRate;
}

export function legSpec(
  ids: { readonly callSid: string; readonly streamSid: string; readonly log: Readonly<Record<string, string>> },
  bot: LegBot & { readonly checkAddresses: boolean; readonly announce: boolean; readonly connectRetries: number },
  policy: StreamPolicy,
): LegSpec {
  const { recording } = policy;
  return {
    ...ids,
    bot: {
      url: bot.url.href,
      protocol: bot.protocol,
      ...(bot.headers && { headers: { ...bot.headers } }),
      sampleRate: bot.sampleRate,
      checkAddresses: bot.checkAddresses,
      connectRetries: bot.connectRetries,
      announce: bot.announce,
    },
    listenOnly: policy.listenOnly,
    ...(recording && { recording: { dir: recording.dir, channels: recording.channels, flushMs: recording.flushMs } }),
  };
}

/** The host's leg, or why it could not be opened (as the error, not thrown). */
export async function openLeg(host: MediaHost, spec: LegSpec, signal: AbortSignal): Promise<StreamLeg | LegOpenError> {
  try {
    return await host.open(spec, signal);
  } catch (err) {
    if (err instanceof LegOpenError) return err;
    throw err;
  }
}

/** What the bot's `start` says about the call. */
export function streamStart(
  ids: { readonly callSid: string; readonly streamSid: string; readonly accountSid: string },
  parties: { readonly from: string; readonly to: string; readonly customParameters: Readonly<Record<string, string>> },
  sampleRate: BotSampleRate,
  direction?: 'outbound',
): StreamStart {
  return { ...ids, ...parties, sampleRate, ...(direction && { direction }) };
}

/** The `stop` the bot hears for how the call ended. */
export function stopReason(transferred: boolean, cause: EndCause): StopReason {
  return transferred ? 'transferred' : cause.by === 'caller' ? 'callended' : 'stopped';
}

/** Logs how a call ended once its leg has said what it measured. */
function logEnd(log: Logger, cause: EndCause, report: LegReport | undefined, extra: Readonly<Record<string, unknown>>): void {
  const { media, botMessagesRefused, recording } = report ?? {};
  log.info({ by: cause.by, reason: cause.reason, ...extra, ...(media && { media }), ...(botMessagesRefused && { botMessagesRefused }) }, 'call ended');
  if (recording) log.info({ recording }, 'recording closed');
}

/**
 * The end of a call's teardown, both directions: closes the leg (with the `stop` its end calls for), logs the end with
 * what the leg measured, waits for the rest (BYE, relay, ...) to settle, and resolves with the leg's report.
 */
export async function closeAll(
  log: Logger,
  cause: EndCause,
  leg: { readonly leg: CallLeg | undefined; readonly transferred: boolean },
  rest: ReadonlyArray<Promise<unknown> | undefined>,
  extra: Readonly<Record<string, unknown>> = {},
): Promise<LegReport | undefined> {
  const closing = leg.leg?.close(stopReason(leg.transferred, cause)) ?? Promise.resolve(undefined);
  const logged = closing.then((report) => logEnd(log, cause, report, extra));
  const results = await Promise.allSettled([...rest, logged]);
  for (const r of results) if (r.status === 'rejected') log.warn({ reason: (r.reason as Error).message }, 'teardown incomplete');
  return closing;
}

/** What the leg tells the call. */
export interface LegHandlers {
  end(cause: EndCause): void;
  /** The bot closed: its audio plays out before `end`. */
  draining(): void;
  /** The bot's `transfer` message, unchecked. */
  transfer(body: unknown): void;
}

/** The call's hold on its leg: its events wired to the call, the keys the caller pressed, closed once. */
export class CallLeg {
  /** Keys the caller pressed, in order (RFC 4733 and SIP INFO). */
  dtmf = '';
  #closed: Promise<LegReport> | undefined;

  constructor(
    readonly leg: StreamLeg,
    private readonly log: Logger,
    handlers: LegHandlers,
  ) {
    leg.on('callerDtmf', (digit) => (this.dtmf += digit));
    leg.on('draining', () => handlers.draining());
    leg.on('end', (end) => handlers.end(end));
    leg.on('botMessage', (message) => {
      if (message.type === 'transfer') handlers.transfer(message.body);
    });
  }

  /** A key press from SIP INFO (RFC 4733 ones reach the bot inside the leg). */
  sipDtmf(digit: string, durationMs: number): void {
    this.log.info({ digit, source: 'SIP INFO' }, 'caller DTMF');
    this.dtmf += digit;
    this.leg.callerDtmf(digit, durationMs);
  }

  sendEvent(name: string, fields: Readonly<Record<string, unknown>>): void {
    this.leg.sendEvent(name, fields);
  }

  close(reason: StopReason): Promise<LegReport> {
    this.#closed ??= this.leg.close(reason);
    return this.#closed;
  }
}
