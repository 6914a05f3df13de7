// Address lists written as CIDRs ("10.0.0.0/8", "2001:db8::/32", or a bare address), for allowlists.
import net from 'node:net';

export interface AddressList {
  /** The list as configured, for logs. */
  readonly cidrs: readonly string[];
  has(address: string): boolean;
}

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText] = text.trim().split('/');
  const version = net.isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText))) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** An IPv4 address a dual-stack socket reports as ::ffff:a.b.c.d is checked as the IPv4 address it is. */
function normalize(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  const version = net.isIP(address);
  return version === 0 ? undefined : { address, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function addressList(cidrs: readonly string[]): AddressList {
  const blocks = new net.BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`"${cidr}" is not an IP address or CIDR`);
    blocks.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return {
    cidrs,
    has(address) {
      const a = normalize(address);
      return a !== undefined && blocks.check(a.address, a.family);
    },
  };
}
