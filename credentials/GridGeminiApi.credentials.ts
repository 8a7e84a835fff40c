/** Google Gemini API key, endpoint and model for the Grid Proposer's Gemini operation. */
import type { IAuthenticateGeneric, Icon, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

export class GridGeminiApi implements ICredentialType {
  name = 'gridGeminiApi';

  displayName = 'Grid Gemini API';

  icon: Icon = { light: 'file:../icons/gemini.svg', dark: 'file:../icons/gemini.dark.svg' };

  documentationUrl = 'https://ai.google.dev/gemini-api/docs/api-key';

  properties: INodeProperties[] = [
    { displayName: 'API Key', name: 'apiKey', type: 'string', typeOptions: { password: true }, default: '', required: true },
    {
      displayName: 'Base URL',
      name: 'baseUrl',
      type: 'string',
      default: 'https://generativelanguage.googleapis.com',
      description: 'Change only for a proxy or a local test server',
    },
    { displayName: 'Model', name: 'model', type: 'string', default: 'gemini-2.5-flash' },
    { displayName: 'API Version', name: 'apiVersion', type: 'string', default: 'v1beta', description: 'Pinned: SDK releases differ in their default' },
  ];

  authenticate: IAuthenticateGeneric = {
    type: 'generic',
    properties: { headers: { 'x-goog-api-key': '={{ $credentials.apiKey }}' } },
  };

  // Reading the model's metadata proves the key, the endpoint and the model name at once.
  test: ICredentialTestRequest = {
    request: {
      baseURL: '={{ $credentials.baseUrl }}',
      url: '=/{{ $credentials.apiVersion }}/models/{{ $credentials.model }}',
      method: 'GET',
    },
  };
}
