/**
 * Grid Proposer — asks agents for proposals. It only PROPOSES: its items go to the Grid
 * Validator (pre-check) and the Grid Ledger's Apply (the decision).
 */
import { NodeConnectionTypes, type IExecuteFunctions, type INodeExecutionData, type INodeType, type INodeTypeDescription } from 'n8n-workflow';
import { sharedProperties } from './actions/common';
import { geminiProperties, runGemini } from './actions/gemini';
import { runScripted, scriptedProperties } from './actions/scripted';

export class GridProposer implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Grid Proposer',
    name: 'gridProposer',
    icon: { light: 'file:grid.svg', dark: 'file:grid.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{ $parameter["operation"] }}',
    description: 'Generate trade proposals from the world state with scripted policies or Gemini',
    defaults: { name: 'Grid Proposer' },
    usableAsTool: true,
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    credentials: [{ name: 'gridGeminiApi', required: true, displayOptions: { show: { operation: ['gemini'] } } }],
    properties: [
      {
        displayName: 'Operation',
        name: 'operation',
        type: 'options',
        noDataExpression: true,
        default: 'scripted',
        options: [
          { name: 'Gemini', value: 'gemini', action: 'Propose with gemini', description: 'Ask a Gemini model for TradeJSON (structured output)' },
          { name: 'Scripted', value: 'scripted', action: 'Propose with a scripted policy', description: 'Deterministic policies; no key needed' },
        ],
      },
      ...sharedProperties,
      ...scriptedProperties,
      ...geminiProperties,
    ],
  };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const operation = this.getNodeParameter('operation', 0) as string;
    return [operation === 'gemini' ? await runGemini(this) : await runScripted(this)];
  }
}
