// Bots: routing a call to a bot URL and protocol, and the WebSocket session speaking it (Exotel AgentStream by default).
export { BotAddressPolicy } from './address-policy.js';
export { addressList, parseCidr, type AddressList } from './cidr.js';
export { BOT_PROTOCOLS, createBotProtocol, type AudioEncoding, type BotAudio, TWILIO_SAMPLE_RATE, type BotProtocol, type BotProtocolName, type StopReason, type StreamStart } from './protocols/index.js';
export { accountSid, customHeaderProblem, DEFAULT_ACCOUNT_SID, customParameters, routeCall, type BotSampleRate, type HeaderLimits, type Route, type RouteDecision, type RoutingOptions } from './routing.js';
export { BotConnectError, BotSession, redactUrl, USER_AGENT, type BotConnectOptions, type BotMessageStats, type BotSessionEvents } from './session.js';
