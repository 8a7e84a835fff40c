/**
 * Linear API key and team for dispute / breaker tickets, and the signing secret of the Linear
 * webhook that reports ticket decisions back (Grid Linear Trigger).
 */
import type { IAuthenticateGeneric, Icon, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

export class GridLinearApi implements ICredentialType {
  name = 'gridLinearApi';

  displayName = 'Grid Linear API';

  icon: Icon = { light: 'file:../icons/linear.svg', dark: 'file:../icons/linear.dark.svg' };

  documentationUrl = 'https://linear.app/developers/graphql#personal-api-keys';

  properties: INodeProperties[] = [
    { displayName: 'API Key', name: 'apiKey', type: 'string', typeOptions: { password: true }, default: '', required: true },
    {
      displayName: 'API URL',
      name: 'apiUrl',
      type: 'string',
      default: 'https://api.linear.app/graphql',
      description: 'GraphQL endpoint; change only for a proxy or a local test server',
    },
    {
      displayName: 'Team',
      name: 'teamId',
      type: 'string',
      default: '',
      description: 'Team ID or key (e.g. ENG) tickets are opened in; empty works only when the workspace has exactly one team',
    },
    {
      displayName: 'Dispute Label',
      name: 'label',
      type: 'string',
      default: 'dispute',
      description: 'Label put on every dispute ticket, next to a label named after the rejection code (created if missing)',
    },
    {
      displayName: 'Webhook Signing Secret',
      name: 'webhookSecret',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      description: 'Signing secret of the Linear webhook pointed at the Grid Linear Trigger (needed for decisions only)',
    },
  ];

  // Linear takes a personal API key as-is, without "Bearer".
  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: { headers: { Authorization: '={{ $credentials.apiKey }}' } },
  };

  test: ICredentialTestRequest = {
    request: {
      url: '={{ $credentials.apiUrl }}',
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: { query: '{ viewer { id } }' },
    },
  };
}
