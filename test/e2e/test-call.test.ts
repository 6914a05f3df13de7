// The test-call CLI (npm run call) as its own process against the bridge in-process and an in-test bot.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bridge } from '../../src/bridge.js';
import { readWav, writeWav } from '../../src/test-call/index.js';
import { dominantFrequency, pcm16leToSamples, rms, tone, toneBytesPcm16le } from '../helpers/audio.js';
import { TestBot, type BotConnection, type BotMessage } from '../helpers/bot.js';
import { startTestBridge, waitForIdle } from '../helpers/bridge.js';

const CLI = fileURLToPath(new URL('../../dist/test-call/main.js', import.meta.url));
const NO_ROUTE = 'no route matches the call and no default bot URL is configured';

interface CliRun {
  readonly child: ChildProcess;
  readonly exited: Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>;
}

function runCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, exited };
}

/** The bot's side of the call the CLI places; fails with the CLI's output if it exits first. */
async function botSide(run: CliRun, index: number): Promise<BotConnection> {
  const ended = run.exited.then((r): never => {
    throw new Error(`the CLI exited (${r.code}) before the bot was reached:\n${r.stdout}${r.stderr}`);
  });
  ended.catch(() => {});
  const conn = await Promise.race([bot.connection(index), ended]);
  await conn.waitForEvent('start');
  return conn;
}

/** The ladder lines of the CLI's output without their times: "-> INVITE sip:...", "<- 100 Trying". */
function ladder(stdout: string): string[] {
  return stdout.split('\n').flatMap((line) => /^\s*\d+ ms {2}((?:->|<-) .*)$/.exec(line)?.[1] ?? []);
}

const dtmfDigits = (conn: BotConnection) =>
  conn.messages.filter((m): m is BotMessage & { dtmf: { digit: string } } => m.event === 'dtmf').map((m) => m.dtmf.digit);

let bot: TestBot;
let bridge: Bridge;
let dir: string;
let to: { tcp: string; udp: string };
/** 2 s of a 1 kHz tone at 16 kHz (the CLI resamples it to the line's 8 kHz). */
let toneWav: string;

beforeAll(async () => {
  bot = await TestBot.start();
  bridge = await startTestBridge({ bot: { defaultUrl: bot.url } });
  to = {
    tcp: `sip:+911234567890@127.0.0.1:${bridge.sip.tcp!.port}`,
    udp: `sip:+911234567890@127.0.0.1:${bridge.sip.udp!.port};transport=udp`,
  };
  dir = mkdtempSync(join(tmpdir(), 'test-call-'));
  toneWav = join(dir, 'tone.wav');
  writeFileSync(toneWav, writeWav({ sampleRate: 16000, channels: 1, samples: tone(1000, 16000, 32000) }));
});

afterAll(async () => {
  await bridge?.stop();
  await bot?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run call', () => {
  it('plays the WAV to the bot, records the bot, presses keys, passes headers and ends with BYE/200', async () => {
    const record = join(dir, 'bot.wav');
    const index = bot.connections.length;
    const keys = ['--dtmf', '12#', '--dtmf-at', '500'];
    const run = runCli(['--to', to.tcp, '--play', toneWav, '--record', record, ...keys, '--hold', '500', '--header', 'X-Customer-Header=salesbot']);
    const conn = await botSide(run, index);
    conn.sendAudio(toneBytesPcm16le(600, 8000, 1500));
    const { code, stdout, stderr } = await run.exited;
    expect(code, `${stdout}${stderr}`).toBe(0);

    expect(ladder(stdout)).toEqual([
      `-> INVITE ${to.tcp}`,
      '<- 100 Trying',
      '<- 200 OK (PCMA, telephone-event/96)',
      expect.stringMatching(/^-> ACK sip:/),
      expect.stringMatching(/^-> BYE sip:/),
      '<- 200 OK (BYE)',
    ]);
    expect(stdout).toMatch(/^call completed: answered for \d\.\d\d s, ended by our BYE$/m);
    expect(stdout).toMatch(/^ {2}sent {6}\d+ packets, 3 key presses$/m);
    expect(stdout).toMatch(/^ {2}received {2}\d+ packets, 0 lost, 0 out of order$/m);
    expect(stdout).toMatch(/^ {2}jitter {4}\d+\.\d\d ms \(RFC 3550\); gap between packets p50 \d+\.\d ms, p99 \d+\.\d ms, max \d+\.\d ms$/m);
    expect(stdout).toContain(`recorded  `);

    const start = conn.start!.start;
    expect(start.custom_parameters).toEqual({ 'Customer-Header': 'salesbot' });
    expect(start).toMatchObject({ from: '+918888888888', to: '+911234567890', account_sid: 'test-call' });
    expect(stdout).toContain(`call_sid ${start.call_sid} `);
    await conn.waitForEvent('stop');
    expect(conn.stop!.stop.reason).toBe('callended');

    expect(dtmfDigits(conn)).toEqual(['1', '2', '#']);
    const heard = pcm16leToSamples(conn.callerAudio());
    expect(Math.abs(dominantFrequency(heard, 8000) - 1000)).toBeLessThanOrEqual(10);

    const recorded = readWav(readFileSync(record));
    if (!recorded.ok) throw new Error(recorded.reason);
    expect(recorded.value).toMatchObject({ sampleRate: 8000, channels: 1 });
    const samples = recorded.value.samples;
    // 2 s of audio, 500 ms of hold; the recording runs from the bridge's first packet to our BYE.
    expect(samples.length / 8000).toBeGreaterThan(2.3);
    expect(samples.length / 8000).toBeLessThan(2.8);
    expect(Math.abs(dominantFrequency(samples, 8000) - 600)).toBeLessThanOrEqual(10);
    expect(rms(samples.subarray(400, 8000))).toBeGreaterThan(3000);
    expect(rms(samples.subarray(16000))).toBeLessThan(100);
    await waitForIdle(bridge);
  });

  it('dials over UDP when the URI says so, and reports the keys the bot presses', async () => {
    const index = bot.connections.length;
    const run = runCli(['--to', to.udp, '--play', toneWav, '--hold', '0']);
    const conn = await botSide(run, index);
    conn.send({ event: 'dtmf', stream_sid: conn.streamSid, dtmf: { digit: '5' } });
    const { code, stdout, stderr } = await run.exited;
    expect(code, `${stdout}${stderr}`).toBe(0);
    expect(ladder(stdout).filter((line) => !line.endsWith('(retransmission)'))).toEqual([
      `-> INVITE ${to.udp}`,
      '<- 100 Trying',
      '<- 200 OK (PCMA, telephone-event/96)',
      expect.stringMatching(/^-> ACK sip:/),
      expect.stringMatching(/^-> BYE sip:/),
      '<- 200 OK (BYE)',
    ]);
    expect(stdout).toMatch(/^ {2}keys {6}5 pressed by the bot$/m);
    await conn.waitForEvent('stop');
    expect(Math.abs(dominantFrequency(pcm16leToSamples(conn.callerAudio()), 8000) - 1000)).toBeLessThanOrEqual(10);
    await waitForIdle(bridge);
  });

  it("answers the bridge's BYE when the bot hangs up, and exits 0", async () => {
    const index = bot.connections.length;
    const run = runCli(['--to', to.tcp, '--play', toneWav]);
    const conn = await botSide(run, index);
    conn.ws.close();
    const { code, stdout, stderr } = await run.exited;
    expect(code, `${stdout}${stderr}`).toBe(0);
    const bridgeBye = /^<- BYE sip:\+918888888888@127\.0\.0\.1:\d+;transport=tcp$/;
    expect(ladder(stdout).slice(-2)).toEqual([expect.stringMatching(bridgeBye), '-> 200 OK (BYE)']);
    expect(stdout).toMatch(/^call completed: answered for \d\.\d\d s, ended by the bridge's BYE$/m);
    await waitForIdle(bridge);
  });

  it('hangs up with BYE on Ctrl-C', async () => {
    const index = bot.connections.length;
    const run = runCli(['--to', to.tcp, '--play', toneWav, '--hold', '5000']);
    const conn = await botSide(run, index);
    run.child.kill('SIGINT');
    const { code, stdout, stderr } = await run.exited;
    expect(code, `${stdout}${stderr}`).toBe(130);
    expect(ladder(stdout).slice(-2)).toEqual([expect.stringMatching(/^-> BYE sip:/), '<- 200 OK (BYE)']);
    expect(stdout).toContain('call interrupted: hung up on request');
    expect(stderr).toContain('hanging up');
    await conn.waitForEvent('stop');
    expect(conn.stop!.stop.reason).toBe('callended');
    await waitForIdle(bridge);
  });

  it('says why a refused call was refused and exits 1', async () => {
    const routeless = await startTestBridge();
    try {
      const target = `sip:+911234567890@127.0.0.1:${routeless.sip.tcp!.port}`;
      const { code, stdout, stderr } = await runCli(['--to', target, '--play', toneWav]).exited;
      expect(code, `${stdout}${stderr}`).toBe(1);
      expect(ladder(stdout)).toEqual([`-> INVITE ${target}`, '<- 100 Trying', '<- 404 Not Found', `-> ACK ${target}`]);
      expect(stdout).toContain(`call refused: 404 Not Found: ${NO_ROUTE}`);
      await waitForIdle(routeless);
    } finally {
      await routeless.stop();
    }
  });

  it('refuses a file it cannot play before dialling, saying what it is and how to convert it', async () => {
    const notWav = join(dir, 'song.mp3');
    writeFileSync(notWav, 'ID3\x04\x00 not a wav at all');
    const { code, stdout, stderr } = await runCli(['--to', to.tcp, '--play', notWav]).exited;
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`--play ${notWav}: this is an MP3 file; convert it: sox in.mp3 -r 8000 -c 1 -b 16 out.wav\n`);
  });

  it("plays the README's sample, test/audio/hello.wav: the bot hears its voice and its pauses", async () => {
    const index = bot.connections.length;
    const run = runCli(['--to', to.tcp, '--play', 'test/audio/hello.wav', '--hold', '0']);
    const conn = await botSide(run, index);
    const { code, stdout, stderr } = await run.exited;
    expect(code, `${stdout}${stderr}`).toBe(0);
    expect(stdout).toMatch(/^calling .* playing test\/audio\/hello\.wav \(3\.00 s\)$/m);
    await conn.waitForEvent('stop');
    const heard = pcm16leToSamples(conn.callerAudio());
    const levels = Array.from({ length: Math.floor(heard.length / 800) }, (_, i) => rms(heard.subarray(i * 800, (i + 1) * 800)));
    expect(levels.filter((level) => level > 1000).length).toBeGreaterThanOrEqual(10);
    expect(levels.filter((level) => level < 50).length).toBeGreaterThanOrEqual(5);
    await waitForIdle(bridge);
  });
});
