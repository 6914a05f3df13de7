// Picks the bot for a call from its X- headers, and turns the non-reserved X- headers into custom parameters.
import type { BotProtocolName } from './protocols/index.js';

export type BotSampleRate = 8000 | 16000 | 24000;

export interface Route {
  /** Header to look at, e.g. X-Customer-Header (case-insensitive). */
  readonly header: string;
  /** Matches when the value is exactly this. */
  readonly equals?: string;
  /** Or when the value matches this pattern. */
  readonly matches?: RegExp;
  readonly url: URL;
  readonly sampleRate?: BotSampleRate;
  /** The route's protocol, instead of the default. */
  readonly protocol?: BotProtocolName;
  /** Upgrade-request headers, over the default ones. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Where the post-call report of calls this route takes goes, instead of the global webhook. */
  readonly webhook?: URL;
}

export interface RoutingOptions {
  readonly routes: readonly Route[];
  readonly defaultUrl?: URL;
  /** A header that may carry a whole bot URL, accepted only for these hosts (exact, or "*.example.com"). */
  readonly urlHeader?: { readonly name: string; readonly allowedHosts: readonly string[] };
  readonly defaultSampleRate: BotSampleRate;
  /** exotel when not given. */
  readonly defaultProtocol?: BotProtocolName;
  /** Upgrade-request headers for every bot (e.g. Authorization). */
  readonly defaultHeaders?: Readonly<Record<string, string>>;
}

export type RouteDecision =
  | {
      readonly ok: true;
      /** The bot URL with sample-rate and the custom parameters in its query. */
      readonly url: URL;
      readonly sampleRate: BotSampleRate;
      readonly protocol: BotProtocolName;
      /** Headers for the upgrade request: the defaults, then the route's. */
      readonly headers: Readonly<Record<string, string>>;
      /** The URL's query parameters but sample-rate: its own, then the call's X- headers. */
      readonly customParameters: Readonly<Record<string, string>>;
      /** How the URL was chosen, for logs. */
      readonly via: string;
      /** The URL came from a call header: it must pass the address policy before it is dialled. */
      readonly fromHeader: boolean;
      /** The chosen route's own webhook. */
      readonly webhookUrl?: URL;
      /** Which of `routes` was chosen (0-based), when one was. */
      readonly routeIndex?: number;
    }
  | { readonly ok: false; readonly status: 403 | 404; readonly reason: string };

const RESERVED_PREFIXES = ['x-exotel-', 'x-veeno-'];
/** The call's account, not a custom parameter: Exotel's header first, then the one a PBX sends StreamKit. */
const ACCOUNT_SID_HEADERS = ['x-exotel-accountsid', 'x-account-sid'];
const RATES: readonly number[] = [8000, 16000, 24000];

type Headers = ReadonlyArray<readonly [string, string]>;

function headerValue(headers: Headers, name: string): string | undefined {
  const key = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === key)?.[1];
}

/** account_sid for calls that carry none (and for calls the bridge places). */
export const DEFAULT_ACCOUNT_SID = 'self-hosted';

/** The account the call belongs to, from the first of the account headers it carries (empty values skipped). */
export function accountSid(headers: Headers): string | undefined {
  for (const name of ACCOUNT_SID_HEADERS) {
    const value = headerValue(headers, name)?.trim();
    if (value) return value;
  }
  return undefined;
}

/**
 * X- headers that reach the bot: not reserved by the platform, not an account header, not the URL header. Keys lose
 * their "X-".
 */
export function customParameters(headers: Headers, urlHeader?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-') || RESERVED_PREFIXES.some((p) => lower.startsWith(p))) continue;
    if (ACCOUNT_SID_HEADERS.includes(lower)) continue;
    if (urlHeader && lower === urlHeader.toLowerCase()) continue;
    out[name.slice(2)] = value;
  }
  return out;
}

export interface HeaderLimits {
  /** The custom X- headers together (names and values, UTF-8 bytes). */
  readonly customHeaderBytes: number;
  readonly uuiHeader: string;
  readonly uuiBytes: number;
}

/** What is wrong with a call's custom headers by Exotel's limits, or undefined. */
export function customHeaderProblem(headers: Headers, limits: HeaderLimits): string | undefined {
  const uui = headerValue(headers, limits.uuiHeader);
  if (uui !== undefined && Buffer.byteLength(uui) > limits.uuiBytes) {
    return `${limits.uuiHeader} is ${Buffer.byteLength(uui)} bytes; the limit is ${limits.uuiBytes}`;
  }
  const custom = Object.entries(customParameters(headers));
  const bytes = custom.reduce((n, [name, value]) => n + Buffer.byteLength(`X-${name}`) + Buffer.byteLength(value), 0);
  if (bytes > limits.customHeaderBytes) {
    return `custom X- headers are ${bytes} bytes together; the limit is ${limits.customHeaderBytes}`;
  }
  return undefined;
}

export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

export function routeCall(headers: Headers, options: RoutingOptions): RouteDecision {
  let chosen: { url: URL; sampleRate?: BotSampleRate; protocol?: BotProtocolName; headers?: Readonly<Record<string, string>>; via: string; fromHeader?: true; webhookUrl?: URL; routeIndex?: number } | undefined;
  const headerUrl = options.urlHeader && headerValue(headers, options.urlHeader.name);
  if (options.urlHeader && headerUrl !== undefined) {
    const parsed = parseBotUrl(headerUrl);
    if (!parsed) return { ok: false, status: 403, reason: `${options.urlHeader.name} is not a ws:// or wss:// URL` };
    if (!hostAllowed(parsed.hostname, options.urlHeader.allowedHosts)) {
      return { ok: false, status: 403, reason: `bot host ${parsed.hostname} from ${options.urlHeader.name} is not allowed` };
    }
    chosen = { url: parsed, via: `header ${options.urlHeader.name}`, fromHeader: true };
  }
  for (const [index, route] of options.routes.entries()) {
    if (chosen) break;
    const value = headerValue(headers, route.header);
    if (value === undefined) continue;
    if ((route.equals !== undefined && value === route.equals) || route.matches?.test(value)) {
      chosen = {
        url: route.url,
        ...(route.sampleRate && { sampleRate: route.sampleRate }),
        ...(route.protocol && { protocol: route.protocol }),
        ...(route.headers && { headers: route.headers }),
        ...(route.webhook && { webhookUrl: route.webhook }),
        via: `route ${index + 1} (${route.header})`,
        routeIndex: index,
      };
    }
  }
  if (!chosen && options.defaultUrl) chosen = { url: options.defaultUrl, via: 'default' };
  if (!chosen) return { ok: false, status: 404, reason: 'no route matches the call and no default bot URL is configured' };

  const url = new URL(chosen.url.href);
  const fromUrl = Number(url.searchParams.get('sample-rate'));
  const protocol = chosen.protocol ?? options.defaultProtocol ?? 'exotel';
  // Twilio Media Streams are 8 kHz mu-law, whatever else says.
  const sampleRate = (protocol === 'twilio' ? 8000 : RATES.includes(fromUrl) ? fromUrl : (chosen.sampleRate ?? options.defaultSampleRate)) as BotSampleRate;
  url.searchParams.set('sample-rate', String(sampleRate));
  for (const [key, value] of Object.entries(customParameters(headers, options.urlHeader?.name))) {
    if (!url.searchParams.has(key)) url.searchParams.set(key, value);
  }
  const params: Record<string, string> = {};
  for (const [key, value] of url.searchParams) if (key !== 'sample-rate') params[key] = value;
  return {
    ok: true,
    url,
    sampleRate,
    protocol,
    headers: { ...options.defaultHeaders, ...chosen.headers },
    customParameters: params,
    via: chosen.via,
    fromHeader: chosen.fromHeader ?? false,
    ...(chosen.webhookUrl && { webhookUrl: chosen.webhookUrl }),
    ...(chosen.routeIndex !== undefined && { routeIndex: chosen.routeIndex }),
  };
}

/** A ws:// or wss:// URL, else undefined. */
export function parseBotUrl(text: string): URL | undefined {
  try {
    const url = new URL(text.trim());
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? url : undefined;
  } catch {
    return undefined;
  }
}
