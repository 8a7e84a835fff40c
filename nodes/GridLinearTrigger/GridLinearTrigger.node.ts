/**
 * Grid Linear Trigger — the webhook Linear calls when a ticket changes. It authenticates the
 * delivery at the door (engine/hitl/verify: HMAC-SHA256 of the raw body with the credential's
 * signing secret, ±60 s `webhookTimestamp`) and answers 401 without starting the workflow when it
 * fails. An accepted delivery starts the workflow with the raw body and the headers the Grid
 * Ledger's "Record Linear Decision" needs (it verifies again before acting).
 *
 * Register the production URL shown by n8n as a Linear webhook (Issues events) and put the
 * webhook's signing secret into the Grid Linear API credential.
 */
import {
  NodeConnectionTypes,
  type INodeType,
  type INodeTypeDescription,
  type IWebhookFunctions,
  type IWebhookResponseData,
} from 'n8n-workflow';
import { verifyLinearSignature } from '../../engine/hitl/verify';
import { linearSettings } from '../shared/credentials';

export class GridLinearTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Linear Trigger',
    name: 'gridLinearTrigger',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['trigger'],
    version: 1,
    subtitle: 'Ticket decisions',
    description: 'Starts the workflow when Linear reports a change to a ticket the grid opened (signed webhook)',
    eventTriggerDescription: 'Waiting for a Linear webhook',
    defaults: { name: 'Grid Linear Trigger' },
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'gridLinearApi', required: true }],
    // responseData '' (not n8n's default 'firstEntryJson', which is sent back verbatim in
    // onReceived mode): the answer is then the `webhookResponse` of webhook() below.
    webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', responseData: '', path: 'grid-linear' }],
    properties: [
      {
        displayName: 'Register the production URL above as a Linear webhook (resource: Issues) and copy its signing secret into the credential.',
        name: 'notice',
        type: 'notice',
        default: '',
      },
    ],
  };

  async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
    const req = this.getRequestObject() as unknown as { rawBody?: Buffer; headers: Record<string, string | string[] | undefined> };
    const res = this.getResponseObject();
    const { webhookSecret } = await linearSettings(this);
    const deny = (status: number, code: string, message: string): IWebhookResponseData => {
      res.status(status).json({ error: { code, message } });
      return { noWebhookResponse: true };
    };
    if (!webhookSecret) return deny(503, 'GRID_LINEAR_SECRET_MISSING', 'the Grid Linear API credential has no webhook signing secret');
    const raw = req.rawBody ?? Buffer.alloc(0);
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const verdict = verifyLinearSignature(raw, header('linear-signature'), webhookSecret);
    if (!verdict.ok) return deny(verdict.code === 'WEBHOOK_MALFORMED' ? 400 : 401, verdict.code, verdict.message);
    // The fields of Linear's Issue webhook payload the workflow branches on (signature checked above).
    const p = verdict.payload as { type?: string; action?: string; data?: { identifier?: string; state?: { name?: string } } };
    return {
      webhookResponse: { ok: true, accepted: header('linear-delivery') ?? null },
      workflowData: [
        this.helpers.returnJsonArray([
          {
            rawBody: raw.toString('utf8'),
            headers: { 'linear-signature': header('linear-signature') ?? '', 'linear-delivery': header('linear-delivery') ?? '', 'linear-event': header('linear-event') ?? '' },
            receivedAt: new Date().toISOString(),
            event: { type: p.type ?? null, action: p.action ?? null, issue: p.data?.identifier ?? null, state: p.data?.state?.name ?? null },
          },
        ]),
      ],
    };
  }
}
