// Configuration: the YAML file's schema and defaults, loading and validation.
export { configPath, ConfigError, DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from './load.js';
export { isLoopbackHost, parseTrunkUri } from './call-control.js';
export { configSchema, type BridgeConfig, type BridgeConfigInput } from './schema.js';
