import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';
import type { ComputeThreads } from './compute-threads.js';

export interface NativeRuntime {
  /** The npm package whose binding runs: `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`. */
  readonly package: string;
  readonly tensorflowVersion: string;
  /** True when TensorFlow placed its default device on a GPU (tfjs-node-gpu found CUDA and a device). */
  readonly gpu: boolean;
  readonly threads: ComputeThreads;
}

/** The compute backends Ringtrain knows, in order of preference for `auto`. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendRequest = BackendName | 'auto';

export interface BackendChoice {
  /** For `tensorflow`: the threads TensorFlow computes with, and whether it computes on a GPU. */
  readonly native?: NativeRuntime;
  /** Ringtrain's name for the backend. */
  readonly name: BackendName;
  /** The tfjs backend name that is now active (`tensorflow`, `wasm` or `cpu`). */
  readonly tfjsBackend: string;
  /** Why this one: requested, or which preferred backend was unavailable and why. */
  readonly reason: string;
}

export interface InitBackendOptions {
  /** `--backend`; when absent, `RINGTRAIN_BACKEND` from `env`, else `auto`. */
  readonly requested?: BackendRequest;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the single "backend chosen" line goes; stderr by default so `--json` stdout stays clean. */
  readonly log?: (line: string) => void;
  /**
   * TensorFlow's thread pools (see `chooseComputeThreads`). They are fixed when the native library loads, so
   * only the first activation of the `tensorflow` backend in a process applies them.
   */
  readonly threads?: ComputeThreads;
}

const require = createRequire(import.meta.url);
// The .wasm binaries ship in the package's dist folder; pointing tfjs at them keeps it off the network.
const WASM_DIR = `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`;
setWasmPaths(WASM_DIR);

let logged = false;

/** Parses a backend name from a flag or the environment; names the accepted values when it is wrong. */
export function parseBackendRequest(value: string, source: string): BackendRequest {
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendRequest;
  throw new Error(`${source}: unknown backend "${value}"; use one of auto, ${BACKEND_NAMES.join(', ')}`);
}

/**
 * Selects and activates the compute backend: `tensorflow` (tfjs-node-gpu, then tfjs-node) when one of those
 * optional packages loads, else `wasm` (with our convolution gradient kernels), else `cpu`. An explicit
 * request that cannot be honoured is an error rather than a silent fallback, because a benchmark or a run
 * on the wrong backend is worse than no run. Logs the choice and its reason once per process.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const env = options.env ?? process.env;
  const fromEnv = env.RINGTRAIN_BACKEND;
  const requested =
    options.requested ?? (fromEnv ? parseBackendRequest(fromEnv, 'RINGTRAIN_BACKEND') : ('auto' as const));
  const choice =
    requested === 'auto'
      ? await chooseAutomatically(options.threads)
      : await useRequested(requested, fromEnv, options.threads);
  if (!logged) {
    logged = true;
    const native = choice.native === undefined ? '' : `; ${describeNative(choice.native)}`;
    (options.log ?? ((line) => process.stderr.write(`${line}\n`)))(
      `ringtrain: compute backend ${choice.name} (${choice.reason}${native})`
    );
  }
  return choice;
}

function describeNative(native: NativeRuntime): string {
  const threads =
    native.threads.intraOp > 0
      ? `${native.threads.intraOp} intra-op / ${native.threads.interOp} inter-op threads`
      : "threads: TensorFlow's default";
  return `TensorFlow ${native.tensorflowVersion} via ${native.package}, ${native.gpu ? 'GPU' : 'CPU'}, ${threads} (${native.threads.reason})`;
}

async function useRequested(
  name: BackendName,
  fromEnv: string | undefined,
  threads: ComputeThreads | undefined
): Promise<BackendChoice> {
  const origin = fromEnv === name ? 'RINGTRAIN_BACKEND' : '--backend';
  const failure = await activate(name, threads);
  if (failure !== undefined) {
    throw new Error(`${origin}=${name} requested but unavailable: ${failure}; use --backend auto to fall back`);
  }
  return withRuntime({ name, tfjsBackend: tf.getBackend(), reason: `requested by ${origin}` });
}

async function chooseAutomatically(threads: ComputeThreads | undefined): Promise<BackendChoice> {
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    const failure = await activate(name, threads);
    if (failure === undefined) {
      const reason = skipped.length === 0 ? 'preferred' : `auto: ${skipped.join('; ')}`;
      return withRuntime({ name, tfjsBackend: tf.getBackend(), reason });
    }
    skipped.push(`${name} unavailable (${failure})`);
  }
  throw new Error(`no compute backend could start: ${skipped.join('; ')}`);
}

function withRuntime(choice: BackendChoice): BackendChoice {
  return choice.name === 'tensorflow' && nativeRuntime !== undefined ? { ...choice, native: nativeRuntime } : choice;
}

/** Activates one backend; returns why it could not, or undefined on success. */
async function activate(name: BackendName, threads: ComputeThreads | undefined): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') return await activateTensorflow(threads);
    // tfjs-node loads @tensorflow/tfjs, which registers tfjs-core's gradients; wasm and cpu alone need our
    // loader hook to reach them.
    if (nativeRuntime === undefined) await import('./tfjs-gradients.js');
    if (name === 'wasm') registerWasmGradientKernels();
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') failed`;
    // The cpu backend prints a banner recommending tfjs-node on first use; our own log line already says
    // which backend runs and why, and stray stdout would corrupt `--json` output.
    if (name === 'cpu') Object.assign(tf.backend(), { firstUse: false });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The native packages, GPU first; only one may load, since each registers the same kernels again. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const SETUP_HINT = "node packages/model/scripts/install-native-tensorflow.mjs builds it from PyPI's TensorFlow";
let nativeRuntime: NativeRuntime | undefined;

async function activateTensorflow(threads: ComputeThreads | undefined): Promise<string | undefined> {
  if (nativeRuntime !== undefined)
    return (await tf.setBackend('tensorflow')) ? undefined : 'the tensorflow backend did not start';
  const problems: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    // Importing a package whose binding was never built registers its kernels before it fails, and the next
    // package's registration then warns about each of them: look for the binding first.
    const missing = missingBinding(pkg);
    if (missing !== undefined) {
      problems.push(`${pkg}: ${missing}`);
      continue;
    }
    const threadsUsed = applyThreads(threads);
    // TensorFlow's C++ logging is on by default at INFO (oneDNN and CPU-feature banners on every start).
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    try {
      // A variable specifier: the type checker must not resolve these optional packages. Loading one
      // registers the `tensorflow` backend with tfjs-core.
      const specifier: string = pkg;
      await import(specifier);
      if (!(await tf.setBackend('tensorflow'))) {
        problems.push(`${pkg} loaded but the tensorflow backend did not start`);
        continue;
      }
      const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean; binding?: { TF_Version?: string } };
      nativeRuntime = {
        package: pkg,
        tensorflowVersion: String(backend.binding?.TF_Version ?? 'unknown'),
        gpu: backend.isUsingGpuDevice === true,
        threads: threadsUsed
      };
      return undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      problems.push(`${pkg}: ${message}`);
      // A package that failed half-way has registered kernels; a second one would only add warnings.
      break;
    }
  }
  return problems.join(', ');
}

/** Why a native package cannot load, without loading it; undefined when its binding is there. */
export function missingBinding(pkg: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return `not installed (${SETUP_HINT})`;
  }
  const lib = join(dir, 'lib');
  const built = existsSync(lib) && readdirSync(lib).some((name) => existsSync(join(lib, name, 'tfjs_binding.node')));
  return built ? undefined : `its binding is not built (${SETUP_HINT})`;
}

/**
 * TensorFlow reads its pool sizes from the environment once, when the library loads. Variables the user set
 * win over the computed choice.
 */
function applyThreads(threads: ComputeThreads | undefined): ComputeThreads {
  const { TF_NUM_INTRAOP_THREADS: intra, TF_NUM_INTEROP_THREADS: inter } = process.env;
  if (intra !== undefined || threads === undefined) {
    const read = (value: string | undefined): number => (Number(value) > 0 ? Number(value) : 0);
    const reason =
      intra === undefined ? "TensorFlow's default: every core" : 'TF_NUM_INTRAOP_THREADS in the environment';
    return { intraOp: read(intra), interOp: read(inter), reason };
  }
  process.env.TF_NUM_INTRAOP_THREADS = String(threads.intraOp);
  process.env.TF_NUM_INTEROP_THREADS = inter ?? String(threads.interOp);
  return { ...threads, interOp: Number(process.env.TF_NUM_INTEROP_THREADS) };
}
