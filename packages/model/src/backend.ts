import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import './tfjs-gradients.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from './wasm-conv-gradients.js';

/** The compute backends Ringtrain knows, in order of preference for `auto`. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendRequest = BackendName | 'auto';

export interface BackendChoice {
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
  const choice = requested === 'auto' ? await chooseAutomatically() : await useRequested(requested, fromEnv);
  if (!logged) {
    logged = true;
    (options.log ?? ((line) => process.stderr.write(`${line}\n`)))(
      `ringtrain: compute backend ${choice.name} (${choice.reason})`,
    );
  }
  return choice;
}

async function useRequested(name: BackendName, fromEnv: string | undefined): Promise<BackendChoice> {
  const origin = fromEnv === name ? 'RINGTRAIN_BACKEND' : '--backend';
  const failure = await activate(name);
  if (failure !== undefined) {
    throw new Error(`${origin}=${name} requested but unavailable: ${failure}; use --backend auto to fall back`);
  }
  return { name, tfjsBackend: tf.getBackend(), reason: `requested by ${origin}` };
}

async function chooseAutomatically(): Promise<BackendChoice> {
  const skipped: string[] = [];
  for (const name of BACKEND_NAMES) {
    const failure = await activate(name);
    if (failure === undefined) {
      const reason = skipped.length === 0 ? 'preferred' : `auto: ${skipped.join('; ')}`;
      return { name, tfjsBackend: tf.getBackend(), reason };
    }
    skipped.push(`${name} unavailable (${failure})`);
  }
  throw new Error(`no compute backend could start: ${skipped.join('; ')}`);
}

/** Activates one backend; returns why it could not, or undefined on success. */
async function activate(name: BackendName): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') return await activateTensorflow();
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

async function activateTensorflow(): Promise<string | undefined> {
  const problems: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // A variable specifier: these packages are optional and usually absent, so the type checker must not
      // try to resolve them. Loading one registers the `tensorflow` backend with tfjs-core.
      const specifier: string = pkg;
      await import(specifier);
      if (await tf.setBackend('tensorflow')) return undefined;
      problems.push(`${pkg} loaded but the tensorflow backend did not start`);
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      problems.push(`${pkg}: ${message}`);
    }
  }
  return problems.join(', ');
}
