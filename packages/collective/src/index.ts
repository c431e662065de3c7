export { CollectiveEndpoint, type EndpointOptions } from './endpoint.js';
export {
  MAX_STRIPES,
  ProcessGroup,
  type AllReduceOptions,
  type CollectiveGroup,
  type JsonValue,
  type ProcessGroupConfig,
  type ProcessGroupStats
} from './process-group.js';
export {
  CollectiveArgumentError,
  CollectiveError,
  CollectiveTimeoutError,
  GroupClosedError,
  PeerLostError,
  PeerRefusedError,
  ProtocolError,
  type CollectiveErrorCode
} from './errors.js';
export { SharedStagingPool, ThreadedEndpoint, ThreadedProcessGroup } from './threaded-process-group.js';
export { connectGroup, stripeSlices, StripedProcessGroup } from './striped-process-group.js';
export { roundThroughWire, WIRE_FORMATS, type WireFormat } from './wire-format.js';
export type { TlsFiles } from './tls.js';
export { benchmarkAllReduce, type AllReduceBenchmarkOptions, type AllReduceBenchmarkResult } from './benchmark.js';
export {
  canCreateNetworkNamespaces,
  ShapedNetwork,
  ShapedNetworkError,
  sweepStaleShapedNetworks,
  SHAPED_NETWORK_PREFIX,
  type ShapedNetworkOptions,
  type ShapedRank
} from './shaped-network.js';
