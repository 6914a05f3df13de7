// The example bot (npm run example-bot) as its own process: its command line, and what it logs of a stream.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

const BOT = fileURLToPath(new URL('../../dist/example-bot/main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BOT, ...args], { encoding: 'utf8', timeout: 10_000 });

describe('example bot command line', () => {
  it('prints its usage for --help and exits 0', () => {
    const { status, stdout, stderr } = run('--help');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: npm run example-bot -- \[options\]/);
    expect(stdout).toContain('--port PORT');
  });

  it('refuses an unknown option with one line and the usage, exit 2', () => {
    const { status, stdout, stderr } = run('--bogus');
    expect(status).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines[0]).toBe("example-bot: Unknown option '--bogus'");
    expect(lines[1]).toMatch(/^usage: /);
    expect(stderr).not.toMatch(/ERR_PARSE_ARGS|at .*\.js:\d+/);
  });
});

describe('example bot stream', () => {
  let bot: ChildProcess | undefined;
  afterEach(async () => {
    if (bot && bot.exitCode === null) {
      bot.kill('SIGTERM');
      await once(bot, 'exit');
    }
  });

  it('logs the digit of a dtmf message', async () => {
    bot = spawn(process.execPath, [BOT, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    const waiters: Array<() => void> = [];
    let buffered = '';
    bot.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const line of complete) lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const wake of waiters.splice(0)) wake();
    });
    const logged = async (msg: string, timeoutMs = 5000): Promise<Record<string, unknown>> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find((l) => l.msg === msg);
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`the bot never logged "${msg}"; it logged: ${JSON.stringify(lines)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    };

    const { url } = (await logged('example bot listening (echo)')) as { url: string };
    const ws = new WebSocket(url);
    await once(ws, 'open');
    ws.send(JSON.stringify({ event: 'start', stream_sid: 's1', start: { stream_sid: 's1', call_sid: 'c1' } }));
    ws.send(JSON.stringify({ event: 'dtmf', stream_sid: 's1', dtmf: { digit: '7', duration: '100' } }));
    expect(await logged('dtmf')).toMatchObject({ digit: '7', duration: '100' });
    ws.close();
    await once(ws, 'close');
  });
});
