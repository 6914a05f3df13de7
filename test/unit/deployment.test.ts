// docker-compose.yml and docker/ can't be run here (no Docker engine), so their structure and their agreement
// with each other and with the bridge's own config validation are checked by reading them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  ports?: string[];
  networks?: Record<string, { ipv4_address?: string }>;
  stop_grace_period?: string;
  extra_hosts?: string[];
}

type Compose = { services: Record<string, Service> };
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as Compose;
const tlsOverride = parse(readFileSync('docker-compose.tls.yml', 'utf8')) as Compose;
const services = compose.services;
const ip = (name: string) => Object.values(services[name]!.networks ?? {})[0]?.ipv4_address;
const hostPath = (volume: string) => volume.split(':')[0]!;
const read = (path: string) => readFileSync(path, 'utf8');
/** drachtio's SIP contacts, each with the option that follows it. */
const contacts = (command: string[]) => command.flatMap((arg, i) => (arg === '--contact' ? [`${command[i + 1]} ${command[i + 2]}`] : []));

describe('docker-compose.yml', () => {
  it('has drachtio-server, rtpengine, the bridge and the example bot, on fixed addresses of one network', () => {
    expect(Object.keys(services).sort()).toEqual(['bot', 'bridge', 'drachtio', 'rtpengine']);
    expect(services.drachtio!.image).toMatch(/^drachtio\/drachtio-server:0\.9\.\d+$/);
    for (const name of Object.keys(services)) expect(ip(name), name).toMatch(/^172\.28\.0\.\d+$/);
  });

  it('publishes the ports Exotel uses: SIP TCP 5070 on drachtio, RTP 10000-20000/udp on rtpengine', () => {
    expect(services.drachtio!.ports).toEqual(['5070:5070/tcp']);
    expect(services.rtpengine!.ports).toEqual(['10000-20000:10000-20000/udp']);
    expect(read('docker/rtpengine/rtpengine.conf')).toMatch(/^port-min = 10000$/m);
    expect(read('docker/rtpengine/rtpengine.conf')).toMatch(/^port-max = 20000$/m);
    expect(contacts(services.drachtio!.command!)).toEqual([`sip:${ip('drachtio')}:5070;transport=tcp --external-ip`]);
  });

  // drachtio-server 0.9.4 exits when it cannot open a TLS contact (no certificate), taking TCP 5070 down with it.
  it('leaves SIP over TLS to docker-compose.tls.yml, so that a stack without certificates still has SIP over TCP', () => {
    const all = JSON.stringify(services);
    expect(all).not.toMatch(/sips:|transport=tls|443|drachtio\/tls/);
    const drachtio = tlsOverride.services.drachtio!;
    expect(Object.keys(tlsOverride.services)).toEqual(['drachtio']);
    // An override's command replaces the base's; its ports and volumes are added to the base's.
    expect(contacts(drachtio.command!)).toEqual([
      `sip:${ip('drachtio')}:5070;transport=tcp --external-ip`,
      `sips:${ip('drachtio')}:443;transport=tls --external-ip`,
    ]);
    expect(drachtio.command!.slice(0, 5)).toEqual(services.drachtio!.command);
    expect(drachtio.ports).toEqual(['443:443/tcp']);
    expect(drachtio.volumes).toEqual(['./docker/drachtio/tls:/etc/drachtio/tls:ro']);
    expect(read('docker/drachtio/drachtio.conf.xml')).toMatch(/<chain-file>\/etc\/drachtio\/tls\/chain\.pem<\/chain-file>/);
  });

  it('lets the bridge reach a bot that runs on the host as host.docker.internal', () => {
    expect(services.bridge!.extra_hosts).toEqual(['host.docker.internal:host-gateway']);
    expect(read('README.md')).toContain('ws://host.docker.internal:5001/media');
  });

  it('mounts and builds only files that are in the repository', () => {
    for (const [name, service] of [...Object.entries(services), ...Object.entries(tlsOverride.services)]) {
      for (const volume of service.volumes ?? []) expect(existsSync(hostPath(volume)), `${name}: ${volume}`).toBe(true);
      if (service.build) {
        expect(existsSync(service.build.context), name).toBe(true);
        expect(existsSync(join(service.build.context, service.build.dockerfile ?? 'Dockerfile')), name).toBe(true);
      }
    }
  });

  it("runs the bridge with a config that passes the bridge's own validation and matches its neighbours", () => {
    const mount = services.bridge!.volumes!.find((v) => v.endsWith(':/etc/bridge/bridge.yaml:ro'))!;
    expect(services.bridge!.command).toEqual(['--config', '/etc/bridge/bridge.yaml']);
    const config = loadConfig(hostPath(mount));
    expect(config.sip.backend).toBe('drachtio');
    expect(config.media.relay).toBe('rtpengine');

    const admin = /<admin port="(\d+)" secret="([^"]+)">([\d.]+)<\/admin>/.exec(read('docker/drachtio/drachtio.conf.xml'))!;
    expect(config.sip.drachtio).toEqual({ host: admin[3], port: Number(admin[1]), secret: admin[2] });
    expect(admin[3]).toBe(ip('drachtio'));

    const ng = /^listen-ng = ([\d.]+):(\d+)$/m.exec(read('docker/rtpengine/rtpengine.conf'))!;
    expect([config.media.rtpengine.host, config.media.rtpengine.port]).toEqual([ng[1], Number(ng[2])]);
    expect(ng[1]).toBe(ip('rtpengine'));
    const names = services.rtpengine!.command!.map((arg) => /^--interface=(\w+)\//.exec(arg)?.[1]);
    expect(names).toEqual([config.media.rtpengine.interfaces!.bridge, config.media.rtpengine.interfaces!.carrier]);

    expect(config.media.address).toBe(ip('bridge'));
    expect(config.http).toEqual({ host: '0.0.0.0', port: 8080 });
    const botUrl = config.bot.defaultUrl!;
    expect(botUrl.hostname).toBe(ip('bot'));
    expect(services.bot!.command).toEqual(['--host', '0.0.0.0', '--port', botUrl.port, '--path', botUrl.pathname]);

    // docker stop must wait for the drain, else calls in progress are cut without a BYE.
    const grace = /^(\d+)s$/.exec(services.bridge!.stop_grace_period ?? '')?.[1];
    expect(Number(grace) * 1000).toBeGreaterThan(config.shutdown.drainTimeoutMs);
  });

  it('is valid for docker-compose itself, alone and with the TLS override, where docker-compose is installed', (ctx) => {
    const config = (...files: string[]) =>
      parse(
        execFileSync('docker-compose', [...files.flatMap((f) => ['-f', f]), 'config'], {
          env: { ...process.env, PUBLIC_IP: '203.0.113.10' },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ) as { services: Record<string, { command: string[]; ports: Array<{ published: number | string; target: number; protocol: string }> }> };
    let plain, tls;
    try {
      plain = config('docker-compose.yml');
      tls = config('docker-compose.yml', 'docker-compose.tls.yml');
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') {
        console.warn('skipping `docker-compose config`: docker-compose is not installed');
        ctx.skip();
        return;
      }
      throw new Error(`docker-compose config failed: ${e.stderr ?? e.message}`);
    }
    const ports = (c: typeof plain) => c.services.drachtio!.ports.map((p) => `${p.published}:${p.target}/${p.protocol}`).sort();
    expect(ports(plain)).toEqual(['5070:5070/tcp']);
    expect(ports(tls)).toEqual(['443:443/tcp', '5070:5070/tcp']);
    expect(contacts(plain.services.drachtio!.command)).toEqual(['sip:172.28.0.10:5070;transport=tcp --external-ip']);
    expect(contacts(tls.services.drachtio!.command)).toHaveLength(2);
  });
});

describe('Node', () => {
  // npm puts node_modules/.bin first on PATH, so the "node" dev dependency runs npm test and npm start.
  const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1]);
  const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };

  it('runs the tests on Node 24, the version package.json brings and the image is built on', () => {
    expect(major(process.version)).toBeGreaterThanOrEqual(24);
    expect(pkg.engines.node).toBe('>=24');
    expect(pkg.devDependencies.node).toMatch(/^\^24\./);
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^24\./);
    expect(read('docker/Dockerfile').match(/^FROM node:\S+/gm)).toEqual(['FROM node:24-bookworm-slim', 'FROM node:24-bookworm-slim']);
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = read('docker/Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('builds in one stage and runs from another, with production dependencies only, as a non-root user', () => {
    expect(stages.length).toBe(2);
    const runtime = stages[1]!;
    expect(runtime).toMatch(/^RUN npm ci --omit=dev/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/^USER root$/m);
  });

  it('checks health on /health of the configured HTTP port', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD .*\/health/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "--max-semi-space-size=16", "dist\/main\.js"\]$/m);
    expect(existsSync('docker/Dockerfile.dockerignore')).toBe(true);
  });
});
