import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHostPort } from './host-port.js';

test('an IPv6 literal is bracketed so its colons do not run into the port', () => {
  assert.equal(formatHostPort('::1', 50051), '[::1]:50051');
  assert.equal(formatHostPort('fd00::a:2', '8080'), '[fd00::a:2]:8080');
  assert.equal(new URL(`http://${formatHostPort('::', 80)}/`).hostname, '[::]');
});

test('names, IPv4 addresses and already bracketed literals are left as they are', () => {
  assert.equal(formatHostPort('127.0.0.1', 0), '127.0.0.1:0');
  assert.equal(formatHostPort('worker-0.ringtrain.default.svc', 29500), 'worker-0.ringtrain.default.svc:29500');
  assert.equal(formatHostPort('[::1]', 29500), '[::1]:29500');
});
