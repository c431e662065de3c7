import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyPodFailure } from './failure-policy.js';
import { observedPod } from './pod-fixtures.test-helper.js';

const failed = (state: Parameters<typeof observedPod>[2]) => classifyPodFailure(observedPod('r-worker-0', {}, { phase: 'Failed', ...state }));

describe('classifyPodFailure (the failure table)', () => {
  const table: Array<[string, Parameters<typeof observedPod>[2], { reason: string; retryable: boolean; counted: boolean; exitCode?: number }]> = [
    ['a scheduler preemption', { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }] }, { reason: 'Preempted', retryable: true, counted: false }],
    ['a taint-manager deletion (node lost)', { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager' }] }, { reason: 'NodeLost', retryable: true, counted: false }],
    ['an API-initiated eviction', { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }] }, { reason: 'Evicted', retryable: true, counted: false }],
    ['a kubelet eviction (status.reason Evicted)', { reason: 'Evicted' }, { reason: 'Evicted', retryable: true, counted: false }],
    ['a node shutdown', { reason: 'NodeShutdown' }, { reason: 'NodeLost', retryable: true, counted: false }],
    ['OOMKilled', { terminated: { exitCode: 137, reason: 'OOMKilled' } }, { reason: 'OOMKilled', retryable: false, counted: false, exitCode: 137 }],
    ['SIGKILL (137) without OOM', { terminated: { exitCode: 137, reason: 'Error' } }, { reason: 'Signal', retryable: true, counted: true, exitCode: 137 }],
    ['SIGTERM (143)', { terminated: { exitCode: 143 } }, { reason: 'Signal', retryable: true, counted: true, exitCode: 143 }],
    ['exit code 255', { terminated: { exitCode: 255 } }, { reason: 'Signal', retryable: true, counted: true, exitCode: 255 }],
    ['exit code 1 (the program failed)', { terminated: { exitCode: 1 } }, { reason: 'Error', retryable: false, counted: false, exitCode: 1 }],
    ['exit code 127', { terminated: { exitCode: 127 } }, { reason: 'Error', retryable: false, counted: false, exitCode: 127 }],
    ['exit code 69 (a worker given GPUs that TensorFlow cannot use)', { terminated: { exitCode: 69 } }, { reason: 'Error', retryable: false, counted: false, exitCode: 69 }],
    ['no container status at all', {}, { reason: 'Error', retryable: true, counted: true }],
  ];
  for (const [what, state, expected] of table) {
    it(`${what} → ${expected.reason}, ${expected.retryable ? 'retryable' : 'permanent'}${expected.retryable ? (expected.counted ? ', counted' : ', not counted') : ''}`, () => {
      const verdict = failed(state);
      assert.equal(verdict.reason, expected.reason);
      assert.equal(verdict.retryable, expected.retryable);
      assert.equal(verdict.counted, expected.counted);
      assert.equal(verdict.exitCode, expected.exitCode);
    });
  }

  it('a disruption wins over the exit code it caused', () => {
    const verdict = failed({ terminated: { exitCode: 143 }, conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }] });
    assert.equal(verdict.reason, 'Preempted');
  });

  it('tells the user what to change after an OOMKill', () => {
    assert.match(failed({ terminated: { exitCode: 137, reason: 'OOMKilled' } }).message, /raise workers\.resources\.limits\.memory/);
  });
});
