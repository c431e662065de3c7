import { parentPort, workerData } from 'node:worker_threads';
import type {
  CollectiveThreadData,
  FromCollectiveThread,
  SharedSpan,
  ToCollectiveThread
} from './collective-thread-protocol.js';
import { STATS_SLOTS } from './collective-thread-protocol.js';
import { CollectiveEndpoint } from './endpoint.js';
import { GroupClosedError, serializeCollectiveError } from './errors.js';
import { ProcessGroup, type JsonValue } from './process-group.js';

// Runs in a worker thread (threaded-process-group.ts starts it): the rank's endpoint, links, framing and
// reduction, in the same ProcessGroup as on a main thread. This thread's event loop never trains, so bytes
// keep moving while a synchronous TensorFlow step blocks the training thread.
const data = workerData as CollectiveThreadData;
const port = parentPort!;
const post = (message: FromCollectiveThread) => port.postMessage(message);

interface Hosted {
  group: ProcessGroup | undefined;
  stats: Float64Array;
  /** An abort that arrived while the group was still connecting. */
  abortReason?: string;
}
const groups = new Map<number, Hosted>();

function view(span: SharedSpan): Float32Array {
  return new Float32Array(span.memory, span.byteOffset, span.length);
}

function publishStats(hosted: Hosted): void {
  const group = hosted.group;
  if (group === undefined) return;
  hosted.stats[STATS_SLOTS.bytesSent] = group.stats.bytesSent;
  hosted.stats[STATS_SLOTS.bytesReceived] = group.stats.bytesReceived;
  hosted.stats[STATS_SLOTS.unalignedFrames] = group.stats.unalignedFrames;
  hosted.stats[STATS_SLOTS.sendBuffersAllocated] = group.stats.sendBuffersAllocated;
  hosted.stats[STATS_SLOTS.lastSettledAtMs] = performance.timeOrigin + performance.now();
}

function settle(call: number, hosted: Hosted | undefined, operation: Promise<JsonValue[] | void>): void {
  operation.then(
    (values) => {
      if (hosted !== undefined) publishStats(hosted);
      post(values === undefined ? { kind: 'settled', call } : { kind: 'settled', call, values });
    },
    (error: unknown) => {
      if (hosted !== undefined) publishStats(hosted);
      post({ kind: 'settled', call, error: serializeCollectiveError(error) });
    }
  );
}

function hostedGroup(group: number, call: number): ProcessGroup | undefined {
  const hosted = groups.get(group)?.group;
  if (hosted === undefined)
    post({
      kind: 'settled',
      call,
      error: serializeCollectiveError(new GroupClosedError(`no process group #${group} in this thread`, 'enqueue'))
    });
  return hosted;
}

const listening = await CollectiveEndpoint.listen(data.endpoint).catch((error: unknown) => {
  post({ kind: 'listen-failed', error: serializeCollectiveError(error) });
  return undefined;
});
// Without an endpoint there is nothing to serve: closing the port lets the thread exit.
if (listening === undefined) port.close();
else serve(listening);

function serve(endpoint: CollectiveEndpoint): void {
  port.on('message', (message: ToCollectiveThread) => {
    switch (message.kind) {
      case 'connect': {
        const hosted: Hosted = { group: undefined, stats: new Float64Array(message.stats) };
        groups.set(message.group, hosted);
        const connecting = ProcessGroup.connect(endpoint, message.config).then((group) => {
          hosted.group = group;
          group.signal.addEventListener('abort', () => {
            publishStats(hosted);
            post({ kind: 'failed', group: message.group, error: serializeCollectiveError(group.signal.reason) });
          });
          if (hosted.abortReason !== undefined) group.abort(hosted.abortReason);
        });
        connecting.catch(() => groups.delete(message.group));
        settle(message.call, undefined, connecting);
        return;
      }
      case 'allReduce': {
        const group = hostedGroup(message.group, message.call);
        if (group !== undefined)
          settle(message.call, groups.get(message.group), group.allReduce(view(message.data), message.options));
        return;
      }
      case 'broadcast': {
        const group = hostedGroup(message.group, message.call);
        if (group !== undefined)
          settle(message.call, groups.get(message.group), group.broadcast(view(message.data), message.root));
        return;
      }
      case 'allGather': {
        const group = hostedGroup(message.group, message.call);
        if (group !== undefined) settle(message.call, groups.get(message.group), group.allGather(message.value));
        return;
      }
      case 'close': {
        const hosted = groups.get(message.group);
        groups.delete(message.group);
        settle(message.call, hosted, hosted?.group?.close() ?? Promise.resolve());
        return;
      }
      case 'abort': {
        const hosted = groups.get(message.group);
        if (hosted?.group !== undefined) hosted.group.abort(message.reason);
        else if (hosted !== undefined) hosted.abortReason = message.reason;
        return;
      }
      case 'shutdown': {
        const closing = Promise.all([...groups.values()].map((hosted) => hosted.group?.close()))
          .then(() => endpoint.close())
          .finally(() => groups.clear());
        closing.then(
          () => {
            post({ kind: 'settled', call: message.call });
            port.close();
          },
          (error: unknown) => {
            post({ kind: 'settled', call: message.call, error: serializeCollectiveError(error) });
            port.close();
          }
        );
        return;
      }
    }
  });
  post({ kind: 'listening', address: endpoint.address });
}
