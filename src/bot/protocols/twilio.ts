// Twilio Media Streams (bidirectional), as Twilio documents it: camelCase JSON, 20 ms of base64 mu-law at 8 kHz per
// `media`, `sequenceNumber` a string counting every message after `connected` from 1. Audio stays mu-law bytes both
// ways: the media session transcodes.
import { z } from 'zod';
import { TwilioMediaWriter } from './twilio-media.js';
import { decodeBase64, parseJson, TextFrame, type BotProtocol, type Frame, type ParsedBotMessage, type StopReason, type StreamStart } from './types.js';

/** Twilio streams are mu-law at 8 kHz, always. */
export const TWILIO_SAMPLE_RATE = 8000;

const inbound = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('mark'), mark: z.looseObject({ name: z.string().min(1) }) }),
  z.looseObject({ event: z.literal('clear') }),
]);

export class TwilioProtocol implements BotProtocol {
  readonly name = 'twilio';
  readonly callerAudio = 'mulaw';
  #seq = 0;
  #chunks = 0;
  #samplesSent = 0;
  #start: StreamStart | undefined;
  #media: TwilioMediaWriter | undefined;

  connected(): Frame {
    return JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  start(start: StreamStart): Frame {
    this.#start = start;
    this.#media = new TwilioMediaWriter(start.streamSid);
    return JSON.stringify({
      event: 'start',
      sequenceNumber: String(++this.#seq),
      start: {
        accountSid: start.accountSid,
        streamSid: start.streamSid,
        callSid: start.callSid,
        tracks: ['inbound'],
        customParameters: start.customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: TWILIO_SAMPLE_RATE, channels: 1 },
      },
      streamSid: start.streamSid,
    });
  }

  media(): Frame {
    throw new Error('the twilio protocol takes mu-law caller audio');
  }

  /** Written as bytes: fifty a second per call. `timestamp` is the stream time at the frame's start, in ms. */
  mulaw(bytes: Buffer, offset: number, length: number): Frame {
    if (!this.#media) throw new Error('twilio: no start sent yet');
    const timestamp = Math.round((this.#samplesSent * 1000) / TWILIO_SAMPLE_RATE);
    this.#samplesSent += length;
    return new TextFrame(this.#media.write(++this.#seq, ++this.#chunks, timestamp, bytes, offset, length));
  }

  dtmf(digit: string): Frame {
    return JSON.stringify({ event: 'dtmf', streamSid: this.#started().streamSid, sequenceNumber: String(++this.#seq), dtmf: { track: 'inbound_track', digit } });
  }

  mark(name: string): Frame {
    return JSON.stringify({ event: 'mark', sequenceNumber: String(++this.#seq), streamSid: this.#started().streamSid, mark: { name } });
  }

  stop(_reason: StopReason): Frame {
    const start = this.#started();
    return JSON.stringify({ event: 'stop', sequenceNumber: String(++this.#seq), streamSid: start.streamSid, stop: { accountSid: start.accountSid, callSid: start.callSid } });
  }

  decode(data: Buffer, isBinary: boolean): ParsedBotMessage {
    if (isBinary) return { ok: false, reason: 'a binary frame: the protocol is JSON text' };
    const parsed = parseJson(data.toString());
    if (!parsed.ok) return parsed;
    const json = parsed.json as { event?: unknown; media?: unknown } | null;
    const event = json?.event;
    if (event === 'media') return decodeMedia(json!.media);
    if (event !== 'mark' && event !== 'clear') {
      return typeof event === 'string'
        ? { ok: false, reason: `unknown event "${event.slice(0, 40)}"`, ignorable: true }
        : { ok: false, reason: 'event: expected a string' };
    }
    const checked = inbound.safeParse(json);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      return { ok: false, reason: issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid message' };
    }
    return checked.data.event === 'mark' ? { ok: true, message: { event: 'mark', name: checked.data.mark.name } } : { ok: true, message: { event: 'clear' } };
  }

  #started(): StreamStart {
    if (!this.#start) throw new Error('twilio: no start sent yet');
    return this.#start;
  }
}

function decodeMedia(media: unknown): ParsedBotMessage {
  if (typeof media !== 'object' || media === null || Array.isArray(media)) return { ok: false, reason: 'media: expected an object' };
  const payload = (media as { payload?: unknown }).payload;
  if (typeof payload !== 'string') return { ok: false, reason: 'media.payload: expected a string' };
  const bytes = decodeBase64(payload);
  if (!bytes) return { ok: false, reason: 'media.payload: payload is not base64' };
  return { ok: true, message: { event: 'media', audio: { encoding: 'mulaw', bytes } } };
}
