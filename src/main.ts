// Command line entry: loads the config, starts the bridge, stops it cleanly on SIGTERM/SIGINT.
import { pino } from 'pino';
import { startBridge } from './bridge.js';
import { ConfigError, configPath, loadConfig } from './config/index.js';

async function main(): Promise<void> {
  const path = configPath(process.argv.slice(2), process.env);
  let config;
  try {
    config = loadConfig(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const log = pino({ level: config.log.level, base: { service: 'sip-ws-bridge' } });
  const bridge = await startBridge(config, log);
  log.info({ config: path, sip: bridge.sip, http: bridge.httpPort, rtpPorts: config.media.rtpPorts }, 'bridge started');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: ending calls');
    bridge.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`bridge failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
