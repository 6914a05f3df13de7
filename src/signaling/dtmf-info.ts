// Key presses carried in SIP INFO bodies (application/dtmf-relay, application/dtmf): the fallback to RFC 4733.

export interface InfoDigit {
  /** 0-9, *, #, A-D. */
  readonly digit: string;
  readonly durationMs?: number;
}

export const DTMF_INFO_TYPES = ['application/dtmf-relay', 'application/dtmf'] as const;

const EVENT_CODES = '0123456789*#ABCD';

function digitOf(signal: string): string | undefined {
  const s = signal.trim().toUpperCase();
  if (s.length === 1 && EVENT_CODES.includes(s)) return s;
  // Some gateways send the RFC 4733 event code instead: 10 for *, 11 for #.
  if (/^\d{1,2}$/.test(s) && Number(s) < EVENT_CODES.length) return EVENT_CODES[Number(s)];
  return undefined;
}

/** The digit in an INFO body, or undefined when the body is not a key press. */
export function parseDtmfInfo(contentType: string, body: string): InfoDigit | undefined {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/dtmf') {
    const digit = digitOf(body);
    return digit ? { digit } : undefined;
  }
  if (type !== 'application/dtmf-relay') return undefined;
  const fields = new Map<string, string>();
  for (const line of body.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const digit = digitOf(fields.get('signal') ?? '');
  if (!digit) return undefined;
  const duration = Number(fields.get('duration'));
  return Number.isFinite(duration) && duration > 0 ? { digit, durationMs: duration } : { digit };
}
