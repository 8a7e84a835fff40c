/**
 * Pieces the headless runner (n8n-headless.ts) needs that the n8n CLI normally provides:
 * the runner's error type, a built-in ManualTrigger (n8n-nodes-base is not installed) and a
 * credentials helper serving plain credential data supplied by the test.
 */
import {
  ICredentialsHelper,
  NodeConnectionTypes,
  NodeHelpers,
  type ICredentialDataDecryptedObject,
  type ICredentialType,
  type ICredentials,
  type IHttpRequestHelper,
  type IHttpRequestOptions,
  type INode,
  type INodeCredentialsDetails,
  type INodeParameters,
  type INodeProperties,
  type INodeType,
  type INodeTypeDescription,
  type IRequestOptionsSimplified,
  type ITriggerFunctions,
  type ITriggerResponse,
  type IWorkflowExecuteAdditionalData,
  type Workflow,
} from 'n8n-workflow';

/** Errors of the runner itself (not of the workflow), each with a stable code. */
export class HeadlessRunnerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'HeadlessRunnerError';
  }
}

export const MANUAL_TRIGGER_TYPE = 'n8n-nodes-base.manualTrigger';

/**
 * Same description and behaviour as n8n-nodes-base's ManualTrigger v1 (checked against the copy in
 * n8n@2.41.1): in manual mode the engine calls `manualTriggerFunction`, which emits one empty item.
 * Keeping the real `trigger()` shape means the engine's trigger path runs exactly as in n8n.
 */
export class ManualTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Manual Trigger',
    name: 'manualTrigger',
    icon: 'node:manual-trigger',
    iconColor: 'black',
    group: ['trigger'],
    version: 1,
    description: 'Runs the flow on clicking a button in n8n',
    eventTriggerDescription: '',
    maxNodes: 1,
    defaults: { name: 'When clicking ‘Execute workflow’' },
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    builderHint: { searchHint: 'There can only be one manual trigger node per workflow' },
    properties: [
      {
        displayName: 'This node is where the workflow execution starts (when you click the ‘test’ button on the canvas).',
        name: 'notice',
        type: 'notice',
        default: '',
      },
    ],
  };

  async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
    const manualTriggerFunction = async () => {
      this.emit([this.helpers.returnJsonArray([{}])]);
    };
    return { manualTriggerFunction };
  }
}

export type CredentialTypeSource = (type: string) => ICredentialType | undefined;

/**
 * Serves credentials from plain data keyed `"<type>/<name>"` or `"<type>"`, applying the credential
 * type's defaults like n8n's CredentialsHelper does. Nodes reach it through `getCredentials()`.
 */
export class HeadlessCredentialsHelper extends ICredentialsHelper {
  private readonly store = new Map<string, ICredentialDataDecryptedObject>();

  constructor(
    supplied: Record<string, ICredentialDataDecryptedObject>,
    private readonly credentialTypes: CredentialTypeSource,
  ) {
    super();
    for (const [key, data] of Object.entries(supplied)) this.store.set(key, structuredClone(data));
  }

  private lookup(nodeCredentials: INodeCredentialsDetails, type: string): ICredentialDataDecryptedObject {
    const data = this.store.get(`${type}/${nodeCredentials.name}`) ?? this.store.get(type);
    if (!data) {
      throw new HeadlessRunnerError(
        'N8N_HEADLESS_CREDENTIAL_NOT_SUPPLIED',
        `the workflow uses credential "${nodeCredentials.name}" of type "${type}" but the test supplied ` +
          `neither "${type}/${nodeCredentials.name}" nor "${type}" in runWorkflow({ credentials })`,
      );
    }
    return structuredClone(data);
  }

  private typeOf(name: string): ICredentialType {
    const type = this.credentialTypes(name);
    if (!type) {
      throw new HeadlessRunnerError('N8N_HEADLESS_UNKNOWN_CREDENTIAL_TYPE', `credential type "${name}" is not in the package`);
    }
    return type;
  }

  getParentTypes(name: string): string[] {
    const parents = this.credentialTypes(name)?.extends ?? [];
    return parents.flatMap((parent) => [parent, ...this.getParentTypes(parent)]);
  }

  isCredentialUsableByNode(credentialType: string, nodeType: string): boolean {
    const type = this.credentialTypes(credentialType);
    if (!type?.restrictToSupportedNodes) return true;
    // supportedNodes holds the package-local node names; workflows use "<package>.<node>".
    return (type.supportedNodes ?? []).some((n) => nodeType === n || nodeType.endsWith(`.${n}`));
  }

  getCredentialsProperties(type: string): INodeProperties[] {
    const own = this.typeOf(type).properties;
    // Parents outside the package (e.g. n8n-nodes-base's oAuth2Api) are not available headlessly.
    const inherited = (this.credentialTypes(type)?.extends ?? [])
      .filter((parent) => this.credentialTypes(parent) !== undefined)
      .flatMap((parent) => this.getCredentialsProperties(parent));
    const ownNames = new Set(own.map((p) => p.name));
    return [...inherited.filter((p) => !ownNames.has(p.name)), ...own];
  }

  async getDecrypted(
    _additionalData: IWorkflowExecuteAdditionalData,
    nodeCredentials: INodeCredentialsDetails,
    type: string,
    _mode: unknown,
    _executeData?: unknown,
    raw?: boolean,
  ): Promise<ICredentialDataDecryptedObject> {
    const data = this.lookup(nodeCredentials, type);
    if (raw) return data;
    // As n8n's CredentialsHelper.applyDefaultsAndOverwrites: the node sees exactly the type's declared
    // properties (unset ones get their defaults, undeclared keys are dropped) plus oauthTokenData.
    // Unlike n8n, `={{ ... }}` expressions inside credential values are not resolved.
    const decrypted = NodeHelpers.getNodeParameters(
      this.getCredentialsProperties(type),
      data as INodeParameters,
      true,
      false,
      null,
      null,
    ) as ICredentialDataDecryptedObject;
    if (data.oauthTokenData !== undefined) decrypted.oauthTokenData = data.oauthTokenData;
    return decrypted;
  }

  async getCredentials(nodeCredentials: INodeCredentialsDetails, type: string): Promise<ICredentials> {
    // Encrypted with this process's instance key, exactly like a credential read from n8n's DB.
    const { Credentials } = require('n8n-core') as typeof import('n8n-core');
    const credentials = new Credentials(nodeCredentials, type);
    credentials.setData(this.lookup(nodeCredentials, type));
    return credentials;
  }

  async updateCredentials(nodeCredentials: INodeCredentialsDetails, type: string, data: ICredentialDataDecryptedObject): Promise<void> {
    this.store.set(`${type}/${nodeCredentials.name}`, structuredClone(data));
  }

  async updateCredentialsOauthTokenData(
    nodeCredentials: INodeCredentialsDetails,
    type: string,
    data: ICredentialDataDecryptedObject,
  ): Promise<void> {
    const current = this.store.get(`${type}/${nodeCredentials.name}`) ?? this.store.get(type) ?? {};
    this.store.set(`${type}/${nodeCredentials.name}`, { ...current, ...structuredClone(data) });
  }

  /** As n8n: a function `authenticate` is called; a generic one sets headers/qs/body/auth from `={{$credentials.x}}`. */
  async authenticate(
    credentials: ICredentialDataDecryptedObject,
    typeName: string,
    requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
    workflow?: Workflow,
    node?: INode,
  ): Promise<IHttpRequestOptions> {
    const auth = this.typeOf(typeName).authenticate;
    const options = requestOptions as IHttpRequestOptions;
    if (auth === undefined) return options;
    if (typeof auth === 'function') return await auth(credentials, options);
    if (auth.type !== 'generic') return options;
    const resolve = (value: unknown): unknown => {
      if (typeof value !== 'string' || !value.startsWith('=') || !workflow || !node) return value;
      return workflow.expression.getSimpleParameterValue(node, value, 'internal', { $credentials: credentials }, undefined, '');
    };
    const target = options as unknown as Record<string, Record<string, unknown> | undefined>;
    for (const [section, entries] of Object.entries(auth.properties) as Array<[string, Record<string, unknown>]>) {
      const resolved = Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, resolve(v)]));
      target[section] = { ...(target[section] ?? {}), ...resolved };
    }
    return options;
  }

  /** As n8n: runs the type's `preAuthentication` when its expirable token is empty or expired. */
  async preAuthentication(
    helpers: IHttpRequestHelper,
    credentials: ICredentialDataDecryptedObject,
    typeName: string,
    node: INode,
    credentialsExpired: boolean,
  ): Promise<ICredentialDataDecryptedObject | undefined> {
    const type = this.typeOf(typeName);
    const expirable = type.properties.find((p) => p.type === 'hidden' && p.typeOptions?.expirable === true);
    if (!type.preAuthentication || !expirable) return undefined;
    if (credentials[expirable.name] !== '' && credentials[expirable.name] !== undefined && !credentialsExpired) return undefined;
    const output = (await type.preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject;
    const credName = node.credentials?.[typeName]?.name;
    if (credName !== undefined) {
      await this.updateCredentials({ id: null, name: credName }, typeName, { ...credentials, ...output });
    }
    return { ...credentials, ...output };
  }

  async runPreAuthentication(
    helpers: IHttpRequestHelper,
    credentials: ICredentialDataDecryptedObject,
    typeName: string,
  ): Promise<ICredentialDataDecryptedObject | undefined> {
    const type = this.typeOf(typeName);
    if (!type.preAuthentication) return undefined;
    const output = (await type.preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject;
    return { ...credentials, ...output };
  }
}
