/**
 * @ringtrain/model: ResNet18 in TensorFlow.js, torchvision-layout weights, transforms, compute backends and
 * the training step. This file is the package's whole public API.
 */
export { BACKEND_NAMES, initBackend, parseBackendRequest } from './backend.js';
export type { BackendChoice, BackendName, BackendRequest, InitBackendOptions } from './backend.js';
