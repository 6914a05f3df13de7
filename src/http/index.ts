// HTTP: health and Prometheus metrics endpoints for operators.
export { startHttpServer, type HttpOptions, type HttpServer } from './server.js';
