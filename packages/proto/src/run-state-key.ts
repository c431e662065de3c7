import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * The key that signs what a run keeps in object storage and trusts when it restarts: the checkpoint pointer
 * (which holds the checkpoint's SHA-256, so the weights are covered too) and run-record.json. Whoever can write
 * the run's prefix but does not hold the run's token (another tenant, a leaked storage key) cannot make a
 * checkpoint the run will load, or rewrite its history.
 *
 * Derived with HKDF-SHA256 from the run's token (RINGTRAIN_TOKEN), which the operator keeps in the run's Secret
 * for the run's whole life, the same on every restart attempt. A local `ringtrain train` draws a new token at each
 * start, so it signs nothing and keeps the SHA-256 check alone (RINGTRAIN_HMAC_FROM_TOKEN unset).
 */
export class RunStateKey {
  private constructor(private readonly key: Buffer) {}

  static fromToken(token: string): RunStateKey {
    if (token.length < 16) throw new RangeError('the run token must be at least 16 characters to derive a key from');
    const key = hkdfSync('sha256', token, 'ringtrain.dev/run-state', 'checkpoint pointers and run-record.json v1', 32);
    return new RunStateKey(Buffer.from(key));
  }

  /** HMAC-SHA256 of the document's canonical JSON (keys sorted), as hex. */
  sign(document: unknown): string {
    return createHmac('sha256', this.key).update(canonicalJson(document)).digest('hex');
  }

  /** In constant time: whether `mac` is this key's HMAC of `document`. */
  verify(document: unknown, mac: unknown): boolean {
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false;
    return timingSafeEqual(Buffer.from(this.sign(document), 'hex'), Buffer.from(mac, 'hex'));
  }
}

/** The field a signed document carries its HMAC in; the HMAC covers every other field. */
export const HMAC_FIELD = 'hmac';

/** A JSON document with its HMAC added. */
export function withHmac<T extends object>(document: T, key: RunStateKey): T & { hmac: string } {
  return { ...document, [HMAC_FIELD]: key.sign(document) } as T & { hmac: string };
}

/**
 * Whether a parsed JSON document carries a valid HMAC of its other fields: 'valid', 'missing' or 'invalid'.
 * Checked on the JSON as read, before a schema drops or defaults any field.
 */
export function checkHmac(json: unknown, key: RunStateKey): 'valid' | 'missing' | 'invalid' {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return 'missing';
  const { [HMAC_FIELD]: mac, ...rest } = json as Record<string, unknown>;
  if (mac === undefined) return 'missing';
  return key.verify(rest, mac) ? 'valid' : 'invalid';
}

/**
 * JSON with object keys sorted at every level, and without undefined members: one text per value, whatever
 * order a writer or a parser kept the keys in.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) => {
    if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(member).sort()) sorted[name] = (member as Record<string, unknown>)[name];
    return sorted;
  });
}

/**
 * The run's state key when the environment says its token is stable across restarts (the operator's pods set
 * RINGTRAIN_HMAC_FROM_TOKEN=true); undefined otherwise. Read once, at the CLI's edge.
 */
export function runStateKeyFromEnv(env: NodeJS.ProcessEnv, token: string): RunStateKey | undefined {
  const flag = env.RINGTRAIN_HMAC_FROM_TOKEN;
  if (flag === undefined || flag === '' || flag === 'false') return undefined;
  if (flag !== 'true') throw new Error(`RINGTRAIN_HMAC_FROM_TOKEN must be true or false, got ${JSON.stringify(flag)}`);
  return RunStateKey.fromToken(token);
}
