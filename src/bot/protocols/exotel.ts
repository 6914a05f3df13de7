// The Exotel AgentStream protocol (the default): what we send exactly as Exotel does, and validation of what bots send.
import { z } from 'zod';
import { decodeBase64, type BotProtocol, type Frame, type ParsedBotMessage, type StopReason, type StreamStart } from './types.js';

export type { BotMessage, ParsedBotMessage, StopReason, StreamStart } from './types.js';

export const connectedMessage = (): string => JSON.stringify({ event: 'connected' });

export function startMessage(seq: number, s: StreamStart): string {
  return JSON.stringify({
    event: 'start',
    sequence_number: String(seq),
    stream_sid: s.streamSid,
    start: {
      stream_sid: s.streamSid,
      call_sid: s.callSid,
      account_sid: s.accountSid,
      from: s.from,
      to: s.to,
      custom_parameters: s.customParameters,
      media_format: { encoding: 'audio/x-raw', sample_rate: String(s.sampleRate), bit_rate: '16' },
      ...(s.direction && { direction: s.direction }),
    },
  });
}

/** Built by hand: this runs ten times a second per call, and every field is already a safe string. */
export function mediaMessage(seq: number, streamSid: string, chunk: number, timestampMs: number, payloadBase64: string): string {
  return `{"event":"media","sequence_number":"${seq}","stream_sid":"${streamSid}","media":{"chunk":"${chunk}","timestamp":"${timestampMs}","payload":"${payloadBase64}"}}`;
}

export function dtmfMessage(seq: number, streamSid: string, digit: string, durationMs: number): string {
  return JSON.stringify({ event: 'dtmf', sequence_number: String(seq), stream_sid: streamSid, dtmf: { digit, duration: String(durationMs) } });
}

export function markMessage(seq: number, streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', sequence_number: String(seq), stream_sid: streamSid, mark: { name } });
}

export function stopMessage(seq: number, streamSid: string, callSid: string, accountSid: string, reason: StopReason): string {
  return JSON.stringify({
    event: 'stop',
    sequence_number: String(seq),
    stream_sid: streamSid,
    stop: { call_sid: callSid, account_sid: accountSid, reason },
  });
}

/** media, ten times a second per call, is checked by hand; the rarer messages by a schema. */
function parseMedia(json: { media?: unknown }): ParsedBotMessage {
  const media = json.media;
  if (typeof media !== 'object' || media === null || Array.isArray(media)) return { ok: false, reason: 'media: expected an object' };
  const payload = (media as { payload?: unknown }).payload;
  if (typeof payload !== 'string') return { ok: false, reason: 'media.payload: expected a string' };
  const audio = decodeBase64(payload);
  return audio ? { ok: true, message: { event: 'media', audio: { encoding: 'pcm16', bytes: audio } } } : { ok: false, reason: 'media.payload: payload is not base64' };
}

// Bots may add fields (Exotel's host adds media.chunk/timestamp/sequenceNumber), spell streamSid in camelCase
// and send sequence_number as a number: objects are open and those fields are not checked.
const inbound = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('mark'), mark: z.looseObject({ name: z.string().min(1) }) }),
  z.looseObject({ event: z.literal('clear') }),
  // Our extension: the bot presses a key toward the caller.
  z.looseObject({
    event: z.literal('dtmf'),
    dtmf: z.looseObject({
      digit: z.string().regex(/^[0-9*#A-D]$/, 'digit must be one of 0-9, *, #, A-D'),
      duration: z.coerce.number().int().min(40).max(2000).optional(),
    }),
  }),
]);

const KNOWN_EVENTS = new Set(['media', 'mark', 'clear', 'dtmf']);

export function parseBotMessage(text: string): ParsedBotMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const event = (json as { event?: unknown } | null)?.event;
  if (event === 'media') return parseMedia(json as { media?: unknown });
  if (typeof event === 'string' && !KNOWN_EVENTS.has(event)) {
    return { ok: false, reason: `unknown event "${event.slice(0, 40)}"`, ignorable: true };
  }
  const parsed = inbound.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid message' };
  }
  const m = parsed.data;
  switch (m.event) {
    case 'mark':
      return { ok: true, message: { event: 'mark', name: m.mark.name } };
    case 'clear':
      return { ok: true, message: { event: 'clear' } };
    case 'dtmf':
      return { ok: true, message: { event: 'dtmf', digit: m.dtmf.digit, ...(m.dtmf.duration !== undefined && { durationMs: m.dtmf.duration }) } };
  }
}

/** One AgentStream stream: `sequence_number` counts every message after `connected`, from 1. */
export class ExotelProtocol implements BotProtocol {
  readonly name = 'exotel';
  readonly callerAudio = 'pcm16';
  #seq = 0;
  #chunks = 0;
  #samplesSent = 0;
  #start: StreamStart | undefined;

  connected(): Frame {
    return connectedMessage();
  }

  start(start: StreamStart): Frame {
    this.#start = start;
    return startMessage(++this.#seq, start);
  }

  /** `timestamp` is the stream time at the chunk's end. */
  media(pcm: Buffer): Frame {
    const start = this.#started();
    this.#samplesSent += pcm.length / 2;
    const timestamp = Math.round((this.#samplesSent * 1000) / start.sampleRate);
    return mediaMessage(++this.#seq, start.streamSid, ++this.#chunks, timestamp, pcm.toString('base64'));
  }

  mulaw(): Frame {
    throw new Error('the exotel protocol takes PCM16 caller audio');
  }

  dtmf(digit: string, durationMs: number): Frame {
    return dtmfMessage(++this.#seq, this.#started().streamSid, digit, durationMs);
  }

  mark(name: string): Frame {
    return markMessage(++this.#seq, this.#started().streamSid, name);
  }

  stop(reason: StopReason): Frame {
    const start = this.#started();
    return stopMessage(++this.#seq, start.streamSid, start.callSid, start.accountSid, reason);
  }

  event(name: string, fields: Readonly<Record<string, unknown>>): Frame {
    return JSON.stringify({ event: name, sequence_number: String(++this.#seq), stream_sid: this.#started().streamSid, ...fields });
  }

  decode(data: Buffer, isBinary: boolean): ParsedBotMessage {
    if (isBinary) return { ok: false, reason: 'a binary frame: the protocol is JSON text' };
    return parseBotMessage(data.toString());
  }

  #started(): StreamStart {
    if (!this.#start) throw new Error('exotel: no start sent yet');
    return this.#start;
  }
}
