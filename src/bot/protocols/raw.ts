// Raw PCM (jambonz `listen` / Vonage style): one JSON text frame with the call's metadata, then binary frames of
// PCM16LE at the stream's rate both ways; marks, clear, DTMF and stop as small JSON text frames.
import { z } from 'zod';
import { DTMF_DIGIT, parseJson, type BotProtocol, type Frame, type ParsedBotMessage, type StopReason, type StreamStart } from './types.js';

const inbound = z.discriminatedUnion('event', [
  z.looseObject({ event: z.literal('mark'), name: z.string().min(1) }),
  z.looseObject({ event: z.literal('clear') }),
  z.looseObject({
    event: z.literal('dtmf'),
    digit: z.string().regex(DTMF_DIGIT, 'digit must be one of 0-9, *, #, A-D'),
    duration_ms: z.number().int().min(40).max(2000).optional(),
  }),
]);
const KNOWN_EVENTS = new Set(['mark', 'clear', 'dtmf']);

export class RawProtocol implements BotProtocol {
  readonly name = 'raw';
  readonly callerAudio = 'pcm16';

  connected(): undefined {
    return undefined;
  }

  /** The metadata frame: the first frame on the socket. */
  start(s: StreamStart): Frame {
    return JSON.stringify({
      event: 'start',
      call_sid: s.callSid,
      stream_sid: s.streamSid,
      account_sid: s.accountSid,
      from: s.from,
      to: s.to,
      custom_parameters: s.customParameters,
      sample_rate: s.sampleRate,
      encoding: 'audio/l16',
      direction: s.direction ?? 'inbound',
    });
  }

  /** A copy: the media session reuses the chunk's buffer, and ws may queue a frame before it writes it. */
  media(pcm: Buffer): Frame {
    return Buffer.from(pcm);
  }

  mulaw(): Frame {
    throw new Error('the raw protocol takes PCM16 caller audio');
  }

  dtmf(digit: string, durationMs: number): Frame {
    return JSON.stringify({ event: 'dtmf', digit, duration_ms: durationMs });
  }

  mark(name: string): Frame {
    return JSON.stringify({ event: 'mark', name });
  }

  stop(reason: StopReason): Frame {
    return JSON.stringify({ event: 'stop', reason });
  }

  decode(data: Buffer, isBinary: boolean): ParsedBotMessage {
    if (isBinary) {
      if (data.length % 2 !== 0) return { ok: false, reason: `binary audio of ${data.length} bytes: not a whole number of 16-bit samples` };
      return { ok: true, message: { event: 'media', audio: { encoding: 'pcm16', bytes: data } } };
    }
    const parsed = parseJson(data.toString());
    if (!parsed.ok) return parsed;
    const event = (parsed.json as { event?: unknown } | null)?.event;
    if (typeof event === 'string' && !KNOWN_EVENTS.has(event)) return { ok: false, reason: `unknown event "${event.slice(0, 40)}"`, ignorable: true };
    const checked = inbound.safeParse(parsed.json);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      return { ok: false, reason: issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid message' };
    }
    const m = checked.data;
    switch (m.event) {
      case 'mark':
        return { ok: true, message: { event: 'mark', name: m.name } };
      case 'clear':
        return { ok: true, message: { event: 'clear' } };
      case 'dtmf':
        return { ok: true, message: { event: 'dtmf', digit: m.digit, ...(m.duration_ms !== undefined && { durationMs: m.duration_ms }) } };
    }
  }
}
