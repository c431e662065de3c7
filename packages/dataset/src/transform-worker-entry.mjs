// Piscina workers are plain Node worker threads: they know nothing of TypeScript. This entry registers tsx in
// the worker, then hands piscina the TypeScript transform.
import { register } from 'tsx/esm/api';

register();
const { transform } = await import('./transform-worker.ts');
export default transform;
