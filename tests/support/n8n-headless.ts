/**
 * Headless n8n runner for tests: loads a community package with n8n-core's own
 * `PackageDirectoryLoader` (the loader real n8n uses, including its check of the package.json `n8n`
 * section) and runs a workflow JSON (the same file `n8n import:workflow` takes) with n8n-core's
 * `WorkflowExecute`. No server, no database, no n8n CLI — a run costs milliseconds, so node tests
 * can exercise real n8n execution semantics (parameters, credentials, continueOnFail, multiple
 * outputs, paired items) on Node 20, while `scripts/n8n-real.sh` proves the same package in real n8n.
 *
 * `n8n-nodes-base` is NOT installed (it is huge), so `n8n-nodes-base.manualTrigger` is provided by
 * a built-in copy of the real ManualTrigger node (same description, same `trigger()` that emits one
 * empty item), so the engine takes the same trigger path as in n8n. See `n8n-headless-support.ts`.
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as N8nCore from 'n8n-core';
import type {
  ICredentialDataDecryptedObject,
  IDataObject,
  INode,
  INodeExecutionData,
  INodeType,
  INodeTypes,
  IConnections,
  IPinData,
  IRun,
  IVersionedNodeType,
  IWorkflowBase,
  IWorkflowExecuteAdditionalData,
  IWorkflowSettings,
  WorkflowExecuteMode,
} from 'n8n-workflow';
import { NodeHelpers, Workflow } from 'n8n-workflow';
import {
  HeadlessCredentialsHelper,
  HeadlessRunnerError,
  MANUAL_TRIGGER_TYPE,
  ManualTrigger,
  type CredentialTypeSource,
} from './n8n-headless-support';

export { HeadlessRunnerError } from './n8n-headless-support';

/**
 * WHY a limit: a node that never resolves would otherwise hang mocha until its global timeout with
 * no hint of which node hung. Test-only, so it lives here rather than in validator/limits.ts.
 */
export const HEADLESS_DEFAULT_TIMEOUT_MS = 30_000;

/** The JSON shape `n8n import:workflow` accepts (the fields the engine needs). */
export interface WorkflowJson {
  id?: string;
  name?: string;
  nodes: INode[];
  connections: IConnections;
  settings?: IWorkflowSettings;
  pinData?: IPinData;
  staticData?: IDataObject;
}

/**
 * Credentials the nodes will receive from `getCredentials(type)`, as plain (decrypted) data.
 * Key: `"<credentialType>/<credentialName>"` (the name the node's `credentials` entry references)
 * takes precedence over the bare `"<credentialType>"`.
 */
export type HeadlessCredentials = Record<string, ICredentialDataDecryptedObject>;

export interface RunWorkflowOptions {
  /** Package root: holds package.json with the `n8n` section; node paths are `dist/...`. */
  packageDir: string;
  /** Workflow object, or a path to a workflow JSON file. */
  workflow: WorkflowJson | string;
  credentials?: HeadlessCredentials;
  /** Name of the node to start from; default: n8n's own choice (`Workflow.getStartNode`). */
  startNode?: string;
  /** Default `manual`, the mode the editor's "Execute workflow" uses (triggers emit once). */
  mode?: WorkflowExecuteMode;
  timeoutMs?: number;
}

export interface HeadlessRunResult {
  /** n8n's execution status: 'success' | 'error' | 'canceled' | ... */
  status: IRun['status'];
  /** Per node, per output index, the `json` of each item of the node's LAST run. */
  nodes: Record<string, IDataObject[][]>;
  /** Same as `nodes`, but the full items (json, binary, pairedItem, error). */
  items: Record<string, INodeExecutionData[][]>;
  /** Node names in the order they finished. */
  executedNodes: string[];
  /** The execution's error (the node that failed without continueOnFail), if any. */
  error?: { message: string; node?: string; description?: string };
  durationMs: number;
  /** The raw IRun, for anything the summary above leaves out. */
  run: IRun;
}

type Core = typeof N8nCore;
let core: Core | undefined;

/**
 * n8n-core is required lazily: its InstanceSettings derive ~/.n8n from N8N_USER_FOLDER when first
 * built and write an encryption-key file there, so the variable must point at a temp dir before.
 */
function loadCore(): Core {
  if (core) return core;
  if (!process.env.N8N_USER_FOLDER) {
    const folder = mkdtempSync(join(tmpdir(), 'grid-n8n-headless-'));
    process.env.N8N_USER_FOLDER = folder;
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  }
  // n8n's winston logger writes to stdout (each failing node twice) and would garble mocha's output.
  process.env.N8N_LOG_LEVEL ??= 'silent';
  core = require('n8n-core') as Core;
  return core;
}

interface LoadedPackage {
  packageName: string;
  loader: N8nCore.PackageDirectoryLoader;
}

const packages = new Map<string, Promise<LoadedPackage>>();

/** Loads (once per process and directory) a package with n8n-core's PackageDirectoryLoader. */
export function loadPackage(packageDir: string): Promise<LoadedPackage> {
  if (!existsSync(join(packageDir, 'package.json'))) {
    return Promise.reject(new HeadlessRunnerError('N8N_HEADLESS_PACKAGE_NOT_FOUND', `no package.json in ${packageDir}`));
  }
  const key = realpathSync(packageDir);
  let loaded = packages.get(key);
  if (!loaded) {
    loaded = (async () => {
      const loader = new (loadCore().PackageDirectoryLoader)(key);
      await loader.loadAll();
      // n8n silently loads nothing from such a package; here that is a mistake worth naming.
      const nodes = loader.packageJson.n8n?.nodes;
      if (!Array.isArray(nodes) || nodes.length === 0) {
        throw new HeadlessRunnerError(
          'N8N_HEADLESS_NOT_A_NODE_PACKAGE',
          `${key}/package.json has no "n8n.nodes" list, so n8n would load no node from it`,
        );
      }
      return { packageName: loader.packageName, loader };
    })();
    loaded.catch(() => packages.delete(key));
    packages.set(key, loaded);
  }
  return loaded;
}

/** INodeTypes over one loaded package plus the built-in manual trigger. */
class HeadlessNodeTypes implements INodeTypes {
  private readonly builtIn: Record<string, INodeType> = { [MANUAL_TRIGGER_TYPE]: new ManualTrigger() };

  constructor(private readonly pkg: LoadedPackage) {}

  getByName(nodeType: string): INodeType | IVersionedNodeType {
    const builtIn = this.builtIn[nodeType];
    if (builtIn) return builtIn;
    const prefix = `${this.pkg.packageName}.`;
    const local = nodeType.startsWith(prefix) ? nodeType.slice(prefix.length) : undefined;
    const loaded = local === undefined ? undefined : this.pkg.loader.nodeTypes[local];
    if (!loaded) {
      throw new HeadlessRunnerError(
        'N8N_HEADLESS_UNKNOWN_NODE_TYPE',
        `node type "${nodeType}" is neither in package ${this.pkg.packageName} ` +
          `(${Object.keys(this.getKnownTypes()).join(', ')}) nor built in`,
      );
    }
    return loaded.type;
  }

  getByNameAndVersion(nodeType: string, version?: number): INodeType {
    return NodeHelpers.getVersionedNodeType(this.getByName(nodeType), version);
  }

  getKnownTypes(): IDataObject {
    const known: IDataObject = { [MANUAL_TRIGGER_TYPE]: { className: 'ManualTrigger', sourcePath: '(built in)' } };
    for (const [name, info] of Object.entries(this.pkg.loader.known.nodes)) {
      known[`${this.pkg.packageName}.${name}`] = { ...info };
    }
    return known;
  }
}

function readWorkflow(workflow: WorkflowJson | string): WorkflowJson {
  const parsed: unknown = typeof workflow === 'string' ? JSON.parse(readFileSync(workflow, 'utf8')) : workflow;
  const wf = parsed as Partial<WorkflowJson> | null;
  if (!wf || !Array.isArray(wf.nodes) || typeof wf.connections !== 'object' || wf.connections === null) {
    throw new HeadlessRunnerError('N8N_HEADLESS_BAD_WORKFLOW', 'workflow JSON needs a "nodes" array and a "connections" object');
  }
  return wf as WorkflowJson;
}

/** The additional data the CLI normally builds (WorkflowExecuteAdditionalData.getBase). */
function additionalData(
  credentialsHelper: HeadlessCredentialsHelper,
  hooks: N8nCore.ExecutionLifecycleHooks,
  executionId: string,
  timeoutMs: number,
): IWorkflowExecuteAdditionalData {
  const unsupported = (what: string) => async (): Promise<never> => {
    throw new HeadlessRunnerError('N8N_HEADLESS_UNSUPPORTED', `${what} is not available in the headless runner`);
  };
  // Every URL must parse: getNodeParameter builds `new URL(webhookWaitingBaseUrl)` for $execution.
  const base = 'http://127.0.0.1:5678';
  const data = {
    credentialsHelper,
    hooks,
    executionId,
    executeWorkflow: unsupported('executeWorkflow (sub-workflows)'),
    getRunExecutionData: async () => undefined,
    getRuntimeCredential: async () => undefined,
    startRunnerTask: unsupported('task runners (Code node)'),
    logAiEvent: () => undefined,
    currentNodeExecutionIndex: 0,
    restApiUrl: `${base}/rest`,
    instanceBaseUrl: `${base}/`,
    formBaseUrl: `${base}/form`,
    formWaitingBaseUrl: `${base}/form-waiting`,
    formTestBaseUrl: `${base}/form-test`,
    webhookBaseUrl: `${base}/webhook`,
    webhookWaitingBaseUrl: `${base}/webhook-waiting`,
    webhookTestBaseUrl: `${base}/webhook-test`,
    mcpBaseUrl: `${base}/mcp`,
    mcpTestBaseUrl: `${base}/mcp-test`,
    variables: {},
    executionTimeoutTimestamp: Date.now() + timeoutMs,
  };
  return data as unknown as IWorkflowExecuteAdditionalData;
}

let executionCounter = 0;

/** Runs one workflow headlessly and returns every node's output items. */
export async function runWorkflow(options: RunWorkflowOptions): Promise<HeadlessRunResult> {
  const started = Date.now();
  const n8n = loadCore();
  const pkg = await loadPackage(options.packageDir);
  const wfJson = readWorkflow(options.workflow);
  const mode: WorkflowExecuteMode = options.mode ?? 'manual';
  const timeoutMs = options.timeoutMs ?? HEADLESS_DEFAULT_TIMEOUT_MS;
  const nodeTypes = new HeadlessNodeTypes(pkg);
  const workflow = new Workflow({
    id: wfJson.id ?? 'headless',
    name: wfJson.name,
    nodes: wfJson.nodes,
    connections: wfJson.connections,
    active: false,
    nodeTypes,
    staticData: wfJson.staticData,
    settings: { executionOrder: 'v1', ...wfJson.settings },
    pinData: wfJson.pinData,
  });

  const startNode = options.startNode === undefined ? undefined : (workflow.getNode(options.startNode) ?? undefined);
  if (options.startNode !== undefined && !startNode) {
    throw new HeadlessRunnerError('N8N_HEADLESS_NO_START_NODE', `start node "${options.startNode}" is not in the workflow`);
  }

  const executionId = `headless-${process.pid}-${++executionCounter}`;
  const workflowData = { ...wfJson, id: workflow.id, active: false } as unknown as IWorkflowBase;
  const hooks = new n8n.ExecutionLifecycleHooks(mode, executionId, workflowData);
  const executedNodes: string[] = [];
  hooks.addHandler('nodeExecuteAfter', (nodeName) => {
    executedNodes.push(nodeName);
  });
  const credentialTypes: CredentialTypeSource = (type) => pkg.loader.credentialTypes[type]?.type;
  const helper = new HeadlessCredentialsHelper(options.credentials ?? {}, credentialTypes);
  const data = additionalData(helper, hooks, executionId, timeoutMs);

  const execution = new n8n.WorkflowExecute(data, mode).run({ workflow, startNode, pinData: wfJson.pinData });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      execution.cancel();
      reject(new HeadlessRunnerError('N8N_HEADLESS_TIMEOUT', `workflow did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  let run: IRun;
  try {
    run = await Promise.race([execution, timedOut]);
  } finally {
    clearTimeout(timer);
  }
  return summarize(run, executedNodes, Date.now() - started);
}

function summarize(run: IRun, executedNodes: string[], durationMs: number): HeadlessRunResult {
  const nodes: Record<string, IDataObject[][]> = {};
  const items: Record<string, INodeExecutionData[][]> = {};
  for (const [name, tasks] of Object.entries(run.data.resultData.runData)) {
    const last = tasks[tasks.length - 1];
    const outputs = (last?.data?.main ?? []).map((output) => output ?? []);
    items[name] = outputs;
    nodes[name] = outputs.map((output) => output.map((item) => item.json));
  }
  const err = run.data.resultData.error as
    | (Error & { node?: { name?: string }; description?: string | null })
    | undefined;
  const error = err
    ? {
        message: err.message,
        // Errors that are not NodeErrors (e.g. thrown by a helper) carry no node: the last node ran is it.
        node: err.node?.name ?? run.data.resultData.lastNodeExecuted,
        description: err.description ?? undefined,
      }
    : undefined;
  return { status: run.status, nodes, items, executedNodes, error, durationMs, run };
}
