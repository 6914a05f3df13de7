// HTTP: health and Prometheus metrics endpoints for operators.
export { BridgeMetrics, type LiveCalls } from './metrics.js';
export { CallApi, type ApiOptions } from './api.js';
export { startHttpServer, type HttpOptions, type HttpServer } from './server.js';
export { trackHosts } from './host-metrics.js';
