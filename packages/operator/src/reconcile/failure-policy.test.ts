import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyPodFailure } from './failure-policy.js';
import { observedPod } from './pod-fixtures.test-helper.js';

const failed = (state: Parameters<typeof observedPod>[2]) =>
  classifyPodFailure(observedPod('r-worker-0', {}, { phase: 'Failed', ...state }));

describe('classifyPodFailure (the failure table)', () => {
  const table: Array<
    [
      string,
      Parameters<typeof observedPod>[2],
      { reason: string; retryable: boolean; counted: boolean; exitCode?: number }
    ]
  > = [
    [
      'a scheduler preemption',
      { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }] },
      { reason: 'Preempted', retryable: true, counted: false }
    ],
    [
      'a taint-manager deletion (node lost)',
      { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager' }] },
      { reason: 'NodeLost', retryable: true, counted: false }
    ],
    [
      'an API-initiated eviction',
      { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }] },
      { reason: 'Evicted', retryable: true, counted: false }
    ],
    [
      'a kubelet eviction (status.reason Evicted)',
      { reason: 'Evicted' },
      { reason: 'Evicted', retryable: true, counted: false }
    ],
    ['a node shutdown', { reason: 'NodeShutdown' }, { reason: 'NodeLost', retryable: true, counted: false }],
    [
      'OOMKilled',
      { terminated: { exitCode: 137, reason: 'OOMKilled' } },
      { reason: 'OOMKilled', retryable: false, counted: false, exitCode: 137 }
    ],
    [
      'SIGKILL (137) without OOM',
      { terminated: { exitCode: 137, reason: 'Error' } },
      { reason: 'Signal', retryable: true, counted: true, exitCode: 137 }
    ],
    [
      'SIGTERM (143)',
      { terminated: { exitCode: 143 } },
      { reason: 'Signal', retryable: true, counted: true, exitCode: 143 }
    ],
    [
      'exit code 255',
      { terminated: { exitCode: 255 } },
      { reason: 'Signal', retryable: true, counted: true, exitCode: 255 }
    ],
    [
      'exit code 1 (the program failed)',
      { terminated: { exitCode: 1 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 1 }
    ],
    [
      'exit code 127',
      { terminated: { exitCode: 127 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 127 }
    ],
    [
      'exit code 69 (a worker given GPUs that TensorFlow cannot use)',
      { terminated: { exitCode: 69 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 69 }
    ],
    [
      'exit code 65 (bad data)',
      { terminated: { exitCode: 65 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 65 }
    ],
    [
      'exit code 66 (bad weights)',
      { terminated: { exitCode: 66 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 66 }
    ],
    [
      'exit code 78 (bad spec or run configuration)',
      { terminated: { exitCode: 78 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 78 }
    ],
    [
      'exit code 2 (bad flags)',
      { terminated: { exitCode: 2 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 2 }
    ],
    [
      'exit code 75 (object storage unreachable past the deadline)',
      { terminated: { exitCode: 75 } },
      { reason: 'Error', retryable: true, counted: true, exitCode: 75 }
    ],
    [
      'exit code 80 (coordinator unreachable past the deadline)',
      { terminated: { exitCode: 80 } },
      { reason: 'Error', retryable: true, counted: true, exitCode: 80 }
    ],
    [
      'exit code 81 (peer lost)',
      { terminated: { exitCode: 81 } },
      { reason: 'Error', retryable: true, counted: true, exitCode: 81 }
    ],
    [
      'exit code 82 (timeout)',
      { terminated: { exitCode: 82 } },
      { reason: 'Error', retryable: true, counted: true, exitCode: 82 }
    ],
    [
      'exit code 83 (out of memory, known cause)',
      { terminated: { exitCode: 83 } },
      { reason: 'Error', retryable: true, counted: true, exitCode: 83 }
    ],
    [
      "exit code 84 (the run failed by the coordinator's verdict)",
      { terminated: { exitCode: 84 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 84 }
    ],
    [
      'exit code 3 (no part of ringtrain uses it)',
      { terminated: { exitCode: 3 } },
      { reason: 'Error', retryable: false, counted: false, exitCode: 3 }
    ],
    ['no container status at all', {}, { reason: 'Error', retryable: true, counted: true }]
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
    const verdict = failed({
      terminated: { exitCode: 143 },
      conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }]
    });
    assert.equal(verdict.reason, 'Preempted');
  });

  it('names the class of a retryable exit code in the message', () => {
    assert.match(
      failed({ terminated: { exitCode: 75, message: 'ringtrain: object storage unreachable' } }).message,
      /exited with code 75 \(object storage unreachable past the reconnect deadline\): ringtrain: object storage unreachable/
    );
  });

  it('tells the user what to change after an OOMKill', () => {
    assert.match(
      failed({ terminated: { exitCode: 137, reason: 'OOMKilled' } }).message,
      /raise workers\.resources\.limits\.memory/
    );
  });

  it("names the coordinator's memory, not the workers', when the coordinator is OOMKilled", () => {
    const pod = observedPod(
      'r-coordinator',
      { 'ringtrain.dev/role': 'coordinator' },
      { phase: 'Failed', terminated: { exitCode: 137, reason: 'OOMKilled' } }
    );
    pod.status!.containerStatuses![0]!.name = 'coordinator';
    const verdict = classifyPodFailure(pod);
    assert.equal(verdict.reason, 'OOMKilled');
    assert.match(verdict.message, /^container coordinator was OOMKilled: raise coordinator\.resources\.limits\.memory/);
    assert.match(verdict.message, /dataset\.ingest\.maxResolution/);
    assert.doesNotMatch(verdict.message, /workers\.resources/);
  });
});
