/** A Discord channel webhook for Grid alerts: its URL, or its id and token (+ API base for testing). */
import type { Icon, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

export class GridDiscordWebhookApi implements ICredentialType {
  name = 'gridDiscordWebhookApi';

  displayName = 'Grid Discord Webhook API';

  icon: Icon = { light: 'file:../icons/discord.svg', dark: 'file:../icons/discord.dark.svg' };

  documentationUrl = 'https://support.discord.com/hc/en-us/articles/228383668-Intro-to-Webhooks';

  properties: INodeProperties[] = [
    {
      displayName: 'Connection',
      name: 'connection',
      type: 'options',
      default: 'url',
      options: [
        { name: 'ID and Token', value: 'idToken' },
        { name: 'Webhook URL', value: 'url' },
      ],
    },
    // eslint-disable-next-line @n8n/community-nodes/credential-unnecessary-password -- the webhook URL ends in the webhook's token: whoever has it can post to the channel
    {
      displayName: 'Webhook URL',
      name: 'webhookUrl',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      placeholder: 'https://discord.com/api/webhooks/ID/TOKEN',
      displayOptions: { show: { connection: ['url'] } },
    },
    { displayName: 'Webhook ID', name: 'webhookId', type: 'string', default: '', displayOptions: { show: { connection: ['idToken'] } } },
    {
      displayName: 'Webhook Token',
      name: 'webhookToken',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      displayOptions: { show: { connection: ['idToken'] } },
    },
    {
      displayName: 'API Base',
      name: 'apiBase',
      type: 'string',
      default: 'https://discord.com/api',
      description: 'REST base; change only for a proxy or a local test server',
      displayOptions: { show: { connection: ['idToken'] } },
    },
  ];

  // GET on a webhook returns the webhook object: proves id and token without posting anything.
  test: ICredentialTestRequest = {
    request: {
      url: '={{ $credentials.connection === "url" ? $credentials.webhookUrl : $credentials.apiBase + "/v10/webhooks/" + $credentials.webhookId + "/" + $credentials.webhookToken }}',
      method: 'GET',
    },
  };
}
