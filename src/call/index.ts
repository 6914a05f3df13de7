// Calls: the per-call orchestrators (inbound and outbound) that own a dialog and control a stream leg (media and bot,
// on a media host), the set of live calls, and the API's call control.
export { Call, type CallEvents, type CallMediaOptions, type CallOptions, type CallState, type EndCause, type Rejection } from './call.js';
export { CallControl, type CallControlOptions, type HangupResult, type PlaceRequest } from './control.js';
export { CallManager, type AdmissionLimits, type CallManagerEvents, type ManagedCall } from './manager.js';
export { OutboundCall, type OutboundCallEvents, type OutboundRequest } from './outbound.js';
export { FINAL_STATUSES, RecordStore, statusOfFailure, type CallRecord, type CallStatus } from './records.js';
export type { CallObserver, CallReport, LatencyReport } from './report.js';
export { destination, NUMBER, Pacer, pickTrunk, type Refusal, type Trunk } from './trunks.js';
export { RecordingUploader, type RecordingSettings, type StreamPolicy, type UploadResult } from './recording.js';
export { WebhookSender, type WebhookOptions } from './webhook.js';
