// What every bot protocol shares: the stream's identity, the commands a bot may give, and the one interface a protocol
// module implements (encode what the bridge tells the bot, decode what the bot sends into the same commands).

export interface StreamStart {
  readonly streamSid: string;
  readonly callSid: string;
  readonly accountSid: string;
  readonly from: string;
  readonly to: string;
  readonly customParameters: Readonly<Record<string, string>>;
  readonly sampleRate: number;
  /** Set for calls the bridge placed: `start` then says `"direction":"outbound"` (an extra field). */
  readonly direction?: 'outbound';
}

/** `transferred`: the caller was handed to a person (a REFER the far end carried out). */
export type StopReason = 'callended' | 'stopped' | 'transferred';

/** How audio bytes are encoded: PCM16LE at the stream's rate, or G.711 mu-law at 8 kHz. */
export type AudioEncoding = 'pcm16' | 'mulaw';

/** Bot audio as its protocol carried it; the media layer converts it (the bot layer never does). */
export interface BotAudio {
  readonly encoding: AudioEncoding;
  readonly bytes: Buffer;
}

/** What a bot asks of the call, whatever its protocol. */
export type BotMessage =
  | { readonly event: 'media'; readonly audio: BotAudio }
  | { readonly event: 'mark'; readonly name: string }
  | { readonly event: 'clear' }
  | { readonly event: 'dtmf'; readonly digit: string; readonly durationMs?: number };

/** A decoded bot frame, or why it was refused (`ignorable`: a well-formed message of an event we do not know). */
export type ParsedBotMessage = { ok: true; message: BotMessage } | { ok: false; reason: string; ignorable?: boolean };

/** A text frame whose UTF-8 bytes are written already (no string made for it). */
export class TextFrame {
  constructor(readonly bytes: Buffer) {}

  toString(): string {
    return this.bytes.toString();
  }
}

/** A WebSocket frame to send: a string or a TextFrame goes as a text frame, a Buffer as a binary one. */
export type Frame = string | Buffer | TextFrame;

export const BOT_PROTOCOLS = ['exotel', 'twilio', 'raw'] as const;
export type BotProtocolName = (typeof BOT_PROTOCOLS)[number];

/**
 * One stream's encoder/decoder (it holds the stream's counters: a new one per connection). The session sends what
 * it returns; `undefined` means the protocol has nothing to say for that step.
 */
export interface BotProtocol {
  readonly name: BotProtocolName;
  /**
   * The caller audio it takes: `pcm16` chunks at the stream's rate (`media`), or `mulaw` 20 ms G.711 mu-law frames at
   * 8 kHz (`mulaw`), which the media session hands over (the caller's RTP payload as is for PCMU, transcoded for PCMA).
   */
  readonly callerAudio: AudioEncoding;
  /** Sent once the socket is open, before `start` (an outbound call's bot gets it before the answer). */
  connected(): Frame | undefined;
  start(start: StreamStart): Frame;
  /** Caller audio: PCM16LE at the stream's rate (callerAudio `pcm16`). */
  media(pcm: Buffer): Frame;
  /** Caller audio: `length` mu-law bytes of `bytes` from `offset` (callerAudio `mulaw`). */
  mulaw(bytes: Buffer, offset: number, length: number): Frame;
  dtmf(digit: string, durationMs: number): Frame;
  /** All bot audio queued before the bot's mark `name` has been played. */
  mark(name: string): Frame;
  stop(reason: StopReason): Frame | undefined;
  /**
   * A bridge event beyond the media stream (e.g. `transfer_status`), numbered like the protocol's own messages;
   * without it the session sends `{"event", "stream_sid", ...fields}` as a text frame.
   */
  event?(name: string, fields: Readonly<Record<string, unknown>>): Frame;
  decode(data: Buffer, isBinary: boolean): ParsedBotMessage;
}

/**
 * Decodes standard base64 (padding optional); undefined when it is not base64. Node's decoder skips characters it
 * cannot read, so a result shorter than the length promises gives them away: no regular expression over the payload.
 */
export function decodeBase64(text: string): Buffer | undefined {
  if (text.includes('-') || text.includes('_')) return undefined; // base64url, which Node's decoder also takes
  const chars = text.length - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
  if (chars % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === Math.floor((chars * 3) / 4) ? bytes : undefined;
}

/** JSON.parse that says why not. */
export function parseJson(text: string): { ok: true; json: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, json: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
}

export const DTMF_DIGIT = /^[0-9*#A-D]$/;
