// Bots: routing a call to a bot URL, and the WebSocket session speaking the Exotel AgentStream protocol.
export type { StopReason, StreamStart } from './protocol.js';
export { customParameters, routeCall, type BotSampleRate, type Route, type RouteDecision, type RoutingOptions } from './routing.js';
export { BotConnectError, BotSession, redactUrl, type BotConnectOptions, type BotSessionEvents } from './session.js';
