// What a test call is asked to do and what it reports: its options, the SIP ladder's entries, the outcome and media.
import type { DtmfDigit } from '../media/dtmf.js';
import type { HeaderFields } from '../signaling/message.js';
import type { ReceptionReport } from './rtp-recorder.js';
import type { CallTarget } from './target.js';

export interface TestCallOptions {
  readonly target: CallTarget;
  /** The calling number: the From user. */
  readonly from: string;
  /** Our address for SIP (Via, Contact), the SDP and RTP. */
  readonly localAddress: string;
  /** Headers for the INVITE; one named like a default (X-Exotel-CallSid, X-Exotel-AccountSid) replaces it. */
  readonly headers: HeaderFields;
  /** The caller's audio, 8 kHz mono. */
  readonly audio: Int16Array;
  /** Silence sent after the audio and key presses, before our BYE. */
  readonly holdMs: number;
  readonly dtmf: readonly DtmfDigit[];
  /** When the first key is pressed, in ms from the answer. */
  readonly dtmfAtMs: number;
  /** Aborting ends the call: CANCEL before the answer, BYE after. */
  readonly signal?: AbortSignal;
  /** Hears each ladder entry as it happens. */
  readonly onLadder?: (entry: LadderEntry) => void;
}

export interface LadderEntry {
  /** ms since the INVITE was sent. */
  readonly atMs: number;
  readonly direction: 'sent' | 'received';
  /** The request line or the status, with what matters about it. */
  readonly summary: string;
  /** The whole message. */
  readonly text: string;
}

/** completed: answered and ended with a BYE answered 200 (either side's); refused: a final failure status to the INVITE. */
export type CallOutcome = 'completed' | 'refused' | 'failed' | 'interrupted';

export interface MediaReport {
  /** The answered codec and telephone-event payload type, e.g. "PCMA, telephone-event/96". */
  readonly format: string;
  readonly packetsSent: number;
  readonly digitsSent: number;
  readonly received: ReceptionReport;
  /** What the bridge sent, 8 kHz mono, from its first packet on. */
  readonly recording: Int16Array;
}

export interface TestCallResult {
  readonly outcome: CallOutcome;
  /** What went wrong, for every outcome but completed. */
  readonly problem?: string;
  /** The INVITE's final response, with the text of its Warning header. */
  readonly final?: { readonly status: number; readonly reason: string; readonly warning?: string };
  /** Who sent the BYE, for answered calls. */
  readonly endedBy?: 'caller' | 'bridge';
  /** X-Exotel-CallSid: the bridge logs the call under it. */
  readonly callSid: string;
  readonly ladder: readonly LadderEntry[];
  /** From the answer to the end of the call. */
  readonly answeredMs: number;
  /** Present once the call was answered with usable SDP. */
  readonly media?: MediaReport;
  /** Things that did not stop the call but did not go as asked. */
  readonly warnings: readonly string[];
}
