/** The commons scenario (GovSim-style): settings, regrowth and collapse, and per-run metrics. */
export { CommonsSettingsSchema, commonsOf, ungoverned, type CommonsSettings } from './settings';
export { regrowth, stockOf, collapsedResources, regenerationProposals, type Collapse } from './regen';
export { CommonsMetrics, type CommonsReport } from './metrics';
