import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * One value of a mounted Secret (a file named after its key), trimmed. A missing or empty file is an error
 * that names the file and `providedBy`, what should have put it there (a flag, an env var).
 */
export async function readSecretFile(dir: string, name: string, providedBy: string): Promise<string> {
  const file = path.join(dir, name);
  try {
    const value = (await readFile(file, 'utf8')).trim();
    if (value === '') throw new Error('the file is empty');
    return value;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read ${file} (${providedBy}): ${reason}`, { cause: error });
  }
}
