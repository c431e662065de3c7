import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './tools.js';

// No Docker engine here (e2e/kind/run.sh builds the images where there is one): these catch the drift that
// would break that build, from the files alone.
const dockerfile = path.join(repoRoot, 'deploy', 'docker', 'Dockerfile');

describe('deploy/docker/Dockerfile', () => {
  it('copies the package.json of every npm workspace before `npm ci` (which refuses a missing one)', async () => {
    const text = await readFile(dockerfile, 'utf8');
    const root = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
    const workspaces: string[] = [];
    for (const pattern of root.workspaces) {
      if (pattern.endsWith('/*')) {
        const parent = pattern.slice(0, -2);
        const entries = await readdir(path.join(repoRoot, parent), { withFileTypes: true });
        for (const entry of entries) if (entry.isDirectory()) workspaces.push(`${parent}/${entry.name}`);
      } else {
        workspaces.push(pattern);
      }
    }
    assert.ok(workspaces.length > 2, workspaces.join(', '));
    for (const workspace of workspaces) {
      assert.match(
        text,
        new RegExp(`^COPY ${workspace}/package\\.json ${workspace}/$`, 'm'),
        `the Dockerfile does not copy ${workspace}/package.json`
      );
    }
  });

  it('lets every path it copies through Dockerfile.dockerignore', async () => {
    const text = await readFile(dockerfile, 'utf8');
    const ignore = await readFile(`${dockerfile}.dockerignore`, 'utf8');
    const allowed = ignore
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    const copied = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)]
      .flatMap((match) => (match[1] ?? '').split(' '))
      .map((source) => source.replace(/\/$/, ''));
    assert.ok(copied.length > 0);
    for (const source of copied)
      assert.ok(
        allowed.some((allow) => source === allow || source.startsWith(`${allow}/`)),
        `${source} is copied but ignored`
      );
  });

  it('leaves test code out of the images, and nothing it ships imports test code', async () => {
    const ignore = await readFile(`${dockerfile}.dockerignore`, 'utf8');
    const shipped = dockerContext(ignore);
    const files = (await readdir(path.join(repoRoot, 'packages'), { recursive: true }))
      .map((file) => `packages/${file.split(path.sep).join('/')}`)
      .filter((file) => !file.includes('/node_modules/') && !file.endsWith('/node_modules'));
    const sent = files.filter(shipped);
    assert.ok(
      sent.includes('packages/cli/src/main.ts') && sent.includes('packages/testing/package.json'),
      'the sources and every package.json are sent'
    );
    const testCode =
      /(\.test\.ts|\.test-helper\.ts|\.fixture\.ts)$|\/testdata\/|^packages\/testing\/(?!package\.json$)/;
    const leaked = sent.filter((file) => testCode.test(file));
    assert.deepEqual(leaked, [], 'test code sent to the image build');
    for (const file of sent.filter((name) => /\.(ts|mjs|js)$/.test(name))) {
      const source = await readFile(path.join(repoRoot, file), 'utf8');
      for (const [, specifier = ''] of source.matchAll(/(?:\bfrom|\bimport\s*\(?|new URL\()\s*'([^']+)'/g)) {
        assert.ok(
          !specifier.startsWith('@ringtrain/testing'),
          `${file} imports ${specifier}, a dev dependency the images leave out`
        );
        if (!specifier.startsWith('.')) continue;
        const target = path.posix.join(path.posix.dirname(file), specifier);
        const candidates = [target, target.replace(/\.js$/, '.ts')].filter(
          (candidate) => existsSync(path.join(repoRoot, candidate)) && statSync(path.join(repoRoot, candidate)).isFile()
        );
        for (const candidate of candidates)
          assert.ok(shipped(candidate), `${file} needs ${candidate}, which the images leave out`);
      }
    }
  });

  it('puts the `ringtrain` bin the pods run (command: [ringtrain, …]) where PATH finds it', async () => {
    const text = await readFile(dockerfile, 'utf8');
    const cli = JSON.parse(await readFile(path.join(repoRoot, 'packages', 'cli', 'package.json'), 'utf8')) as {
      bin?: Record<string, string>;
    };
    assert.ok(cli.bin?.ringtrain, '@ringtrain/cli declares the ringtrain bin (npm links it into node_modules/.bin)');
    const targets = [...text.matchAll(/^FROM \S+ AS (control-plane|worker-cpu|worker-gpu)$/gm)].map((m) => m[1]);
    assert.deepEqual(targets, ['control-plane', 'worker-cpu', 'worker-gpu']);
    for (const target of targets) {
      const stage = text.slice(text.indexOf(`AS ${target}\n`)).split(/^FROM /m)[0] ?? '';
      assert.match(stage, /^ENV .*PATH=\/app\/node_modules\/\.bin:\$PATH/m, `${target}: node_modules/.bin on PATH`);
      assert.match(stage, /^USER 65532:65532$/m, `${target}: runs as 65532, as the operator's pods expect`);
    }
  });

  it('runs the compiled packages with plain Node: dist/ built from every package the CLI loads, no tsx', async () => {
    const text = await readFile(dockerfile, 'utf8');
    assert.match(text, /^RUN npx tsc -b packages\/cli\/tsconfig\.build\.json/m, 'the build stage compiles the CLI');
    const sent = dockerContext(await readFile(`${dockerfile}.dockerignore`, 'utf8'));
    assert.ok(!sent('packages/cli/dist/main.js'), 'a local dist/ stays out of the context: the image builds its own');
    for (const target of ['control-plane', 'worker-cpu', 'worker-gpu']) {
      const stage = text.slice(text.indexOf(`AS ${target}\n`)).split(/^FROM /m)[0] ?? '';
      assert.match(stage, /^COPY --from=app \/app\/ \/app\/$/m, `${target}: ships the build stage's output`);
    }
    // `tsc -b` builds a package's references first: each must name the workspace packages it depends on, or
    // the image's build compiles a package before its dependencies (and fails).
    const shipped = new Map<string, Manifest>();
    const visit = async (name: string): Promise<void> => {
      if (shipped.has(name)) return;
      const manifest = await readManifest(name);
      shipped.set(name, manifest);
      for (const dependency of Object.keys(manifest.dependencies ?? {}))
        if (dependency.startsWith('@ringtrain/')) await visit(dependency);
    };
    await visit('@ringtrain/cli');
    assert.ok(shipped.size > 5, [...shipped.keys()].join(', '));
    for (const [name, manifest] of shipped) {
      const dir = name.replace('@ringtrain/', '');
      assert.equal(manifest.dependencies?.tsx, undefined, `${name}: tsx is a dev dependency, not in the images`);
      assert.deepEqual(
        manifest.exports?.['.'],
        { development: './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
        `${name}: the sources under the development condition, dist/ otherwise`
      );
      const buildConfig = JSON.parse(
        await readFile(path.join(repoRoot, 'packages', dir, 'tsconfig.build.json'), 'utf8')
      ) as { references?: { path: string }[] };
      const references = (buildConfig.references ?? []).map((reference) => reference.path).sort();
      const expected = Object.keys(manifest.dependencies ?? {})
        .filter((dependency) => dependency.startsWith('@ringtrain/'))
        .map((dependency) => `../${dependency.replace('@ringtrain/', '')}/tsconfig.build.json`)
        .sort();
      assert.deepEqual(references, expected, `packages/${dir}/tsconfig.build.json references its dependencies`);
    }
  });
});

interface Manifest {
  dependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
}

async function readManifest(name: string): Promise<Manifest> {
  const file = path.join(repoRoot, 'packages', name.replace('@ringtrain/', ''), 'package.json');
  return JSON.parse(await readFile(file, 'utf8')) as Manifest;
}

/**
 * Whether a .dockerignore sends a path (relative, with `/`) to the build: the last pattern that matches the path
 * or one of its parent directories decides, `!` re-includes. Covers the syntax our file uses (`*`, `**`).
 */
function dockerContext(ignore: string): (file: string) => boolean {
  const rules = ignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = (include ? line.slice(1) : line).replace(/\/$/, '');
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '.*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')))
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { include, pattern: new RegExp(`^${source}$`) };
    });
  return (file) => {
    const parts = file.split('/');
    const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
    let sent = true;
    for (const rule of rules) if (prefixes.some((prefix) => rule.pattern.test(prefix))) sent = rule.include;
    return sent;
  };
}

describe("the images' native TensorFlow", () => {
  const script = path.join(repoRoot, 'packages', 'model', 'scripts', 'install-native-tensorflow.mjs');
  const requirementsFile = path.join(repoRoot, 'deploy', 'docker', 'nvidia-cu12-requirements.txt');
  const stage = (text: string, name: string): string =>
    text.slice(text.indexOf(` AS ${name}\n`)).split(/^FROM /m)[0] ?? '';
  /** The `requirement` the install script pins for one variant, e.g. tensorflow==2.15.1 for gpu. */
  const pinned = (source: string, variant: 'cpu' | 'gpu'): string => {
    const match = new RegExp(`\\b${variant}: \\{[^}]*requirement: '([^']+)'`).exec(source);
    assert.ok(match?.[1], `install-native-tensorflow.mjs pins no ${variant} wheel`);
    return match[1];
  };
  const readRequirements = async () => {
    const text = await readFile(requirementsFile, 'utf8');
    const lines = text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    const wheels = lines.map((line) => {
      const match = /^(nvidia-[a-z0-9-]+-cu12)==([0-9.]+) --hash=sha256:[0-9a-f]{64}$/.exec(line);
      assert.ok(match, `not a name==version --hash=sha256:<64 hex> line: ${line}`);
      return { name: match[1] ?? '', version: match[2] ?? '' };
    });
    return { text, wheels, forTensorflow: /^# for: (\S+)$/m.exec(text)?.[1] };
  };

  it("builds each worker's binding with the install script from PyPI's wheels, strictly, and nothing with tfjs-node's own download", async () => {
    const text = await readFile(dockerfile, 'utf8');
    assert.match(
      stage(text, 'deps-cpu'),
      /node packages\/model\/scripts\/install-native-tensorflow\.mjs --variant cpu --strict/
    );
    assert.match(
      stage(text, 'deps-gpu'),
      /node packages\/model\/scripts\/install-native-tensorflow\.mjs --variant gpu --strict/
    );
    assert.match(stage(text, 'deps'), /npm ci .*--ignore-scripts/);
    assert.doesNotMatch(text, /npm rebuild|googleapis|^\s*(RUN|&&).*\b(curl|wget)\b/m);
  });

  it('installs the CUDA wheels pinned for the TensorFlow the script builds the GPU binding against, each by sha256', async () => {
    const source = await readFile(script, 'utf8');
    const { wheels, forTensorflow } = await readRequirements();
    assert.equal(
      forTensorflow,
      pinned(source, 'gpu'),
      'nvidia-cu12-requirements.txt says which TensorFlow its pins are for'
    );
    // What TensorFlow 2.15 dlopens at GPU start, and nvJitLink, which cuSOLVER and cuSPARSE link.
    const loaded = ['cuda-runtime', 'cublas', 'cufft', 'cusolver', 'cusparse', 'cudnn', 'nvjitlink'].map(
      (name) => `nvidia-${name}-cu12`
    );
    for (const name of loaded)
      assert.ok(
        wheels.some((wheel) => wheel.name === name),
        `${name} is not installed`
      );
    assert.equal(new Set(wheels.map((wheel) => wheel.name)).size, wheels.length, 'one pin per wheel');
    const gpu = stage(await readFile(dockerfile, 'utf8'), 'deps-gpu');
    assert.match(gpu, /^COPY deploy\/docker\/nvidia-cu12-requirements\.txt /m);
    assert.match(gpu, /pip install --no-deps --require-hashes --only-binary=:all:/);
    assert.match(gpu, /mv \S+\/nvidia node_modules\/@tensorflow\/tfjs-node-gpu\/deps\/nvidia/);
  });

  it("names in the Dockerfile's header the TensorFlow, CUDA and cuDNN versions that the script and the pins ship", async () => {
    const header = (await readFile(dockerfile, 'utf8')).split(/^ARG /m)[0] ?? '';
    const source = await readFile(script, 'utf8');
    for (const variant of ['cpu', 'gpu'] as const)
      assert.ok(header.includes(pinned(source, variant)), `the header does not name ${pinned(source, variant)}`);
    const { wheels } = await readRequirements();
    const minor = (name: string) =>
      wheels
        .find((wheel) => wheel.name === name)
        ?.version.split('.')
        .slice(0, 2)
        .join('.');
    assert.ok(
      header.includes(`CUDA ${minor('nvidia-cuda-runtime-cu12')}`),
      `the header does not name CUDA ${minor('nvidia-cuda-runtime-cu12')}`
    );
    assert.ok(
      header.includes(`cuDNN ${minor('nvidia-cudnn-cu12')}`),
      `the header does not name cuDNN ${minor('nvidia-cudnn-cu12')}`
    );
  });
});
