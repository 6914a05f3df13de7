// Calls: the per-call orchestrator that owns a dialog, a media session and a bot session, and the set of live calls.
export { Call, type CallEvents, type CallOptions, type CallState, type EndCause, type Rejection } from './call.js';
export { CallManager, type AdmissionLimits, type CallManagerEvents } from './manager.js';
export type { CallObserver, CallReport, LatencyReport } from './report.js';
export { WebhookSender, type WebhookOptions } from './webhook.js';
