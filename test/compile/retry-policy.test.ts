// Istio's retry conversion (pilot/pkg/networking/core/route/retry/retry.go): DefaultPolicy() retries
// a 503; ConvertPolicy keeps that code unless retryOn replaces the conditions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RETRY, retryPolicy } from '../../src/compile/routes-common.ts';

test('DefaultPolicy: connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes with 503, 2 attempts', () => {
  assert.equal(DEFAULT_RETRY.attempts, 2);
  assert.deepEqual([...DEFAULT_RETRY.retryOn].sort(), ['cancelled', 'connect-failure', 'refused-stream', 'retriable-status-codes', 'unavailable']);
  assert.deepEqual([...DEFAULT_RETRY.retriableStatusCodes], [503]);
});

test('a VirtualService retry with attempts and no retryOn keeps the default 503', () => {
  const p = retryPolicy({ attempts: 5 });
  assert.equal(p.attempts, 5);
  assert.deepEqual([...p.retriableStatusCodes], [503]);
  assert.ok(p.retryOn.has('retriable-status-codes'));
});

test('a retryOn replaces the default codes (parseRetryOn)', () => {
  assert.deepEqual([...retryPolicy({ attempts: 2, retryOn: ['5xx'] }).retriableStatusCodes], []);
  const p = retryPolicy({ attempts: 2, retryOn: ['connect-failure', '429'] });
  assert.deepEqual([...p.retriableStatusCodes], [429]);
  assert.ok(p.retryOn.has('retriable-status-codes'));
});
