import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pngSize } from './png.js';

/**
 * docs/concepts.md promises that every example runs as written: this runs each ```sh block from the
 * repository's root, in order, as a bash script that stops at the first failing command. The block that trains
 * takes a minute or more on two cores and is [slow]: RINGTRAIN_SKIP_SLOW_TESTS=1 skips it.
 */
const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const doc = readFileSync(path.join(root, 'docs', 'concepts.md'), 'utf8');
const slow = process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false;
const runDir = path.join(root, 'runs', 'concepts');

interface Block {
  language: string;
  body: string;
}

/** Fenced blocks in document order. */
function fencedBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({
    language: match[1]!,
    body: match[2]!
  }));
}

/** Trains for real, as opposed to --dry-run or --help. */
const trains = (script: string): boolean => /ringtrain train\b(?![^\n]*--(dry-run|help))/.test(script);

function runScript(script: string): Promise<{ code: number; output: string }> {
  // Plain `npx ringtrain` resolves to this workspace's bin only from inside the repository, as the doc says.
  const child = spawn('nice', ['-n', '5', 'bash', '-e', '-o', 'pipefail', '-c', script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code: code ?? 1, output })));
}

const blocks = fencedBlocks(doc);
const shell = blocks.filter((block) => block.language === 'sh');

describe('docs/concepts.md', () => {
  before(() => rm(runDir, { recursive: true, force: true }));
  // Checkpoints of ResNet18 are 128 MiB each: do not leave them behind in the working tree.
  after(() => rm(runDir, { recursive: true, force: true }));

  it('has runnable examples, and every one that reads a run trains it in the same block', () => {
    assert.ok(shell.length >= 4, `${shell.length} sh blocks`);
    for (const block of shell) {
      if (/ringtrain (report|eval) runs\/concepts/.test(block.body))
        assert.ok(trains(block.body), `this block reads runs/concepts without training it first:\n${block.body}`);
    }
  });

  for (const block of shell) {
    const first = block.body.trim().split('\n')[0]!;
    const isSlow = trains(block.body);
    it(
      `${isSlow ? '[slow] ' : ''}runs as written: ${first}`,
      { skip: isSlow ? slow : false, timeout: 20 * 60_000 },
      async () => {
        const result = await runScript(block.body);
        assert.equal(result.code, 0, `the block failed:\n${block.body}\n--- output ---\n${result.output.slice(-4000)}`);
        // The plan the doc quotes after this block is what the command prints.
        const quoted = blocks[blocks.indexOf(block) + 1];
        if (quoted?.language === 'text') {
          for (const line of quoted.body.split('\n').filter((text) => text.trim() !== '')) {
            assert.ok(
              result.output.includes(line.trim()),
              `the doc quotes "${line.trim()}" but the command printed:\n${result.output.slice(-4000)}`
            );
          }
        }
        if (isSlow && /ringtrain report runs\/concepts/.test(block.body)) {
          assert.match(
            await readFile(path.join(runDir, 'report.html'), 'utf8'),
            /<h2>The run plan<\/h2>[\s\S]*<h2>Confusion matrix and per-class accuracy<\/h2>/
          );
          assert.ok(pngSize(await readFile(path.join(runDir, 'curves.png'))) !== undefined, 'curves.png is a PNG');
        }
      }
    );
  }
});
