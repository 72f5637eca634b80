export { createServer, type MailwharfServer, type ServerOptions } from './server.js';
export { loadConfigFile, validateConfig, ConfigError, bundledConfigDir } from './config/load.js';
export type { Config, ConfigInput, Policy, ListenerConfig } from './config/schema.js';
export { replies, renderReply, type SmtpReply } from './smtp/replies.js';
export type { Envelope } from './spool/envelope.js';
export { hashPassword } from './auth/passwords.js';
export { startMailwharf, type Mailwharf, type StartOptions } from './fixture/start.js';
export type { CapturedMessage, MessageFilter, MessageFilterFields, TextPattern } from './fixture/captured.js';
export type { FaultRule, FaultStage, AddressPattern } from './faults/rules.js';
