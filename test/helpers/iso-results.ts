/** Reading the ISO9660 parsers' result values in tests: the value, or the problem they returned. */
import assert from 'node:assert/strict';
import type { IsoProblem, IsoResult } from '../../src/iso9660/fail.js';

/** The value of a parse that must succeed (the problem's message otherwise). */
export function value<T>(r: IsoResult<T>): T {
  assert.ok(r.ok, r.ok ? '' : r.problem.message);
  return r.value;
}

/** The problem of a parse that must fail, with its code, a message matching `re`, located by `prefix`. */
export function problem(r: IsoResult<unknown>, code: string, re: RegExp, prefix: string): IsoProblem {
  assert.ok(!r.ok, 'expected a problem');
  assert.equal(r.problem.code, code);
  assert.match(r.problem.message, re);
  assert.ok(r.problem.message.startsWith(prefix), r.problem.message);
  return r.problem;
}
