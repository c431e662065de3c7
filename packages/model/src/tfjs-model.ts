import { ResNet18 } from './resnet18.js';
import { elementCount, resnet18Spec } from './resnet18-spec.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './transforms.js';

/**
 * A TensorFlow.js model directory: `model.json` with a standard `weightsManifest` (tf.io.loadWeights and
 * tf.io.decodeWeights read it) plus 4 MiB `.bin` shards, as tfjs converters write them. The topology is not a
 * Keras graph (the model is plain tfjs-core ops); it names the architecture and layouts so Ringtrain, or
 * anyone re-creating ResNet18 in tfjs, can rebuild it. Weights are in Ringtrain layout (HWIO, fc [in,out]).
 */
export const TFJS_MODEL_FORMAT = 'ringtrain/resnet18';
const SHARD_BYTES = 4 * 1024 * 1024;

interface ManifestEntry {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: 'float32' | 'int32';
}

export function saveTfjsModel(model: ResNet18, labels?: readonly string[]): Map<string, Uint8Array> {
  if (labels !== undefined && labels.length !== model.numClasses) {
    throw new Error(`${labels.length} labels for a model with ${model.numClasses} classes`);
  }
  const weights: ManifestEntry[] = [];
  const all = new Uint8Array(model.spec.reduce((sum, spec) => sum + elementCount(spec.shape) * 4, 0));
  const view = new DataView(all.buffer);
  let offset = 0;
  for (const spec of model.spec) {
    const values = model.read(spec.name);
    const integer = spec.kind === 'bn-num-batches';
    weights.push({ name: spec.name, shape: [...spec.shape], dtype: integer ? 'int32' : 'float32' });
    for (const value of values) {
      if (integer) view.setInt32(offset, value, true);
      else view.setFloat32(offset, value, true);
      offset += 4;
    }
  }
  const shardCount = Math.max(1, Math.ceil(all.length / SHARD_BYTES));
  const paths = Array.from({ length: shardCount }, (_, i) => `group1-shard${i + 1}of${shardCount}.bin`);
  const files = new Map<string, Uint8Array>();
  const modelJson = {
    format: TFJS_MODEL_FORMAT,
    generatedBy: '@ringtrain/model',
    convertedBy: null,
    modelTopology: {
      architecture: 'resnet18',
      numClasses: model.numClasses,
      dataFormat: 'NHWC',
      filterLayout: 'HWIO',
      input: { channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD }
    },
    weightsManifest: [{ paths, weights }]
  };
  files.set('model.json', new TextEncoder().encode(JSON.stringify(modelJson, null, 1)));
  paths.forEach((path, i) => files.set(path, all.slice(i * SHARD_BYTES, (i + 1) * SHARD_BYTES)));
  if (labels !== undefined) files.set('labels.json', labelsJson(labels));
  return files;
}

/** Reads a directory written by saveTfjsModel (file name → bytes). */
export function loadTfjsModel(files: ReadonlyMap<string, Uint8Array>): ResNet18 {
  const json = files.get('model.json');
  if (json === undefined) throw new Error('TensorFlow.js model directory has no model.json');
  const parsed = JSON.parse(new TextDecoder().decode(json)) as {
    format?: string;
    modelTopology?: { numClasses?: number };
    weightsManifest?: Array<{ paths: string[]; weights: ManifestEntry[] }>;
  };
  if (parsed.format !== TFJS_MODEL_FORMAT || parsed.weightsManifest?.length !== 1) {
    throw new Error(`model.json is not a ${TFJS_MODEL_FORMAT} model (format ${JSON.stringify(parsed.format)})`);
  }
  const numClasses = parsed.modelTopology?.numClasses ?? 0;
  const [group] = parsed.weightsManifest;
  const shards = group!.paths.map((path) => {
    const shard = files.get(path);
    if (shard === undefined) throw new Error(`TensorFlow.js model directory is missing weight shard ${path}`);
    return shard;
  });
  const all = new Uint8Array(shards.reduce((sum, shard) => sum + shard.length, 0));
  shards.reduce((at, shard) => (all.set(shard, at), at + shard.length), 0);
  const view = new DataView(all.buffer);
  // Weights are packed back to back in manifest order, whatever order that is.
  const read = new Map<string, { entry: ManifestEntry; values: Float32Array }>();
  let offset = 0;
  for (const entry of group!.weights) {
    const out = new Float32Array(elementCount(entry.shape));
    if (offset + out.length * 4 > all.length) throw new Error(`weight shards end before ${entry.name}`);
    for (let i = 0; i < out.length; i++, offset += 4) {
      out[i] = entry.dtype === 'int32' ? view.getInt32(offset, true) : view.getFloat32(offset, true);
    }
    read.set(entry.name, { entry, values: out });
  }
  if (offset !== all.length)
    throw new Error(`weight shards hold ${all.length} bytes, the manifest describes ${offset}`);
  const values = new Map<string, Float32Array>();
  for (const spec of resnet18Spec(numClasses)) {
    const found = read.get(spec.name);
    if (found === undefined || found.entry.shape.join() !== spec.shape.join()) {
      throw new Error(
        `model.json: ${spec.name} is ${found ? `[${found.entry.shape}]` : 'missing'}, expected [${spec.shape}]`
      );
    }
    values.set(spec.name, found.values);
  }
  return ResNet18.fromValues(numClasses, values);
}

/** `labels.json`: the class names in class-index order, as a JSON array. */
export function labelsJson(labels: readonly string[]): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(labels, null, 1)}\n`);
}
