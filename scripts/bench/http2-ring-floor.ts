// What a ring all-reduce over Node's HTTP/2 can reach on this machine, with none of the collective's framing,
// checks, pools or protocol: the floor under `ringtrain bench allreduce` (issue 2's bandwidth targets).
//
// Two processes on 127.0.0.1, each the server of one HTTP/2 stream and the client of the other (the Link's
// shape). A reduce-scatter then an all-gather of `--elements` f32 values in `--chunk-mib` messages: payloads
// are written zero-copy and reduced as their bytes arrive. `--elements` at half of ResNet18's 11,691,622
// moves exactly the bytes of a 16-bit wire with no conversion at all, which bounds what f16/bf16 can reach.
//
//   npx tsx scripts/bench/http2-ring-floor.ts [--elements 11691622] [--chunk-mib 4] [--iters 20]
//
// Prints one JSON object per rank: {rank, elements, wireBytes, medianMs, minMs}.
import { fork } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    elements: { type: 'string', default: '11691622' },
    'chunk-mib': { type: 'string', default: '4' },
    iters: { type: 'string', default: '20' },
    rank: { type: 'string' }
  }
});
const elements = Number(values.elements);
const chunkElements = (Number(values['chunk-mib']) * 2 ** 20) / 4;
const iterations = Number(values.iters);
const HEAD_BYTES = 16; // 5-byte gRPC prefix, phase, element offset, element count
const WINDOW_BYTES = 32 * 2 ** 20;

type Report = { port: number } | { rank: number; elements: number; wireBytes: number; medianMs: number; minMs: number };

if (values.rank === undefined) {
  const self = fileURLToPath(import.meta.url);
  const ranks = [0, 1].map((rank) =>
    fork(self, [...process.argv.slice(2), '--rank', String(rank)], { execArgv: process.execArgv })
  );
  const ports: number[] = [];
  ranks.forEach((child, rank) =>
    child.on('message', (message: Report) => {
      if ('port' in message) {
        ports[rank] = message.port;
        if (ports.filter(Boolean).length === 2) ranks.forEach((each, other) => each.send(ports[1 - other]));
      } else {
        console.log(JSON.stringify(message));
      }
    })
  );
} else {
  await runRank(Number(values.rank));
}

function add(source: Float32Array, target: Float32Array): void {
  for (let i = 0; i < source.length; i += 1) target[i] += source[i]!;
}

async function runRank(rank: number): Promise<void> {
  const server = http2.createServer({ settings: { initialWindowSize: WINDOW_BYTES } });
  const downstreamReady = new Promise<http2.ServerHttp2Stream>((resolve) =>
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      resolve(stream);
    })
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ port: (server.address() as AddressInfo).port } satisfies Report);
  const peerPort = await new Promise<number>((resolve) => process.once('message', (port) => resolve(port as number)));
  const session = http2.connect(`http://127.0.0.1:${peerPort}`, { settings: { initialWindowSize: WINDOW_BYTES } });
  session.once('connect', () => session.setLocalWindowSize(WINDOW_BYTES));
  const upstream = session.request({ ':method': 'POST', ':path': '/floor', 'content-type': 'application/grpc' });
  upstream.end(Buffer.alloc(5));
  const downstream = await downstreamReady;

  const data = new Float32Array(elements);
  const half = Math.floor(elements / 2);
  const segments: [number, number][] = [
    [0, half],
    [half, elements]
  ];
  let unflushed = 0;
  let onFlushed: (() => void) | undefined;
  const send = (phase: number, offset: number, values: Float32Array) => {
    const head = Buffer.alloc(HEAD_BYTES);
    head.writeUInt32BE(HEAD_BYTES - 5 + values.byteLength, 1);
    head.writeUInt32LE(phase, 5);
    head.writeUInt32LE(offset, 9);
    head.writeUInt16LE(0, 13);
    unflushed += 1;
    downstream.write(head);
    downstream.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), () => {
      unflushed -= 1;
      if (unflushed === 0) onFlushed?.();
    });
  };

  // Reduce as bytes arrive, through a small aligned scratch (socket chunks have any alignment).
  const scratch = new Float32Array(64 * 1024);
  const scratchBytes = new Uint8Array(scratch.buffer);
  const head = Buffer.alloc(HEAD_BYTES);
  let headFilled = 0;
  let phase = 0;
  let offset = 0;
  let payloadBytes = 0;
  let applied = 0;
  let carried = 0;
  let remainingMessages = 0;
  let onDone: (() => void) | undefined;
  upstream.on('data', (chunk: Buffer) => {
    let position = 0;
    while (position < chunk.length) {
      if (headFilled < HEAD_BYTES) {
        const take = Math.min(HEAD_BYTES - headFilled, chunk.length - position);
        chunk.copy(head, headFilled, position, position + take);
        headFilled += take;
        position += take;
        if (headFilled === HEAD_BYTES) {
          payloadBytes = head.readUInt32BE(1) - (HEAD_BYTES - 5);
          phase = head.readUInt32LE(5);
          offset = head.readUInt32LE(9);
          applied = 0;
          carried = 0;
        }
        continue;
      }
      const take = Math.min(payloadBytes - applied - carried, chunk.length - position, scratchBytes.length - carried);
      scratchBytes.set(chunk.subarray(position, position + take), carried);
      position += take;
      const bytes = carried + take;
      const whole = bytes >>> 2;
      const first = offset + applied / 4;
      const target = data.subarray(first, first + whole);
      if (phase === 0) add(scratch.subarray(0, whole), target);
      else target.set(scratch.subarray(0, whole));
      applied += whole * 4;
      carried = bytes - whole * 4;
      if (carried > 0) scratchBytes.copyWithin(0, whole * 4, bytes);
      if (applied === payloadBytes) {
        headFilled = 0;
        if (phase === 0) send(1, offset, data.subarray(offset, offset + payloadBytes / 4));
        remainingMessages -= 1;
        if (remainingMessages === 0) onDone?.();
      }
    }
  });

  const chunks = ([start, end]: [number, number]) => Math.ceil((end - start) / chunkElements);
  const times: number[] = [];
  for (let iteration = 0; iteration < iterations + 2; iteration += 1) {
    data.fill(rank + 1);
    const [start, end] = segments[rank]!;
    remainingMessages = chunks(segments[0]!) + chunks(segments[1]!);
    const done = new Promise<void>((resolve) => (onDone = resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    for (let at = start; at < end; at += chunkElements)
      send(0, at, data.subarray(at, Math.min(at + chunkElements, end)));
    await done;
    if (unflushed > 0) await new Promise<void>((resolve) => (onFlushed = resolve));
    if (iteration >= 2) times.push(performance.now() - started);
    if (data[0] !== 3 || data[elements - 1] !== 3)
      throw new Error(`wrong sum on rank ${rank}: ${data[0]}, ${data[elements - 1]}`);
  }
  times.sort((a, b) => a - b);
  process.send!({
    rank,
    elements,
    wireBytes: elements * 4,
    medianMs: times[Math.floor(times.length / 2)]!,
    minMs: times[0]!
  } satisfies Report);
  setTimeout(() => process.exit(0), 200);
}
