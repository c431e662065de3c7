import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

// Module resolution hooks (node:module's register) that report every module the process resolves, ESM and CommonJS
// alike as far as `import` reaches them, to the main thread; a `flush` is answered after every earlier report.
const HOOKS = `
let port;
export function initialize(data) {
  port = data.port;
  port.on('message', () => port.postMessage({ flushed: true }));
  port.unref();
}
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  port.postMessage({ url: result.url });
  return result;
}
`;

// Runs in a child node on the packages' sources (the `development` condition, through tsx; dist/ has the same import
// graph): imports the modules named in PROBE_IMPORTS, then prints every module loaded, from the hooks and from
// require.cache (CommonJS packages a CommonJS module required).
const PROBE = `
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const loaded = new Set();
const flushed = new Promise((resolve) =>
  port1.on('message', (message) => (message.flushed ? resolve() : loaded.add(message.url)))
);
register('data:text/javascript,' + encodeURIComponent(process.env.PROBE_HOOKS), {
  data: { port: port2 },
  transferList: [port2]
});
for (const specifier of JSON.parse(process.env.PROBE_IMPORTS)) await import(specifier);
port1.postMessage('flush');
await flushed;
for (const file of Object.keys(createRequire(process.cwd() + '/').cache)) loaded.add(file);
process.stdout.write(JSON.stringify([...loaded]));
process.exit(0);
`;

/** Every module (URL or path) a fresh process loads when it imports `specifiers`, resolved from this package. */
async function modulesLoadedBy(specifiers: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', '--input-type=module', '--eval', PROBE],
    {
      cwd: PACKAGE_DIR,
      env: { ...process.env, PROBE_HOOKS: HOOKS, PROBE_IMPORTS: JSON.stringify(specifiers) },
      maxBuffer: 64 * 1024 * 1024
    }
  );
  return JSON.parse(stdout) as string[];
}

/** What a worker has no use for: image decoding for ingest (sharp), the dashboard (uPlot), Prometheus. */
const SERVER_ONLY: Record<string, RegExp> = {
  sharp: /node_modules\/(@img\/)?sharp/,
  'prom-client': /node_modules\/prom-client\//,
  // The dashboard finds uPlot's files with require.resolve, which no hook sees: its own module stands for it.
  'uplot (the dashboard)': /node_modules\/uplot\/|packages\/coordinator\/(src|dist)\/dashboard\//,
  "the coordinator's server": /packages\/coordinator\/(src|dist)\//
};

function found(loaded: readonly string[]): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(SERVER_ONLY).map(([name, pattern]) => [name, loaded.filter((file) => pattern.test(file))])
  );
}

describe("the worker's module graph", () => {
  it('loading @ringtrain/worker (what `ringtrain worker` runs) loads no sharp, uPlot, prom-client or coordinator server', async () => {
    const loaded = await modulesLoadedBy(['@ringtrain/worker']);
    assert.ok(
      loaded.some((file) => /\/packages\/protocol\/(src|dist)\/client\.[jt]s$/.test(file)),
      "the probe saw the worker's own graph (its coordinator client)"
    );
    for (const [name, files] of Object.entries(found(loaded)))
      assert.deepEqual(files, [], `the worker loaded ${name}: ${files.slice(0, 3).join(', ')}`);
  });

  it('the probe does see them when something loads them (the coordinator, sharp)', async () => {
    const loaded = found(await modulesLoadedBy(['@ringtrain/coordinator', 'sharp']));
    for (const [name, files] of Object.entries(loaded)) assert.notDeepEqual(files, [], `${name} not seen`);
  });
});
