// The config's CIDR lists ("10.0.0.0/8", "2001:db8::/32", or a bare address), validated one by one; the matcher is bot/'s.
import { z } from 'zod';
import { addressList, parseCidr } from '../bot/index.js';

/** A config value: a list of CIDRs, validated one by one and turned into an AddressList. */
export const cidrList = z
  .array(z.string().refine((c) => parseCidr(c) !== undefined, 'must be an IP address or CIDR, e.g. 203.0.113.0/24'))
  .transform((cidrs) => addressList(cidrs));
