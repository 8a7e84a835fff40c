/**
 * Grid Trigger — starts a workflow every N seconds (the governance loop's clock), so the shipped
 * workflows need no node outside this package. Active workflow: an interval timer; its first
 * tick fires after one interval unless "Fire on Activation". Manual run (editor, headless tests):
 * one item at once. Each item: { tick, firedAt, intervalSeconds, mode }.
 */
import {
  NodeConnectionTypes,
  NodeOperationError,
  type INodeType,
  type INodeTypeDescription,
  type ITriggerFunctions,
  type ITriggerResponse,
} from 'n8n-workflow';
import { LIMITS } from '../../validator/limits';

const N = LIMITS.n8n;

export class GridTrigger implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Trigger',
    name: 'gridTrigger',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['trigger', 'schedule'],
    version: 1,
    subtitle: '={{ "every " + $parameter["intervalSeconds"] + " s" }}',
    description: 'Starts the workflow at a fixed interval (the governance loop clock)',
    eventTriggerDescription: '',
    activationMessage: 'The workflow now runs at the configured interval.',
    defaults: { name: 'Grid Trigger' },
    inputs: [],
    outputs: [NodeConnectionTypes.Main],
    properties: [
      {
        displayName: 'Interval (Seconds)',
        name: 'intervalSeconds',
        type: 'number',
        default: 60,
        required: true,
        typeOptions: { minValue: N.minTriggerIntervalSeconds, maxValue: N.maxTriggerIntervalSeconds },
        description: 'Seconds between two runs (e.g. 86400 for a nightly job)',
      },
      { displayName: 'Fire on Activation', name: 'fireOnActivation', type: 'boolean', default: false, description: 'Whether to run once as soon as the workflow is activated' },
    ],
  };

  async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
    const seconds = this.getNodeParameter('intervalSeconds', 60) as number;
    if (!Number.isFinite(seconds) || seconds < N.minTriggerIntervalSeconds || seconds > N.maxTriggerIntervalSeconds) {
      throw new NodeOperationError(
        this.getNode(),
        `GRID_TRIGGER_INTERVAL_INVALID: the interval must be between ${N.minTriggerIntervalSeconds} and ${N.maxTriggerIntervalSeconds} seconds`,
      );
    }
    let tick = 0;
    const fire = () => {
      tick++;
      this.emit([this.helpers.returnJsonArray([{ tick, firedAt: new Date().toISOString(), intervalSeconds: seconds, mode: this.getMode() }])]);
    };
    if (this.getMode() === 'manual') {
      return { manualTriggerFunction: async () => fire() };
    }
    // setInterval, not cron: intervals in seconds that do not divide a minute cannot be cron'd.
    const timer = setInterval(fire, Math.round(seconds * 1000));
    if (this.getNodeParameter('fireOnActivation', false) === true) fire();
    return {
      closeFunction: async () => clearInterval(timer),
      manualTriggerFunction: async () => fire(),
    };
  }
}
