// Answers to the in-dialog requests that leave the dialog as it is: INFO DTMF, OPTIONS, NOTIFY of our REFER, REFER, others.
import { DTMF_INFO_TYPES, parseDtmfInfo } from './dtmf-info.js';
import type { ReferSubscription } from './refer.js';
import { ALLOW, buildResponse, NOT_A_TRANSFER_TARGET, warningValue } from './responses.js';
import type { ServerTransaction } from './transaction.js';

/** What such a request may reach in the dialog. */
export interface AnswerTarget {
  /** The REFER whose subscription is open, if any. */
  readonly refer: ReferSubscription | undefined;
  dtmf(digit: string, durationMs: number | undefined): void;
}

/** Answers a request that is not BYE, INVITE or UPDATE; `body` is its text, '' when empty. */
export function answerInDialog(tx: ServerTransaction, body: string, target: AnswerTarget): void {
  const { request } = tx;
  switch (request.method) {
    case 'INFO': {
      const press = parseDtmfInfo(request.headers.get('content-type') ?? '', body);
      if (!press) {
        tx.respond(buildResponse(tx, 415, 'Unsupported Media Type', { headers: [['Accept', DTMF_INFO_TYPES.join(', ')]] }));
        return;
      }
      tx.respond(buildResponse(tx, 200, 'OK'));
      target.dtmf(press.digit, press.durationMs);
      return;
    }
    case 'OPTIONS': {
      tx.respond(buildResponse(tx, 200, 'OK', { headers: [['Allow', ALLOW]] }));
      return;
    }
    case 'NOTIFY': {
      answerNotify(tx, body, target.refer);
      return;
    }
    case 'REFER': {
      tx.respond(buildResponse(tx, 403, 'Forbidden', { headers: [['Warning', warningValue(399, NOT_A_TRANSFER_TARGET)]] }));
      return;
    }
    default:
      tx.respond(buildResponse(tx, 405, 'Method Not Allowed', { headers: [['Allow', ALLOW]] }));
  }
}

/** RFC 3515 NOTIFY for our REFER's implicit subscription (Event: refer;id=<REFER CSeq>); anything else is 481. */
function answerNotify(tx: ServerTransaction, body: string, refer: ReferSubscription | undefined): void {
  const { request } = tx;
  const event = request.headers.get('event') ?? '';
  const [pkg, ...params] = event.split(';').map((p) => p.trim());
  const id = params.find((p) => /^id=/i.test(p))?.slice(3);
  if (pkg?.toLowerCase() !== 'refer' || !refer || (id !== undefined && Number(id) !== refer.id)) {
    tx.respond(buildResponse(tx, 481, 'Subscription Does Not Exist'));
    return;
  }
  tx.respond(buildResponse(tx, 200, 'OK'));
  refer.notified({ body, subscriptionState: request.headers.get('subscription-state') });
}
