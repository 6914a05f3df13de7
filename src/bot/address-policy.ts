// Where a bot URL taken from a call header may lead: never to loopback, private, link-local or other non-public
// addresses (the cloud metadata service at 169.254.169.254, the bridge's own host) unless configured explicitly.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import net from 'node:net';

const NON_PUBLIC = new net.BlockList();
for (const [address, prefix, family] of [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['::ffff:0:0', 96, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
] as const) {
  NON_PUBLIC.addSubnet(address, prefix, family);
}

const RANGE_NAMES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^127\.|^::1$/, 'loopback'],
  [/^169\.254\.|^fe80:/i, 'link-local'],
];

function describe(address: string): string {
  return RANGE_NAMES.find(([pattern]) => pattern.test(address))?.[1] ?? 'non-public';
}

export class BotAddressPolicy {
  /** @param allowedNetworks non-public addresses that are allowed all the same (configured CIDRs). */
  constructor(private readonly allowedNetworks: (address: string) => boolean) {}

  /** Why this address may not be dialled, or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (!NON_PUBLIC.check(address, family) || this.allowedNetworks(address)) return undefined;
    return `${address} is a ${describe(address)} address`;
  }

  /** Resolves the host and checks every address it has; undefined when all may be dialled. */
  async check(hostname: string): Promise<string | undefined> {
    const host = hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    try {
      addresses = net.isIP(host) ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
    } catch (err) {
      return `bot host ${host} does not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    for (const address of addresses) {
      const refusal = this.refusal(address);
      if (refusal) return `bot host ${host} resolves to ${refusal}`;
    }
    return undefined;
  }

  /** A DNS lookup for the WebSocket connection that applies the same rule, so a name cannot change its answer
   * between the check and the connection. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '', 0);
        return;
      }
      const refused = addresses.map((a) => this.refusal(a.address)).find((r) => r !== undefined);
      if (refused) {
        callback(Object.assign(new Error(`bot address refused: ${refused}`), { code: 'EBOTADDRESS' }), '', 0);
      } else if (options.all) {
        (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, addresses[0]!.address, addresses[0]!.family);
      }
    });
  };
}
