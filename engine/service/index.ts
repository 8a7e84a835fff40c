/** The grid's HTTP API (`grid serve`). */
export { startService, serviceOptionsFromEnv, applyStatus, type ServiceOptions, type RunningService } from './server';
export { HealthChecker, type HealthOptions, type HealthResult } from './health';
export { HttpError, safeEqual } from './http';
