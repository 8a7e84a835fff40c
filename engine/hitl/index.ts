/** Human-in-the-loop: Linear webhooks → recorded human decisions. */
export { verifyLinearSignature, type WebhookVerdict, type WebhookRejectCode } from './verify';
export { LinearHitl, type HitlOptions, type HitlResponse } from './receiver';
