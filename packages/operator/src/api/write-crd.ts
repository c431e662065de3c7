// Writes the generated CRD into deploy/crds/ (run via `npm run generate-crd -w @ringtrain/operator`).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CRD_PATH, crdYaml } from './crd.js';

const target = fileURLToPath(new URL(`../../../../${CRD_PATH}`, import.meta.url));
writeFileSync(target, crdYaml());
console.log(`wrote ${target}`);
