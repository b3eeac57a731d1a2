// The shared domain: plain types and pure rules. Workflows import this barrel, so it never pulls in zod.
export * from './types';
export * from './errors';
export * from './ids';
export * from './rules/duration';
export * from './rules/tasks';
export * from './rules/plan';
export * from './rules/urls';
export * from './rules/text';
