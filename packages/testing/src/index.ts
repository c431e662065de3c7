/**
 * @ringtrain/testing: helpers the test suites of several packages share (a dev dependency only). Real servers
 * for tests live with the package they serve (`startMinio` in @ringtrain/dataset, `startKubeTestServer` in
 * @ringtrain/operator).
 */
export { freePort } from './free-port.js';
export { eventually, GaveUp } from './eventually.js';
