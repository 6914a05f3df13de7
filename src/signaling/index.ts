// SIP signaling: the backend-neutral call/dialog interface and the embedded RFC 3261 stack (UAS and UAC) behind it.
export type { HeaderFields } from './message.js';
export { DEFAULT_TIMERS, type SipTimers } from './transaction.js';
export { DrachtioBackend, type DrachtioOptions } from './drachtio.js';
export type { BackendStatus, DialFailure, DialRequest, DigestCredentials, Dialog, OutgoingCall, OutgoingCallEvents, DialogEvents, IncomingCall, IncomingCallEvents, Party, RejectDetails, Reoffer, ReofferRefusal, SipBackend, SipBackendEvents, SipProtocol, SipStats } from './types.js';
export { EmbeddedSipBackend, type EmbeddedSipOptions } from './user-agent.js';
export { parseSipfrag, type Refer, type ReferEvents, type ReferOutcome, type ReferRequest } from './refer.js';
