// HTTP: health and Prometheus metrics endpoints for operators.
export { BridgeMetrics, type LiveCall } from './metrics.js';
export { startHttpServer, type HttpOptions, type HttpServer } from './server.js';
