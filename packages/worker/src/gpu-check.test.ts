import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BackendChoice } from '@ringtrain/model';
import { checkGpuBackend, compareVersions, observeGpuHost, type GpuHostFacts } from './gpu-check.js';

const threads = { intraOp: 4, interOp: 2, reason: 'test' };
const tensorflow = (pkg: string, gpu: boolean): { backend: BackendChoice } => ({
  backend: {
    name: 'tensorflow',
    tfjsBackend: 'tensorflow',
    reason: 'requested by --backend',
    native: { package: pkg, tensorflowVersion: '2.15.1', gpu, threads }
  }
});
const onGpu = tensorflow('@tensorflow/tfjs-node-gpu', true);
const onCpu = tensorflow('@tensorflow/tfjs-node-gpu', false);
const gpuNode: GpuHostFacts = {
  devices: ['/dev/nvidia0'],
  driverVersion: '535.104.05',
  driverLibrary: '/usr/lib/x86_64-linux-gnu/libcuda.so.1'
};
const nvidia = { count: 1, resource: 'nvidia.com/gpu' };

const refused = (verdict: ReturnType<typeof checkGpuBackend>): string => {
  assert.equal(verdict.ok, false, 'expected a refusal');
  return verdict.ok ? '' : verdict.message;
};

describe('checkGpuBackend (a pod given GPUs must compute on one)', () => {
  it('passes when TensorFlow computes on a GPU', () => {
    const verdict = checkGpuBackend(nvidia, onGpu, gpuNode);
    assert.deepEqual(verdict, {
      ok: true,
      summary: 'TensorFlow 2.15.1 computes on a GPU via @tensorflow/tfjs-node-gpu'
    });
  });

  it('passes and says that the others idle when the pod was given more GPUs than tfjs uses', () => {
    const verdict = checkGpuBackend({ count: 2, resource: 'nvidia.com/gpu' }, onGpu, gpuNode);
    assert.ok(verdict.ok);
    assert.match(verdict.summary, /1 of the pod's 2 GPUs stay idle/);
  });

  it('expects nothing of a pod given no GPU, whatever the backend', () => {
    for (const outcome of [onCpu, { error: 'no binding' }])
      assert.equal(checkGpuBackend({ count: 0 }, outcome, { devices: [] }).ok, true);
  });

  it('refuses TensorFlow on the CPU, naming the count, the resource and the missing device', () => {
    const message = refused(checkGpuBackend(nvidia, onCpu, { devices: [] }));
    assert.match(
      message,
      /^this pod was given 1 GPU \(nvidia\.com\/gpu\) but TensorFlow sees none: TensorFlow 2\.15\.1 via @tensorflow\/tfjs-node-gpu computes on the CPU; /
    );
    assert.match(message, /no \/dev\/nvidia\* device is in the container/);
    assert.match(
      message,
      /NVIDIA driver \(>= 525\.60\.13; >= 530\.30\.02 on compute capability 9\.0\) and its device plugin/
    );
  });

  it('names a driver older than CUDA 12.2 needs', () => {
    const message = refused(checkGpuBackend(nvidia, onCpu, { ...gpuNode, driverVersion: '470.223.02' }));
    assert.match(
      message,
      /the node's NVIDIA driver 470\.223\.02 is older than 525\.60\.13, the oldest that runs CUDA 12\.2: upgrade it/
    );
  });

  it("names a device without the driver's library, and a device with it but still no GPU", () => {
    assert.match(
      refused(checkGpuBackend(nvidia, onCpu, { devices: ['/dev/nvidia0'] })),
      /1 \/dev\/nvidia\* device\(s\) but no libcuda\.so\.1 in the container/
    );
    const message = refused(checkGpuBackend(nvidia, onCpu, gpuNode));
    assert.match(
      message,
      /\(driver 535\.104\.05\) and \/usr\/lib\/x86_64-linux-gnu\/libcuda\.so\.1; TF_CPP_MIN_LOG_LEVEL=0 in workers\.env/
    );
  });

  it('refuses the CPU build of tfjs-node: the wrong image', () => {
    const message = refused(checkGpuBackend(nvidia, tensorflow('@tensorflow/tfjs-node', false), gpuNode));
    assert.match(
      message,
      /TensorFlow 2\.15\.1 runs via @tensorflow\/tfjs-node, the CPU build: use the worker-gpu image/
    );
  });

  it('refuses a backend other than tensorflow, and a tensorflow backend that did not start, with their reasons', () => {
    const wasm: BackendChoice = {
      name: 'wasm',
      tfjsBackend: 'wasm',
      reason: 'auto: tensorflow unavailable (not installed)'
    };
    assert.match(
      refused(checkGpuBackend(nvidia, { backend: wasm }, gpuNode)),
      /sees none: the compute backend is wasm \(auto: tensorflow unavailable \(not installed\)\)/
    );
    const failed = refused(
      checkGpuBackend(
        nvidia,
        { error: 'RINGTRAIN_BACKEND=tensorflow requested but unavailable: its binding is not built' },
        { devices: [] }
      )
    );
    assert.match(
      failed,
      /sees none: the tensorflow backend did not start \(RINGTRAIN_BACKEND=tensorflow requested but unavailable: its binding is not built\)/
    );
  });

  it('says that a non-NVIDIA GPU resource cannot work with the CUDA image', () => {
    const message = refused(checkGpuBackend({ count: 1, resource: 'amd.com/gpu' }, onCpu, { devices: [] }));
    assert.match(
      message,
      /given 1 GPU \(amd\.com\/gpu\).*amd\.com\/gpu is not an NVIDIA resource, and the GPU image runs CUDA only/
    );
  });

  it("fits the operator's termination-message window (512 characters) in the longest case", () => {
    const longest = refused(
      checkGpuBackend({ count: 16, resource: 'nvidia.com/mig-3g.40gb' }, onCpu, {
        devices: ['/dev/nvidia0'],
        driverVersion: '535.104.05',
        driverLibrary: '/usr/local/nvidia/lib64/libcuda.so.1'
      })
    );
    assert.ok(`ringtrain: ${longest}`.length <= 512, `${longest.length} characters: ${longest}`);
    const failed = refused(
      checkGpuBackend(
        { count: 16, resource: 'nvidia.com/mig-3g.40gb' },
        { error: 'x'.repeat(2000) },
        {
          devices: ['/dev/nvidia0'],
          driverVersion: '535.104.05',
          driverLibrary: '/usr/local/nvidia/lib64/libcuda.so.1'
        }
      )
    );
    assert.ok(`ringtrain: ${failed}`.length <= 512, `${failed.length} characters: ${failed}`);
    assert.match(failed, /x…\); /);
  });
});

describe('compareVersions', () => {
  it('compares NVIDIA driver versions part by part', () => {
    assert.equal(compareVersions('535.104.05', '525.60.13'), 1);
    assert.equal(compareVersions('525.60.13', '525.60.13'), 0);
    assert.equal(compareVersions('525.60', '525.60.13'), -1);
    assert.equal(compareVersions('470.223.02', '525.60.13'), -1);
  });
});

describe('observeGpuHost', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ringtrain-gpu-host-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('reads the devices, the driver version and where libcuda.so.1 is', async () => {
    await mkdir(path.join(root, 'dev'));
    await mkdir(path.join(root, 'lib'));
    for (const name of ['nvidia1', 'nvidia0', 'nvidiactl', 'nvidia-uvm'])
      await writeFile(path.join(root, 'dev', name), '');
    await writeFile(
      path.join(root, 'version'),
      'NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  (dvs-builder@U16-I3-B03-4-3)\nGCC version:  gcc version 12.2.0\n'
    );
    await writeFile(path.join(root, 'lib', 'libcuda.so.1'), '');
    assert.deepEqual(
      observeGpuHost({
        devDir: path.join(root, 'dev'),
        driverVersionFile: path.join(root, 'version'),
        libraryDirs: [path.join(root, 'none'), path.join(root, 'lib')]
      }),
      {
        devices: [path.join(root, 'dev', 'nvidia0'), path.join(root, 'dev', 'nvidia1')],
        driverVersion: '535.104.05',
        driverLibrary: path.join(root, 'lib', 'libcuda.so.1')
      }
    );
  });

  it('reports nothing, without failing, where there is no GPU stack', () => {
    assert.deepEqual(
      observeGpuHost({
        devDir: path.join(root, 'no-dev'),
        driverVersionFile: path.join(root, 'no-version'),
        libraryDirs: []
      }),
      { devices: [] }
    );
  });
});
