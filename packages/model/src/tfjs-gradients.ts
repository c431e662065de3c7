import { register } from 'node:module';

/**
 * Registers tfjs-core's gradient functions for the wasm and cpu backends (tfjs-node registers them itself when the
 * native backend loads), which training needs and which the package's Node (CommonJS)
 * bundle leaves out: they exist only as the ES-module tree under `dist/`, whose extensionless relative imports
 * Node's resolver rejects, and in one case (`./gradients`, both a file and a folder) so does tsx's. A resolve
 * hook scoped to tfjs-core's `dist/` retries such a specifier with `.js`. The registries are process-global
 * (tfjs keeps them on globalThis), so gradients registered by this copy serve the CommonJS engine too.
 */
const HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const fromTfjsCore = (context.parentURL ?? '').includes('/@tensorflow/tfjs-core/dist/');
    if (fromTfjsCore && specifier.startsWith('.') && !specifier.endsWith('.js')) {
      return next(specifier + '.js', context);
    }
    throw error;
  }
}
`;

register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
