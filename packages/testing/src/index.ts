/**
 * @ringtrain/testing: what the test suites of several packages share, and a dev dependency only: no shipped
 * source imports it (the shared eslint config refuses it outside test files) and the images leave it out.
 * Besides free ports and polling, the real servers the integration tests run against: MinIO, and etcd +
 * kube-apiserver (binaries from scripts/install-minio.sh and scripts/install-kube-test-servers.sh).
 */
export { freePort } from './free-port.js';
export { eventually, GaveUp } from './eventually.js';
export { minioBinary, startMinio, type MinioTestConfig, type MinioTestServer } from './minio-server.js';
export { kubeTestBinaries, startKubeTestServer, type KubeTestServer } from './kube-server.js';
