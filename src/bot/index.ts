// Bots: routing a call to a bot URL, and the WebSocket session speaking the Exotel AgentStream protocol.
export { BotAddressPolicy } from './address-policy.js';
export type { StopReason, StreamStart } from './protocol.js';
export { accountSid, customHeaderProblem, DEFAULT_ACCOUNT_SID, customParameters, routeCall, type BotSampleRate, type HeaderLimits, type Route, type RouteDecision, type RoutingOptions } from './routing.js';
export { BotConnectError, BotSession, redactUrl, type BotConnectOptions, type BotMessageStats, type BotSessionEvents } from './session.js';
