// Writes the generated CRD into deploy/crds/ and the Helm chart's crds/ (run via
// `npm run generate-crd -w @ringtrain/operator`); e2e/chart checks the two copies are equal.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_PATH, crdYaml } from './crd.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
for (const target of [CRD_PATH, path.join('helm', 'ringtrain', 'crds', path.basename(CRD_PATH))]) {
  writeFileSync(path.join(repoRoot, target), crdYaml());
  console.log(`wrote ${target}`);
}
