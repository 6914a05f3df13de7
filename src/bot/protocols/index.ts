// The bot protocols: one module each behind BotProtocol; a new protocol is one file and one line here.
import { ExotelProtocol } from './exotel.js';
import { RawProtocol } from './raw.js';
import { TwilioProtocol } from './twilio.js';
import type { BotProtocol, BotProtocolName } from './types.js';

export { BOT_PROTOCOLS, TextFrame, type AudioEncoding, type BotAudio, type BotMessage, type BotProtocol, type BotProtocolName, type Frame, type ParsedBotMessage, type StopReason, type StreamStart } from './types.js';
export { TWILIO_SAMPLE_RATE } from './twilio.js';

const FACTORIES: Readonly<Record<BotProtocolName, () => BotProtocol>> = {
  exotel: () => new ExotelProtocol(),
  twilio: () => new TwilioProtocol(),
  raw: () => new RawProtocol(),
};

/** A fresh encoder/decoder for one stream (counters start again on each connection). */
export function createBotProtocol(name: BotProtocolName): BotProtocol {
  return FACTORIES[name]();
}
