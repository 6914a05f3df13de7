// What the test call prints: a ladder line per SIP message, then how the call ended and what its media did.
import type { LadderEntry, TestCallResult } from './call-types.js';

const ms = (value: number, digits = 1) => `${value.toFixed(digits)} ms`;

export function ladderLine(entry: LadderEntry): string {
  return `${String(entry.atMs).padStart(6)} ms  ${entry.direction === 'sent' ? '->' : '<-'} ${entry.summary}`;
}

/** The whole message, indented under its ladder line. */
export function messageText(entry: LadderEntry): string {
  return entry.text
    .replace(/\r\n/g, '\n')
    .trimEnd()
    .split('\n')
    .map((line) => (line ? `            ${line}` : ''))
    .join('\n');
}

export function summaryLines(result: TestCallResult, recordPath?: string): string[] {
  const lines: string[] = [];
  const seconds = (result.answeredMs / 1000).toFixed(2);
  if (result.outcome === 'completed') {
    lines.push(`call completed: answered for ${seconds} s, ended by ${result.endedBy === 'bridge' ? "the bridge's" : 'our'} BYE`);
  } else {
    lines.push(`call ${result.outcome}: ${result.problem}`);
  }
  if (result.ladder.length > 0) lines.push(`call_sid ${result.callSid} (the bridge logs the call under it)`);
  const media = result.media;
  if (media) {
    const received = media.received;
    const ignored = received.ignored > 0 ? `, ${received.ignored} ignored (not RTP or not an answered payload type)` : '';
    lines.push(
      `media (${media.format}):`,
      `  sent      ${media.packetsSent} packets, ${media.digitsSent} key presses`,
      `  received  ${received.packets} packets, ${received.lost} lost, ${received.outOfOrder} out of order${ignored}`,
      `  jitter    ${ms(received.jitterMs, 2)} (RFC 3550); gap between packets p50 ${ms(received.gapMs.p50)}, p99 ${ms(received.gapMs.p99)}, max ${ms(received.gapMs.max)}`,
    );
    if (received.dtmf) lines.push(`  keys      ${received.dtmf} pressed by the bot`);
    lines.push(`  recorded  ${(media.recording.length / 8000).toFixed(2)} s${recordPath ? ` to ${recordPath}` : ''}`);
  }
  for (const warning of result.warnings) lines.push(`warning: ${warning}`);
  return lines;
}
