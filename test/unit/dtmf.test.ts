import { describe, expect, it } from 'vitest';
import { DtmfReceiver, DtmfSender, type DtmfDigit } from '../../src/media/dtmf.js';
import { parseDtmfInfo } from '../../src/signaling/dtmf-info.js';

function event(code: number, end: boolean, duration: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = code;
  b[1] = (end ? 0x80 : 0) | 10;
  b.writeUInt16BE(duration, 2);
  return b;
}

/** The packets a carrier sends for one key: start, updates, three End packets, all with the event's timestamp. */
function keyPress(code: number, frames = 5): Buffer[] {
  const packets: Buffer[] = [];
  for (let i = 1; i < frames; i++) packets.push(event(code, false, i * 160));
  for (let i = 0; i < 3; i++) packets.push(event(code, true, frames * 160));
  return packets;
}

describe('RFC 4733 receiver', () => {
  it('reports each key once, on its End bit, with its duration, whatever the marker bit says', () => {
    const rx = new DtmfReceiver();
    const got: string[] = [];
    const codes = [5, 10, 11, 0, 12, 15];
    codes.forEach((code, i) => {
      for (const p of keyPress(code)) for (const d of rx.packet(1, 1000 + i * 2000, p)) got.push(`${d.digit}/${d.durationMs}`);
    });
    expect(got).toEqual(['5/100', '*/100', '#/100', '0/100', 'A/100', 'D/100']);
  });

  it('ignores late End retransmissions and repeats of a reported event, but not the same key pressed again', () => {
    const rx = new DtmfReceiver();
    const digits = (ssrc: number, ts: number, packets: Buffer[]) => packets.flatMap((p) => rx.packet(ssrc, ts, p)).map((d) => d.digit);
    expect(digits(1, 500, keyPress(7))).toEqual(['7']);
    expect(digits(1, 500, [event(7, true, 800)])).toEqual([]);
    expect(digits(1, 2500, keyPress(7))).toEqual(['7']);
    expect(digits(2, 500, keyPress(7))).toEqual(['7']);
  });

  it('reports a key whose End packets were all lost when the next key starts', () => {
    const rx = new DtmfReceiver();
    const first = keyPress(3).slice(0, 3).flatMap((p) => rx.packet(1, 100, p));
    expect(first).toEqual([]);
    const next = rx.packet(1, 900, event(4, false, 160));
    expect(next.map((d) => d.digit)).toEqual(['3']);
    expect(keyPress(4).flatMap((p) => rx.packet(1, 900, p)).map((d) => d.digit)).toEqual(['4']);
  });

  it('ignores events that are not keys (flash, tones) and short payloads', () => {
    const rx = new DtmfReceiver();
    expect(keyPress(16).flatMap((p) => rx.packet(1, 100, p))).toEqual([]);
    expect(rx.packet(1, 200, Buffer.from([1, 0x80]))).toEqual([]);
  });
});

describe('RFC 4733 sender', () => {
  it('sends a start with the marker, growing updates, then the final duration three times with End, all on one timestamp, three frames apart', () => {
    const tx = new DtmfSender(160);
    tx.enqueue('9', 100);
    tx.enqueue('#', 40);
    const summary = [];
    for (let frame = 0; tx.busy; frame++) {
      const p = tx.next(8000 + frame * 160);
      summary.push(p ? `${p.marker ? 'M' : '-'} ${p.timestamp} ${p.payload[0]} ${p.payload[1]! & 0x80 ? 'E' : '-'} ${p.payload.readUInt16BE(2)}` : 'pause');
    }
    expect(summary).toEqual([
      'M 8000 9 - 160',
      '- 8000 9 - 320',
      '- 8000 9 - 480',
      '- 8000 9 - 640',
      '- 8000 9 E 800',
      '- 8000 9 E 800',
      '- 8000 9 E 800',
      'pause',
      'pause',
      'pause',
      'M 9600 11 - 160',
      '- 9600 11 E 320',
      '- 9600 11 E 320',
      '- 9600 11 E 320',
    ]);
    expect(tx.next(99999)).toBeUndefined();
  });

  it('round-trips through the receiver', () => {
    const tx = new DtmfSender(160);
    const rx = new DtmfReceiver();
    const keys: DtmfDigit[] = ['1', '1', '*', 'C'];
    for (const k of keys) tx.enqueue(k, 120);
    const got: string[] = [];
    for (let frame = 0; tx.busy; frame++) {
      const p = tx.next(frame * 160);
      if (p) got.push(...rx.packet(42, p.timestamp, p.payload).map((d) => `${d.digit}/${d.durationMs}`));
    }
    expect(got).toEqual(['1/120', '1/120', '*/120', 'C/120']);
  });
});

describe('DTMF in SIP INFO', () => {
  it('reads application/dtmf-relay and application/dtmf bodies', () => {
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n')).toEqual({ digit: '5', durationMs: 160 });
    expect(parseDtmfInfo('Application/DTMF-Relay; charset=x', 'Signal= #\nDuration= 250')).toEqual({ digit: '#', durationMs: 250 });
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=10\r\n')).toEqual({ digit: '*' });
    expect(parseDtmfInfo('application/dtmf', '11')).toEqual({ digit: '#' });
    expect(parseDtmfInfo('application/dtmf', 'b')).toEqual({ digit: 'B' });
  });

  it('refuses bodies that are not a key press', () => {
    expect(parseDtmfInfo('application/dtmf-relay', 'Signal=X')).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf-relay', 'Duration=100')).toBeUndefined();
    expect(parseDtmfInfo('application/json', '{"digit":"1"}')).toBeUndefined();
    expect(parseDtmfInfo('application/dtmf', '16')).toBeUndefined();
  });
});
