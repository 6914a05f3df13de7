// Command line entry: loads the config, starts the bridge, drains it on SIGTERM/SIGINT, reloads TLS on SIGHUP.
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
  const stop = (signal: string, drainTimeoutMs: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainTimeoutMs }, 'stopping: no new calls, calls in progress may finish');
    bridge.stop(drainTimeoutMs).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM', config.shutdown.drainTimeoutMs));
  process.on('SIGINT', () => stop('SIGINT', config.shutdown.interruptDrainTimeoutMs));
  process.on('SIGHUP', () => {
    try {
      bridge.reloadTls();
      log.info('TLS certificate reloaded');
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'TLS certificate not reloaded');
    }
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bridge failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
