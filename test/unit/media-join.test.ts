// Two media sessions joined as in a bridge transfer (a PCMA caller, a PCMU agent, one clock): each hears the other,
// the bot hears both mixed whether it takes PCM16 or mu-law, and the bot's audio is no longer played.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeG711 } from '../../src/media/g711.js';
import { FrameClock, joinSessions, MediaSession, RtpPortPool, type CallerAudio } from '../../src/media/index.js';
import { mixInto } from '../../src/media/join.js';
import { goertzelPower, pcm16leToSamples, relativeLevelDb, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { testLogger } from '../helpers/bridge.js';
import { RtpPeer } from '../helpers/rtp-peer.js';

const closing: Array<{ close(): void }> = [];
afterEach(() => {
  for (const c of closing.splice(0)) c.close();
});

const pool = new RtpPortPool('127.0.0.1', 20000, 29999);
const clock = new FrameClock();

async function session(peer: RtpPeer, codec: 'PCMA' | 'PCMU', callerAudio?: CallerAudio): Promise<MediaSession> {
  const rtp = await pool.bind();
  const media = new MediaSession({
    rtp,
    releasePort: () => pool.release(rtp.port),
    codec,
    payloadType: codec === 'PCMU' ? 0 : 8,
    dtmfPayloadType: codec === 'PCMU' ? 101 : 96,
    remote: { address: '127.0.0.1', port: peer.port },
    botRate: 8000,
    chunkMs: 20,
    maxQueueMs: 2000,
    latch: 'sdp-ip',
    rtpTimeoutMs: 0,
    clock,
    log: testLogger(),
    ...(callerAudio && { callerAudio }),
  });
  closing.push(media);
  return media;
}

async function joined(callerAudio?: CallerAudio) {
  const callerPeer = await RtpPeer.open();
  const agentPeer = await RtpPeer.open();
  closing.push(callerPeer, agentPeer);
  const caller = await session(callerPeer, 'PCMA', callerAudio);
  const agent = await session(agentPeer, 'PCMU');
  caller.start();
  agent.start();
  joinSessions(caller, agent, true);
  return { caller, agent, callerPeer, agentPeer };
}

/** Caller 1000 Hz and agent 440 Hz for 1.2 s, the bot playing 600 Hz meanwhile. */
async function talk(j: Awaited<ReturnType<typeof joined>>): Promise<void> {
  j.caller.playBotAudio(toneBytesPcm16le(600, 8000, 1000));
  await Promise.all([
    j.callerPeer.send({ address: '127.0.0.1', port: j.caller.port }, 'PCMA', tone(1000, 8000, 9600)),
    j.agentPeer.send({ address: '127.0.0.1', port: j.agent.port }, 'PCMU', tone(440, 8000, 9600)),
  ]);
  await new Promise((r) => setTimeout(r, 100));
}

describe('joined media sessions', () => {
  it('each side hears the other in its own codec, never the bot; a PCM16 bot hears both mixed', async () => {
    const j = await joined();
    const bot: Buffer[] = [];
    j.caller.on('callerAudio', (chunk) => bot.push(Buffer.from(chunk)));
    await talk(j);
    const heardByAgent = j.agentPeer.audio('PCMU').slice(-6000, -1000);
    expect(relativeLevelDb(heardByAgent, 8000, 1000, 440)).toBeGreaterThan(30);
    const heardByCaller = j.callerPeer.audio('PCMA').slice(-6000, -1000);
    expect(relativeLevelDb(heardByCaller, 8000, 440, 1000)).toBeGreaterThan(30);
    expect(relativeLevelDb(heardByCaller, 8000, 600, 440)).toBeLessThan(-30);
    expect(j.caller.stats.listenOnlyIgnoredMs).toBeGreaterThan(900);
    const mixed = pcm16leToSamples(Buffer.concat(bot)).slice(-6000, -1000);
    expect(Math.abs(relativeLevelDb(mixed, 8000, 440, 1000))).toBeLessThan(6);
    expect(goertzelPower(mixed, 8000, 1000)).toBeGreaterThan(1e6);
  });

  it('a mu-law bot hears both mixed too', async () => {
    const j = await joined('mulaw');
    const bot: Buffer[] = [];
    j.caller.on('callerMulaw', (bytes, offset, length) => bot.push(Buffer.from(bytes.subarray(offset, offset + length))));
    await talk(j);
    const mulaw = Buffer.concat(bot);
    const samples = new Int16Array(mulaw.length);
    decodeG711('PCMU', mulaw, samples);
    const mixed = samples.slice(-6000, -1000);
    expect(Math.abs(relativeLevelDb(mixed, 8000, 440, 1000))).toBeLessThan(6);
    expect(goertzelPower(mixed, 8000, 440)).toBeGreaterThan(1e6);
  });
});

describe('a peer ahead of this side', () => {
  it('queues at most 240 ms of its audio, cut back to 120 ms: a fast clock adds no growing delay', async () => {
    const peer = await RtpPeer.open();
    closing.push(peer);
    const media = await session(peer, 'PCMA');
    media.playPeer(new Int16Array(1600));
    expect(media.queuedMs).toBe(200);
    media.playPeer(new Int16Array(2400));
    expect(media.queuedMs).toBe(120);
  });
});

describe('mixInto', () => {
  it('sums and clips to 16 bits', () => {
    const out = new Int16Array(3);
    mixInto(Int16Array.of(30_000, -30_000, 100), Int16Array.of(10_000, -10_000, -50), out);
    expect([...out]).toEqual([32767, -32768, 50]);
  });
});
