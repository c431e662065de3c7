// A worker thread is a plain Node thread: it knows nothing of TypeScript. This entry registers tsx in the
// thread, then runs the TypeScript collective thread (collective-thread.ts).
import { register } from 'tsx/esm/api';

register();
await import('./collective-thread.ts');
