import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import type { TrainingRun, TrainingRunInput } from '../api/training-run.js';
import { parseTrainingRun } from '../api/validate.js';
import { planReconcile } from './plan.js';
import { outputConflict } from './output-ownership.js';

function run(
  name: string,
  spec: Partial<TrainingRunInput['spec']>,
  extra: { created?: string; attempt?: number; phase?: 'Failed'; deleting?: boolean; namespace?: string } = {}
): TrainingRun {
  const input = sampleRunInput({ name, spec });
  return parseTrainingRun({
    ...input,
    metadata: {
      ...input.metadata,
      namespace: extra.namespace ?? 'default',
      uid: `uid-${name}`,
      creationTimestamp: extra.created ?? '2026-12-06T10:00:00Z',
      ...(extra.deleting ? { deletionTimestamp: '2026-12-06T11:00:00Z' } : {})
    },
    ...(extra.attempt !== undefined || extra.phase !== undefined
      ? {
          status: {
            ...(extra.attempt !== undefined ? { attempt: extra.attempt } : {}),
            ...(extra.phase ? { phase: extra.phase } : {})
          }
        }
      : {})
  });
}

const started = { attempt: 1 };
const a = run('a', { output: { uri: 's3://runs/team/a' } }, { ...started, namespace: 'tenant-a' });

describe('a run may not write under another run’s output', () => {
  const refused: [string, Partial<TrainingRunInput['spec']>, RegExp][] = [
    [
      'the same output URI',
      { output: { uri: 's3://runs/team/a/' } },
      /^spec\.output\.uri s3:\/\/runs\/team\/a\/ equals s3:\/\/runs\/team\/a, the output of TrainingRun tenant-a\/a \(uid uid-a\): .*give this run another spec\.output\.uri \(e\.g\. s3:\/\/runs\/b\), or delete tenant-a\/a first/
    ],
    [
      'an output within it',
      { output: { uri: 's3://runs/team/a/b' } },
      /spec\.output\.uri .* lies within s3:\/\/runs\/team\/a,/
    ],
    [
      'an output that contains it',
      { output: { uri: 's3://runs/team' } },
      /spec\.output\.uri s3:\/\/runs\/team contains/
    ],
    ['the whole bucket', { output: { uri: 's3://runs' } }, /contains s3:\/\/runs\/team\/a/],
    [
      'checkpoints in its checkpoints',
      { output: { uri: 's3://runs/b' }, checkpoint: { uri: 's3://runs/team/a/checkpoints' } },
      /spec\.checkpoint\.uri s3:\/\/runs\/team\/a\/checkpoints lies within s3:\/\/runs\/team\/a, the output of TrainingRun tenant-a\/a/
    ],
    [
      'an ingest into its output',
      {
        output: { uri: 's3://runs/b' },
        dataset: { ingest: { source: 's3://raw/flowers', into: 's3://runs/team/a/data' } }
      },
      /spec\.dataset\.ingest\.into .* lies within s3:\/\/runs\/team\/a/
    ]
  ];
  for (const [what, spec, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.match(outputConflict(run('b', spec), [a]) ?? '', message);
    });
  }

  const allowed: [string, Partial<TrainingRunInput['spec']>][] = [
    ['a sibling whose name starts alike', { output: { uri: 's3://runs/team/ab' } }],
    ['the same path in another bucket', { output: { uri: 's3://other/team/a' } }],
    [
      'the same path on another store',
      { output: { uri: 's3://runs/team/a' }, storage: { endpoint: 'http://minio.b:9000' } }
    ],
    ['reading its dataset beside it', { output: { uri: 's3://runs/b' }, dataset: { uri: 's3://runs/team/a-data' } }]
  ];
  for (const [what, spec] of allowed) {
    it(`allows ${what}`, () => assert.equal(outputConflict(run('b', spec), [a]), undefined));
  }

  it("reads another namespace's run output only in its own namespace (fine-tuning from a teammate's model is fine)", () => {
    const fromOtherTenant = run('b', {
      output: { uri: 's3://runs/b' },
      model: { pretrained: 's3://runs/team/a/model/model.safetensors' }
    });
    assert.match(
      outputConflict(fromOtherTenant, [a]) ?? '',
      /^spec\.model\.pretrained s3:\/\/runs\/team\/a\/model\/model\.safetensors lies within s3:\/\/runs\/team\/a, the output of TrainingRun tenant-a\/a .*: a run reads another run's output only within its own namespace; .*or run it in tenant-a$/
    );
    const sameTenant = run(
      'b',
      { output: { uri: 's3://runs/b' }, model: { pretrained: 's3://runs/team/a/model/model.safetensors' } },
      {
        namespace: 'tenant-a'
      }
    );
    assert.equal(outputConflict(sameTenant, [a]), undefined);
    const datasetFromIt = run('b', {
      output: { uri: 's3://runs/b' },
      dataset: { uri: 's3://runs/team/a/checkpoints' }
    });
    assert.match(outputConflict(datasetFromIt, [a]) ?? '', /^spec\.dataset\.uri .* lies within s3:\/\/runs\/team\/a,/);
  });

  it('a run is not in conflict with itself (a later reconcile of the same object)', () => {
    assert.equal(outputConflict(a, [a]), undefined);
  });

  it('of two runs not started yet, the older holds the prefix; a deleted or refused run holds nothing', () => {
    const spec = { output: { uri: 's3://runs/shared' } };
    const older = run('older', spec, { created: '2026-12-06T10:00:00Z' });
    const newer = run('newer', spec, { created: '2026-12-06T10:00:05Z' });
    assert.equal(outputConflict(older, [older, newer]), undefined);
    assert.match(outputConflict(newer, [older, newer]) ?? '', /TrainingRun default\/older/);
    const gone = run('gone', spec, { ...started, deleting: true });
    const refusedRun = run('refused', spec, { created: '2026-12-06T09:00:00Z', phase: 'Failed' });
    assert.equal(outputConflict(newer, [gone, refusedRun]), undefined);
    // A run that started holds it even if it is younger: it passed this check first.
    const young = run('young', spec, { ...started, created: '2026-12-06T12:00:00Z' });
    assert.match(outputConflict(older, [young]) ?? '', /TrainingRun default\/young/);
  });

  it('the planner fails such a run before creating anything, with reason OutputURIInUse', () => {
    const b = run('b', { output: { uri: 's3://runs/team/a' } });
    const message = outputConflict(b, [a]);
    assert.ok(message);
    const observed = {
      pods: [],
      serviceNames: [],
      secretExists: false,
      configMapExists: false,
      networkPolicyExists: false
    };
    const plan = planReconcile(b, observed, new Date(), { token: 't'.repeat(32), outputInUse: message });
    assert.deepEqual(plan.actions, []);
    assert.equal(plan.status?.phase, 'Failed');
    const failed = plan.status?.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'OutputURIInUse');
    assert.equal(failed?.message, message);
    assert.equal(plan.events[0]?.reason, 'OutputURIInUse');
  });
});
