import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sameSecret } from './same-secret.js';

test('only the exact secret matches', () => {
  assert.equal(sameSecret('Bearer s3cret', 'Bearer s3cret'), true);
  assert.equal(sameSecret('Bearer s3cret', 'Bearer s3creT'), false);
  assert.equal(sameSecret('', 'Bearer s3cret'), false);
  assert.equal(sameSecret('Bearer s3cret', ''), false);
  assert.equal(sameSecret('', ''), true);
  // No normalisation: canonically equivalent spellings are different secrets.
  assert.equal(sameSecret('caf\u00e9', 'cafe\u0301'), false);
});

test('secrets of any lengths compare without throwing, equal exactly when the strings are', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (a, b) => {
      assert.equal(sameSecret(a, b), a === b);
      assert.equal(sameSecret(a, a), true);
    })
  );
});
