// Joins a caller's media session to an agent's (a bridge transfer): each side's audio, on its timeline (8 kHz, in
// order, silence for loss), is played to the other on that side's clock, codec and payload type; RFC 4733 key presses
// are re-sent with the other side's telephone-event type; the bot, when it listens, hears both mixed.
import { FrameRing } from './recorder.js';
import type { MediaSession } from './session.js';

/** How far the agent's audio may run ahead of the caller's in the bot's mix before its oldest is dropped (200 ms). */
const MIX_SAMPLES = 1600;

/** Adds `b` into `a` (same length), clipped to 16 bits, into `out`. */
export function mixInto(a: Int16Array, b: Int16Array, out: Int16Array): void {
  for (let i = 0; i < a.length; i++) {
    const sum = a[i]! + b[i]!;
    out[i] = sum > 32767 ? 32767 : sum < -32768 ? -32768 : sum;
  }
}

/**
 * `botListens`: the bot hears the caller and the agent mixed (one piece of the agent's audio per piece of the
 * caller's, the caller's timeline setting the pace); otherwise it hears nothing more of the call.
 */
export function joinSessions(caller: MediaSession, agent: MediaSession, botListens: boolean): void {
  const forBot = botListens ? new FrameRing(MIX_SAMPLES) : undefined;
  let agentPart = new Int16Array(960);
  let mixed = new Int16Array(960);
  const mix = (samples: Int16Array): Int16Array => {
    if (agentPart.length < samples.length) {
      agentPart = new Int16Array(samples.length);
      mixed = new Int16Array(samples.length);
    }
    const part = agentPart.subarray(0, samples.length);
    forBot!.read(part);
    const out = mixed.subarray(0, samples.length);
    mixInto(samples, part, out);
    return out;
  };
  caller.join((samples) => agent.playPeer(samples), forBot && mix);
  agent.join((samples) => {
    caller.playPeer(samples);
    forBot?.write(samples);
  });
  caller.on('dtmf', (digit, durationMs) => agent.relayDtmf(digit, durationMs));
  agent.on('dtmf', (digit, durationMs) => caller.relayDtmf(digit, durationMs));
}
