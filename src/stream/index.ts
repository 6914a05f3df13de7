// Stream legs: one call's RTP socket, media session and bot WebSocket, run in this thread or in a media worker.
export { LegOpenError, type BotControlMessage, type HostLimits, type HostLoad, type HostSettings, type LegEnd, type LegObserver, type LegRecording, type LegReport, type LegSpec, type LiveMedia, type MediaHost, type PeerBot, type StreamLeg, type StreamLegEvents } from './types.js';
export { createMediaHost } from './host.js';
export { createLocalHost } from './local-host.js';
export { overLimit, preferredHost } from './host-order.js';
