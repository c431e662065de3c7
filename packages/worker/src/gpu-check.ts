import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BackendChoice } from '@ringtrain/model';

/**
 * A worker whose pod was given GPUs must compute on one. tfjs-node-gpu falls back to the CPU without an error
 * when TensorFlow finds no usable GPU (no driver in the container, a driver too old for CUDA 12.2, no device
 * passed in), and the run would then train 10-50x slower while its log says "tensorflow". The decision is
 * `checkGpuBackend`, pure; `observeGpuHost` gathers what the container shows for it.
 */

/**
 * The oldest NVIDIA driver that runs TensorFlow 2.15's CUDA 12.2 build through CUDA 12's minor-version
 * compatibility. GPUs of compute capability 9.0 need 530.30.02: the wheel has no sm_90 code, and the driver
 * compiles its PTX (ISA 8.1, CUDA 12.1's), which minor-version compatibility does not cover.
 */
export const MIN_NVIDIA_DRIVER = '525.60.13';
export const MIN_NVIDIA_DRIVER_SM90 = '530.30.02';

/** What the pod was given: RINGTRAIN_EXPECTED_GPUS and RINGTRAIN_GPU_RESOURCE, which the operator sets. */
export interface GpuExpectation {
  readonly count: number;
  /** The extended resource they came as (nvidia.com/gpu, amd.com/gpu, ...), when known. */
  readonly resource?: string;
}

/** What the container shows of the GPU stack (`observeGpuHost`, or made up by tests). */
export interface GpuHostFacts {
  /** /dev/nvidia0, /dev/nvidia1, ...: the GPUs the device plugin passed in. */
  readonly devices: readonly string[];
  /** The kernel module's version, from /proc/driver/nvidia/version when the runtime exposes it. */
  readonly driverVersion?: string;
  /** Where the driver's libcuda.so.1 is (mounted by the NVIDIA container runtime, or GKE's /usr/local/nvidia). */
  readonly driverLibrary?: string;
}

/** The compute backend as the worker started it with `tensorflow` requested, or why it could not start. */
export type BackendOutcome = { readonly backend: BackendChoice } | { readonly error: string };

export type GpuVerdict =
  { readonly ok: true; readonly summary: string } | { readonly ok: false; readonly message: string };

/** A pod given GPUs on which TensorFlow computes on none: retrying on the same node cannot fix it. */
export class GpuUnavailableError extends Error {
  readonly code = 'GPU_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';

/** Whether the pod's GPUs are what TensorFlow computes on; when not, a message that names the likely cause. */
export function checkGpuBackend(expected: GpuExpectation, outcome: BackendOutcome, host: GpuHostFacts): GpuVerdict {
  if (expected.count <= 0) return { ok: true, summary: 'no GPU expected' };
  const native = 'backend' in outcome ? outcome.backend.native : undefined;
  if ('backend' in outcome && outcome.backend.name === 'tensorflow' && native?.gpu === true) {
    const idle =
      expected.count > 1
        ? `; tfjs computes on one device, so ${expected.count - 1} of the pod's ${expected.count} GPUs stay idle (run one rank per GPU: RINGTRAIN_RANKS_PER_POD, which the operator sets from spec.workers.ranksPerPod)`
        : '';
    return {
      ok: true,
      summary: `TensorFlow ${native.tensorflowVersion} computes on a GPU via ${native.package}${idle}`
    };
  }
  const seen =
    'error' in outcome
      ? `the tensorflow backend did not start (${clip(outcome.error, 110)})`
      : native === undefined
        ? `the compute backend is ${outcome.backend.name} (${outcome.backend.reason})`
        : native.package !== GPU_PACKAGE
          ? `TensorFlow ${native.tensorflowVersion} runs via ${native.package}, the CPU build: use the worker-gpu image`
          : `TensorFlow ${native.tensorflowVersion} via ${native.package} computes on the CPU`;
  const given = `${expected.count} GPU${expected.count === 1 ? '' : 's'}${expected.resource ? ` (${expected.resource})` : ''}`;
  return {
    ok: false,
    message: `this pod was given ${given} but TensorFlow sees none: ${seen}; ${diagnose(expected, host)}`
  };
}

/**
 * The operator keeps the last 512 characters of a failed container's log as the run's failure message; a long
 * reason from the backend must not push the start of this one out of it.
 */
function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/** The likeliest cause, from what the container shows, and where to look. */
function diagnose(expected: GpuExpectation, host: GpuHostFacts): string {
  const check = `check the node's NVIDIA driver (>= ${MIN_NVIDIA_DRIVER}; >= ${MIN_NVIDIA_DRIVER_SM90} on compute capability 9.0) and its device plugin`;
  if (expected.resource !== undefined && !expected.resource.startsWith('nvidia.com/')) {
    return `${expected.resource} is not an NVIDIA resource, and the GPU image runs CUDA only`;
  }
  if (host.devices.length === 0) return `no /dev/nvidia* device is in the container, so no GPU was passed in: ${check}`;
  if (host.driverVersion !== undefined && compareVersions(host.driverVersion, MIN_NVIDIA_DRIVER) < 0) {
    return `the node's NVIDIA driver ${host.driverVersion} is older than ${MIN_NVIDIA_DRIVER}, the oldest that runs CUDA 12.2: upgrade it`;
  }
  const driver = host.driverVersion === undefined ? '' : ` (driver ${host.driverVersion})`;
  if (host.driverLibrary === undefined) {
    return `${host.devices.length} /dev/nvidia* device(s)${driver} but no libcuda.so.1 in the container: the NVIDIA container runtime did not mount the driver; ${check}`;
  }
  return `${host.devices.length} /dev/nvidia* device(s)${driver} and ${host.driverLibrary}; TF_CPP_MIN_LOG_LEVEL=0 in workers.env shows TensorFlow's reason; ${check}`;
}

/** Compares dotted version numbers (535.104.05 > 525.60.13). */
export function compareVersions(a: string, b: string): number {
  const parts = (version: string) => version.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    const difference = (x[i] ?? 0) - (y[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

export interface ObserveGpuHostOptions {
  readonly devDir?: string;
  readonly driverVersionFile?: string;
  /** Where the dynamic loader would find libcuda.so.1; by default LD_LIBRARY_PATH's and the usual system folders. */
  readonly libraryDirs?: readonly string[];
}

const SYSTEM_LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/lib64',
  '/usr/lib',
  '/usr/local/nvidia/lib64'
];

/** Reads what the container shows of the GPU stack; missing files are facts too, never errors. */
export function observeGpuHost(options: ObserveGpuHostOptions = {}): GpuHostFacts {
  const devDir = options.devDir ?? '/dev';
  let devices: string[] = [];
  try {
    devices = readdirSync(devDir)
      .filter((name) => /^nvidia\d+$/.test(name))
      .sort()
      .map((name) => path.join(devDir, name));
  } catch {
    // no such folder: no devices
  }
  let driverVersion: string | undefined;
  try {
    // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  ..." (or "... Open Kernel Module for x86_64  ...")
    driverVersion = /Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)/.exec(
      readFileSync(options.driverVersionFile ?? '/proc/driver/nvidia/version', 'utf8')
    )?.[1];
  } catch {
    // not exposed to the container
  }
  const dirs = options.libraryDirs ?? [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    ...SYSTEM_LIBRARY_DIRS
  ];
  const driverLibrary = dirs.map((dir) => path.join(dir, 'libcuda.so.1')).find((file) => existsSync(file));
  return {
    devices,
    ...(driverVersion !== undefined ? { driverVersion } : {}),
    ...(driverLibrary !== undefined ? { driverLibrary } : {})
  };
}
