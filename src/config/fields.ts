// Field validators the config sections share: ports, hosts, URLs, sample rates, bot protocol and headers, regexes.
import { z } from 'zod';

export const port = z.number().int().min(0).max(65535);
export const host = z.string().min(1);

export const listener = (defaultPort: number) => z.strictObject({ host: host.default('127.0.0.1'), port: port.default(defaultPort) });

/** A URL with one of `schemes` (e.g. "ws"), parsed. */
const urlWith = (schemes: readonly [string, string]) =>
  z
    .string()
    .refine((text) => {
      try {
        return schemes.includes(new URL(text).protocol.slice(0, -1));
      } catch {
        return false;
      }
    }, `must be a ${schemes[0]}:// or ${schemes[1]}:// URL`)
    .transform((text) => new URL(text));

export const wsUrl = urlWith(['ws', 'wss']);
export const httpUrl = urlWith(['http', 'https']);

export const sampleRate = z.union([z.literal(8000), z.literal(16000), z.literal(24000)], { error: 'must be 8000, 16000 or 24000' });

/** How the bridge talks to a bot (README "Bot protocols"). */
export const botProtocol = z.enum(['exotel', 'twilio', 'raw']);

/** Headers added to the WebSocket upgrade (e.g. Authorization); their values are never logged. */
export const upgradeHeaders = z.record(
  z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a header name'),
  z.string().refine((v) => !/[\r\n\0]/.test(v), 'must not hold CR, LF or NUL'),
);

export const regex = z.string().transform((pattern, ctx) => {
  try {
    return new RegExp(pattern);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}` });
    return z.NEVER;
  }
});
