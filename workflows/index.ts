// Workflow bundle entry: every workflow type the worker registers.
export { caseWorkflow } from './case';
export { archiveHistoryWorkflow } from './archive';
