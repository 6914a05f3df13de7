// A From or To header as the call layer sees it: the same Party whichever backend received the INVITE.
import type { NameAddr } from './message.js';
import { parseNameAddr, parseUri } from './parser.js';
import type { Party } from './types.js';

/** The URI's user part percent-decoded ("%2B91..." is "+91..."), the display name unquoted and unescaped. */
export function partyOf(addr: NameAddr): Party {
  const uri = parseUri(addr.uri);
  const tag = addr.params.get('tag');
  return {
    uri: addr.uri,
    ...(uri.ok && uri.value.user !== undefined && { user: decodeURIComponentSafe(uri.value.user) }),
    ...(addr.displayName !== undefined && { displayName: addr.displayName }),
    ...(typeof tag === 'string' && { tag }),
  };
}

/** A From or To header value as received; undefined when it does not parse. */
export function partyOfHeader(value: string): Party | undefined {
  const addr = parseNameAddr(value);
  return addr.ok ? partyOf(addr.value) : undefined;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
