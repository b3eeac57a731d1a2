// Patch ids for workflow changes; every change keeps recorded histories replaying (see test/histories).
export const PATCHES = {} as const;
