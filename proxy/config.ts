/**
 * The proxy's configuration: the schema of every knob (config/schema.ts and its sections), loading
 * (config/load.ts). The knob table is docs/configuration.md, generated from the schema (`npm run gen:docs`).
 */
export { ADMIN_TOKEN_MIN, ProxyKnobs, type GuardConfig, type ProxyConfig } from './config/schema.js';
export { parseStaticTopology, type StaticTopologyConfig } from './config/topology.js';
export { PROXY_DEFAULTS, loadProxyConfig, parseProxyFlags, redactConfig, validateProxyConfig, type LoadOptions } from './config/load.js';
