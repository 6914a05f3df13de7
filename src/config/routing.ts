// The recording section and the routes that pick a bot per call (and may override its recording).
import { z } from 'zod';
import { botProtocol, httpUrl, regex, sampleRate, upgradeHeaders, wsUrl } from './fields.js';

/** A URL the recording is PUT to after the call; `{call_sid}` in it becomes the call's (sanitised) sid. */
const uploadUrl = z.string().refine((text) => {
  try {
    return ['http:', 'https:'].includes(new URL(text.replaceAll('{call_sid}', 'x')).protocol);
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL');

/** A call's recording (see README, Recording). */
export const recording = z.strictObject({
  /** Files go to <dir>/<call_sid>.wav. */
  dir: z.string().min(1),
  /** dual: the caller left, what the caller heard right; mono: the two mixed. */
  channels: z.enum(['dual', 'mono']).default('dual'),
  format: z.literal('wav').default('wav'),
  /** Audio reaches the disk, and the header is updated, this often. */
  flushMs: z.number().int().min(20).max(10_000).default(1000),
  /** PUT the file here after the call (e.g. an S3 pre-signed URL), retried as webhooks are. */
  upload: uploadUrl.optional(),
  /** After a successful upload, keep the local file (true) or remove it. */
  keepLocal: z.boolean().default(true),
});

export const route = z
  .strictObject({
    header: z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name'),
    equals: z.string().optional(),
    matches: regex.optional(),
    url: wsUrl,
    sampleRate: sampleRate.optional(),
    /** This route's bot protocol, instead of `bot.protocol`. */
    protocol: botProtocol.optional(),
    /** Added to `bot.headers` (a header named in both takes this value) on this route's upgrade requests. */
    headers: upgradeHeaders.optional(),
    /** Post-call report for this route's calls, instead of `webhook.url`. */
    webhook: httpUrl.optional(),
    /** bidirectional: the bot's audio is played to the caller; listen: the bot only hears the caller. */
    mode: z.enum(['bidirectional', 'listen']).default('bidirectional'),
    /** Recording for this route's calls, instead of the global `recording`; false records none. */
    recording: z.union([recording, z.literal(false)]).optional(),
  })
  .refine((r) => (r.equals === undefined) !== (r.matches === undefined), 'set exactly one of "equals" and "matches"');
