import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import {
  CollectiveArgumentError,
  CollectiveTimeoutError,
  GroupClosedError,
  PeerLostError,
  PeerRefusedError,
  ProtocolError
} from '@ringtrain/collective';
import { DatasetIngestError, RunConfigResolutionError, RunRecordError } from '@ringtrain/coordinator';
import {
  ImageDecodeError,
  PlanError,
  ShardChecksumError,
  ShardFormatError,
  ShardTooLargeError,
  StoreError
} from '@ringtrain/dataset';
import { SafetensorsError, WeightsMismatchError } from '@ringtrain/model';
import { InvalidTrainingRunError, OperatorUsageError } from '@ringtrain/operator';
import { EXIT_CODES, exitCodeClass } from '@ringtrain/proto';
import { CoordinatorUnavailableError } from '@ringtrain/protocol';
import { GpuUnavailableError, RunFailedError, TrainedModelError, WorkerConfigError } from '@ringtrain/worker';
import { ExitError, exitCodeFor, UsageError } from './errors.js';

const zodError = (() => {
  const parsed = z.object({ epochs: z.int() }).safeParse({ epochs: 'ten' });
  return parsed.success ? undefined : parsed.error;
})();
const grpcError = (code: grpc.status) =>
  Object.assign(new Error(`${code}: no connection established`), { code, details: 'x', metadata: new grpc.Metadata() });

describe('exitCodeFor: each error class the code throws gets the exit code of its class', () => {
  const table: Array<[string, unknown, number]> = [
    // bad spec or configuration: permanent
    ['a usage error', new UsageError('--epochs: expected a number'), EXIT_CODES.usage],
    ['a zod validation error', zodError, EXIT_CODES.badConfig],
    [
      'a run configuration that cannot be resolved',
      new RunConfigResolutionError('batch larger than the dataset'),
      EXIT_CODES.badConfig
    ],
    ["an output holding another run's record", new RunRecordError('not this run'), EXIT_CODES.badConfig],
    ['a worker configuration error', new WorkerConfigError('no cursor'), EXIT_CODES.badConfig],
    [
      'a bucket that does not exist',
      new StoreError('no-such-bucket', 'no such bucket', 's3://b/k'),
      EXIT_CODES.badConfig
    ],
    ['access denied by the store', new StoreError('access-denied', 'denied', 's3://b/k'), EXIT_CODES.badConfig],
    [
      'a shard larger than the whole cache budget',
      new ShardTooLargeError('raise cacheSizeLimit'),
      EXIT_CODES.badConfig
    ],
    // bad data: permanent
    ['a missing object', new StoreError('not-found', 'no object', 's3://b/k'), EXIT_CODES.badData],
    ['a shard that fails its checksum', new ShardChecksumError('sha256 differs'), EXIT_CODES.badData],
    ['a malformed shard', new ShardFormatError('bad magic'), EXIT_CODES.badData],
    ['an image that does not decode', new ImageDecodeError('not a JPEG'), EXIT_CODES.badData],
    ['an impossible epoch plan', new PlanError('rank out of range'), EXIT_CODES.badData],
    ['an ingest that failed on bad input', new DatasetIngestError('no images'), EXIT_CODES.badData],
    // bad weights: permanent
    ['weights that do not fit resnet18', new WeightsMismatchError(['fc.weight'], [], []), EXIT_CODES.badWeights],
    ['a corrupt safetensors file', new SafetensorsError('header too long'), EXIT_CODES.badWeights],
    ['a trained model that cannot be opened', new TrainedModelError('no labels.json'), EXIT_CODES.badWeights],
    ['no GPU where the pod was given one', new GpuUnavailableError('no GPU'), EXIT_CODES.noGpu],
    // a spec or command line the operator's commands refuse
    [
      'a TrainingRun the API server would refuse',
      new InvalidTrainingRunError('spec.dataset: required'),
      EXIT_CODES.badConfig
    ],
    ['a bad flag of operator render', new OperatorUsageError('--network-policies: true or false'), EXIT_CODES.usage],
    // the run as a whole, by the coordinator's verdict: permanent
    ['a run the coordinator says failed', new RunFailedError('the restart budget is used up'), EXIT_CODES.runFailed],
    // outages past the deadline: retryable
    [
      'object storage unreachable',
      new StoreError('transient', 'ECONNREFUSED', 's3://b/k'),
      EXIT_CODES.storageUnavailable
    ],
    [
      'an ingest that failed on an outage',
      new DatasetIngestError('ingest failed', { cause: new StoreError('transient', 'ECONNREFUSED', 's3://b/k') }),
      EXIT_CODES.storageUnavailable
    ],
    [
      'the coordinator unreachable',
      new CoordinatorUnavailableError('unreachable for 300 s'),
      EXIT_CODES.networkUnavailable
    ],
    ['a gRPC UNAVAILABLE', grpcError(grpc.status.UNAVAILABLE), EXIT_CODES.networkUnavailable],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      EXIT_CODES.networkUnavailable
    ],
    // peers and timeouts: retryable
    ['a lost peer', new PeerLostError('link reset', 'allReduce#3', 1), EXIT_CODES.peerLost],
    ['a peer that refused this rank', new PeerRefusedError('stale generation', 'connect', 1), EXIT_CODES.peerLost],
    ['a closed group', new GroupClosedError('closed', 'allReduce#4'), EXIT_CODES.peerLost],
    ['a collective timeout', new CollectiveTimeoutError('no progress in 30 s', 'allReduce#5', 1), EXIT_CODES.timeout],
    ['a gRPC DEADLINE_EXCEEDED', grpcError(grpc.status.DEADLINE_EXCEEDED), EXIT_CODES.timeout],
    // out of memory of a known cause: retryable
    [
      'a decode thread over its heap limit',
      Object.assign(new Error('worker terminated due to reaching memory limit'), { code: 'ERR_WORKER_OUT_OF_MEMORY' }),
      EXIT_CODES.outOfMemory
    ],
    [
      "TensorFlow's allocator out of memory",
      new Error('OOM when allocating tensor with shape[64,512,7,7]'),
      EXIT_CODES.outOfMemory
    ],
    // bugs and the unforeseen: permanent
    [
      'a protocol mismatch between ranks',
      new ProtocolError('unexpected frame', 'allReduce#6', 1),
      EXIT_CODES.unexpected
    ],
    [
      'bad arguments to a collective',
      new CollectiveArgumentError('length differs', 'allReduce#7'),
      EXIT_CODES.unexpected
    ],
    ['a TypeError', new TypeError("cannot read properties of undefined (reading 'rank')"), EXIT_CODES.unexpected],
    ['something thrown that is not an Error', 'a string', EXIT_CODES.unexpected],
    ['an explicit exit code', new ExitError(130, 'stopped'), 130]
  ];
  for (const [what, error, code] of table) {
    it(`${what} → ${code} (${exitCodeClass(code).class}, ${exitCodeClass(code).retryable ? 'retryable' : 'permanent'})`, () => {
      assert.equal(exitCodeFor(error), code);
    });
  }

  it('a retryable cause anywhere in the chain wins over a permanent wrapper, and a cycle ends', () => {
    const outer = new Error('wrapped', { cause: new ShardChecksumError('x') });
    assert.equal(exitCodeFor(outer), EXIT_CODES.badData);
    const cyclic = new Error('a') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    assert.equal(exitCodeFor(cyclic), EXIT_CODES.unexpected);
  });
});
