import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { parseOptions } from '../../options.js';
import { addLinkFlags, linkFlagsSchema, shapedLink } from './link-flags.js';

function parse(argv: string[]) {
  const command = addLinkFlags(new Command('bench').exitOverride());
  command.parse(argv, { from: 'user' });
  return shapedLink(parseOptions(z.object(linkFlagsSchema), command.opts()));
}

test('no --link-gbit means loopback; --link-gbit and --link-latency-ms give a shaped link', () => {
  assert.equal(parse([]), undefined);
  assert.deepEqual(parse(['--link-gbit', '2']), { gbit: 2 });
  assert.deepEqual(parse(['--link-gbit', '0.5', '--link-latency-ms', '1.5']), { gbit: 0.5, latencyMs: 1.5 });
});

test('a latency without a rate, a zero or negative rate are usage errors', () => {
  assert.throws(() => parse(['--link-latency-ms', '2']), UsageError);
  assert.throws(() => parse(['--link-gbit', '0']), /--link-gbit/);
  assert.throws(() => parse(['--link-gbit', '-1']), /--link-gbit/);
});
