/** Alert delivery from the outbox: console (always), Linear and Discord (when configured). */
export * from './types';
export * from './format';
export { ConsoleChannel } from './console';
export { LinearChannel, type LinearChannelOptions } from './linear';
export { DiscordChannel, parseWebhookUrl, type DiscordChannelOptions } from './discord';
export { AlertDispatcher, type DispatcherOptions, type RoundReport, type ClaimedDelivery, type ChannelStats } from './dispatcher';
export { alertConfigFromEnv, channelsFromConfig, createDispatcher, type AlertConfig } from './config';
