export * from './protocol/index.js';
export { startBroker, type EmbeddedBroker, type StartBrokerOptions } from './embedded.js';
export { Broker } from './broker/broker.js';
export { buildBrokerConfig, ConfigError } from './config/load-config.js';
export type { BrokerConfig } from './config/broker-config.js';
