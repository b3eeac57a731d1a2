// Test helper: the ProblemError a call raises (a test fails when it raises none, or something else).
import { ProblemError } from '../../domain/errors';

export const problemOf = (fn: () => unknown): ProblemError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProblemError) return err;
    throw err;
  }
  throw new Error('no problem raised');
};
