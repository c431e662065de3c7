import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether a presented secret (a bearer token, say) equals the expected one, in time that depends on neither
 * where they differ nor how long they are: both are hashed to 32 bytes first, so `timingSafeEqual` always
 * compares equal lengths and a wrong guess learns nothing, not even the secret's length.
 */
export function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
