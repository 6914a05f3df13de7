// One media session on real loopback sockets: which caller packets it takes, which it drops and why, and when it
// declares the caller gone.
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameClock, MediaSession, RtpPortPool, type CallerAudio } from '../../src/media/index.js';
import { decodeG711, encodeG711, toMulaw, type G711Codec } from '../../src/media/g711.js';
import { writeRtpHeader } from '../../src/media/rtp-packet.js';
import { testLogger } from '../helpers/bridge.js';

const sockets: Socket[] = [];
const sessions: MediaSession[] = [];

afterEach(() => {
  for (const s of sessions.splice(0)) s.close();
  for (const s of sockets.splice(0)) s.close();
});

async function udp(address: string): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  sockets.push(socket);
  return socket;
}

async function session(remote: Socket, options: { latch?: 'sdp-ip' | 'any'; rtpTimeoutMs?: number; listenOnly?: boolean; codec?: G711Codec; callerAudio?: CallerAudio } = {}): Promise<MediaSession> {
  const pool = new RtpPortPool('127.0.0.1', 20000, 29999);
  const rtp = await pool.bind();
  const media = new MediaSession({
    rtp,
    releasePort: () => pool.release(rtp.port),
    codec: options.codec ?? 'PCMA',
    payloadType: options.codec === 'PCMU' ? 0 : 8,
    dtmfPayloadType: 96,
    remote: { address: '127.0.0.1', port: remote.address().port },
    botRate: 8000,
    chunkMs: 20,
    maxQueueMs: 2000,
    latch: options.latch ?? 'sdp-ip',
    rtpTimeoutMs: options.rtpTimeoutMs ?? 0,
    clock: new FrameClock(),
    log: testLogger(),
    ...(options.listenOnly && { listenOnly: true }),
    ...(options.callerAudio && { callerAudio: options.callerAudio }),
  });
  sessions.push(media);
  return media;
}

const packet = (pt: number, seq: number) => {
  const p = Buffer.alloc(172, 0xd5);
  writeRtpHeader(p, false, pt, seq, seq * 160, 1234);
  return p;
};

const settle = () => new Promise((r) => setTimeout(r, 100));

describe('media session input', () => {
  it('drops and counts malformed packets, strangers and unknown payload types, and keeps the good ones', async () => {
    const caller = await udp('127.0.0.1');
    const stranger = await udp('127.0.0.2');
    const media = await session(caller);
    let chunks = 0;
    media.on('callerAudio', () => chunks++);
    const to = (s: Socket, data: Buffer) => s.send(data, media.port, '127.0.0.1');
    to(stranger, packet(8, 1));
    to(caller, Buffer.alloc(5));
    to(caller, Buffer.from([0x40, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
    to(caller, packet(18, 2));
    to(caller, packet(8, 3));
    to(caller, packet(8, 4));
    await settle();
    const otherPortSameIp = await udp('127.0.0.1');
    to(otherPortSameIp, packet(8, 5));
    to(stranger, packet(8, 6));
    await settle();
    expect(media.stats.dropped).toEqual({ malformed: 2, foreignSource: 3, unexpectedPayloadType: 1 });
    expect(media.stats.packetsIn).toBe(2);
    expect(chunks).toBe(2);
  });

  it('latches to the SDP address on another port (NAT), but to another address only when told to', async () => {
    const sdpAddress = await udp('127.0.0.1');
    const natted = await udp('127.0.0.1');
    const media = await session(sdpAddress);
    natted.send(packet(8, 1), media.port, '127.0.0.1');
    await settle();
    expect(media.stats.packetsIn).toBe(1);

    const elsewhere = await udp('127.0.0.3');
    const open = await session(sdpAddress, { latch: 'any' });
    elsewhere.send(packet(8, 1), open.port, '127.0.0.1');
    await settle();
    expect(open.stats.packetsIn).toBe(1);
    expect(open.stats.dropped.foreignSource).toBe(0);
  });

  it('declares the caller gone after rtpTimeoutMs without RTP, once', async () => {
    const caller = await udp('127.0.0.1');
    const media = await session(caller, { rtpTimeoutMs: 300 });
    let timeouts = 0;
    media.on('rtpTimeout', () => timeouts++);
    media.start();
    for (let i = 0; i < 10; i++) {
      caller.send(packet(8, i), media.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(timeouts).toBe(0);
    await new Promise((r) => setTimeout(r, 700));
    expect(timeouts).toBe(1);
  });
});

describe('media session output', () => {
  it('plays bot audio split at odd bytes and held at odd buffer offsets, sample for sample', async () => {
    const caller = await udp('127.0.0.1');
    const media = await session(caller);
    const frames: Buffer[] = [];
    caller.on('message', (p) => frames.push(p.subarray(12)));
    const samples = Int16Array.from({ length: 480 }, (_, i) => ((i * 97) % 4000) - 2000);
    const bytes = Buffer.alloc(samples.length * 2 + 1);
    samples.forEach((v, i) => bytes.writeInt16LE(v, 1 + 2 * i));
    const pcm = bytes.subarray(1);
    expect(pcm.byteOffset % 2).toBe(1);
    media.playBotAudio(pcm.subarray(0, 3));
    media.playBotAudio(pcm.subarray(3, 4));
    media.playBotAudio(pcm.subarray(4));
    media.start();
    while (frames.length < 3) await new Promise((r) => setTimeout(r, 20));

    const g711 = new Uint8Array(samples.length);
    encodeG711('PCMA', samples, 0, samples.length, g711, 0);
    const expected = new Int16Array(samples.length);
    decodeG711('PCMA', g711, expected);
    const played = new Int16Array(samples.length);
    decodeG711('PCMA', Buffer.concat(frames.slice(0, 3)), played);
    expect(played).toEqual(expected);
  });
});

describe('mu-law for bots that take it', () => {
  const speech = Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin(i / 4)));
  const rtp = (codec: G711Codec, seq: number) => {
    const p = Buffer.alloc(172);
    writeRtpHeader(p, false, codec === 'PCMU' ? 0 : 8, seq, seq * 160, 1234);
    encodeG711(codec, speech, 0, 160, p, 12);
    return p;
  };

  for (const codec of ['PCMU', 'PCMA'] as const) {
    it(`hands a ${codec} caller's payloads over as mu-law (${codec === 'PCMU' ? 'as they came' : 'transcoded'})`, async () => {
      const caller = await udp('127.0.0.1');
      const media = await session(caller, { codec });
      const got: Buffer[] = [];
      media.on('callerMulaw', (bytes, offset, length) => got.push(Buffer.from(bytes.subarray(offset, offset + length))));
      for (let i = 0; i < 3; i++) caller.send(rtp(codec, i), media.port, '127.0.0.1');
      while (got.length < 3) await new Promise((r) => setTimeout(r, 10));
      const expected = Buffer.alloc(160);
      toMulaw(codec, rtp(codec, 0), 12, 160, expected);
      for (const g of got) expect(g).toEqual(expected);
    });
  }

  for (const callerAudio of ['pcm16', 'mulaw'] as const) {
    it(`a ${callerAudio} session ${callerAudio === 'mulaw' ? 'makes no PCM16 chunks' : 'makes PCM16 chunks'}, and reports loss, silence filled, latency and the caller's silence`, async () => {
      const caller = await udp('127.0.0.1');
      const media = await session(caller, { callerAudio, rtpTimeoutMs: 150 });
      let payloads = 0;
      let chunks = 0;
      let timedOut = false;
      media.on('callerMulaw', () => payloads++);
      media.on('callerAudio', () => chunks++);
      media.on('rtpTimeout', () => (timedOut = true));
      media.start();
      // Sequence 3 never comes: one packet lost, its 20 ms filled with silence.
      for (const seq of [0, 1, 2, 4, 5]) {
        caller.send(rtp('PCMA', seq), media.port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 20));
      }
      while (!timedOut) await new Promise((r) => setTimeout(r, 20));
      expect(payloads).toBe(5);
      // 20 ms chunks: one per packet and one per filled frame, then the clock's silence once the caller stops.
      if (callerAudio === 'mulaw') expect(chunks).toBe(0);
      else expect(chunks).toBeGreaterThanOrEqual(6);
      const stats = media.stats;
      expect(stats.packetsIn).toBe(5);
      expect(stats.packetsLost).toBe(1);
      expect(stats.silenceFilledMs).toBeGreaterThanOrEqual(20);
      expect(stats.jitterMs).toBeGreaterThanOrEqual(0);
      // A mu-law payload each; a chunk each packet completed (the lost one's silence may be completed by the next).
      if (callerAudio === 'mulaw') expect(stats.latency.caller_to_bot.count).toBe(5);
      else expect(stats.latency.caller_to_bot.count).toBeGreaterThanOrEqual(5);
    });
  }

  it('a mu-law session that is recorded still records the caller', async () => {
    const caller = await udp('127.0.0.1');
    const media = await session(caller, { callerAudio: 'mulaw' });
    let payloads = 0;
    media.on('callerMulaw', () => payloads++);
    const frames: number[][] = [];
    media.record({ frame: (c) => frames.push(Array.from(c)) });
    media.start();
    for (let i = 0; i < 5; i++) {
      caller.send(rtp('PCMA', i), media.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(payloads).toBe(5);
    const sent = new Int16Array(160);
    decodeG711('PCMA', rtp('PCMA', 0), sent, 0, 12, 160);
    expect(frames.filter((f) => f.every((v, i) => v === sent[i])).length).toBeGreaterThanOrEqual(4);
  });

  it('plays the bot\'s mu-law to the caller, sample for sample', async () => {
    const caller = await udp('127.0.0.1');
    const media = await session(caller);
    const frames: Buffer[] = [];
    caller.on('message', (p) => frames.push(p.subarray(12)));
    const mulaw = Buffer.alloc(320);
    encodeG711('PCMU', Int16Array.from({ length: 320 }, (_, i) => ((i * 97) % 4000) - 2000), 0, 320, mulaw, 0);
    media.playBotMulaw(mulaw.subarray(0, 100));
    media.playBotMulaw(mulaw.subarray(100));
    media.start();
    while (frames.length < 2) await new Promise((r) => setTimeout(r, 20));
    const decoded = new Int16Array(320);
    decodeG711('PCMU', mulaw, decoded);
    const expected = new Uint8Array(320);
    encodeG711('PCMA', decoded, 0, 320, expected, 0);
    expect(Buffer.concat(frames.slice(0, 2))).toEqual(Buffer.from(expected));
  });
});

describe('listen-only and recording hooks', () => {
  it('listen-only: plays silence whatever the bot sends, counts it, answers marks at once', async () => {
    const caller = await udp('127.0.0.1');
    const media = await session(caller, { listenOnly: true });
    const payloads: Buffer[] = [];
    caller.on('message', (p) => payloads.push(p.subarray(12)));
    const marks: string[] = [];
    media.on('markPlayed', (name) => marks.push(name));
    media.playBotAudio(Buffer.alloc(3200, 0x40));
    media.mark('after');
    media.sendDtmf('5', 100);
    media.start();
    while (payloads.length < 10) await new Promise((r) => setTimeout(r, 20));
    const heard = new Int16Array(160);
    for (const p of payloads) {
      decodeG711('PCMA', p, heard);
      expect(Math.max(...heard.map(Math.abs))).toBeLessThanOrEqual(8);
    }
    expect(marks).toEqual(['after']);
    expect(media.stats.listenOnlyIgnoredMs).toBe(300);
    expect(media.queuedMs).toBe(0);
  });

  it('hands the recorder one frame per channel per tick: the caller\'s audio, and what was sent', async () => {
    const caller = await udp('127.0.0.1');
    const media = await session(caller);
    const frames: Array<[number, number]> = [];
    media.record({ frame: (c, h) => frames.push([c[0]!, h[0]!]) });
    const bot = Buffer.alloc(320 * 5);
    for (let i = 0; i < 800; i++) bot.writeInt16LE(1000, 2 * i);
    media.playBotAudio(bot);
    media.start();
    for (let i = 0; i < 5; i++) {
      caller.send(packet(8, i), media.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    // What the caller sent (A-law 0xd5, decoded), and the bot's audio as it went to the encoder.
    const callerSample = new Int16Array(1);
    decodeG711('PCMA', Buffer.of(0xd5), callerSample);
    expect(frames.filter(([c]) => c === callerSample[0]).length).toBeGreaterThanOrEqual(4);
    expect(frames.filter(([, h]) => h === 1000)).toHaveLength(5);
    expect(frames.slice(5).every(([, h]) => h === 0)).toBe(true);
  });
});
