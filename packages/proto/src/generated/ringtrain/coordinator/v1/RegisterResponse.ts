// Original file: proto/coordinator.proto

import type { RunOutcome as _ringtrain_coordinator_v1_RunOutcome, RunOutcome__Output as _ringtrain_coordinator_v1_RunOutcome__Output } from '../../../ringtrain/coordinator/v1/RunOutcome';

export interface RegisterResponse {
  /**
   * True when the run is over (finished, failed or stopped): the worker exits.
   */
  'runEnded'?: (boolean);
  'runEndedReason'?: (string);
  'runId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  'worldSize'?: (number);
  /**
   * Collective endpoint of every rank, indexed by rank: the ring order.
   */
  'peers'?: (string)[];
  /**
   * Shared secret of this generation's process group.
   */
  'collectiveToken'?: (string);
  /**
   * The run configuration as JSON; the worker validates it with the coordinator package's schema.
   */
  'configJson'?: (string);
  /**
   * How the run ended, with `run_ended`: a worker exits with the code of a failed run on FAILED alone, so that
   * no wording of `run_ended_reason` decides it. UNSPECIFIED from a coordinator that does not say.
   */
  'runOutcome'?: (_ringtrain_coordinator_v1_RunOutcome);
}

export interface RegisterResponse__Output {
  /**
   * True when the run is over (finished, failed or stopped): the worker exits.
   */
  'runEnded': (boolean);
  'runEndedReason': (string);
  'runId': (string);
  'generation': (number);
  'rank': (number);
  'worldSize': (number);
  /**
   * Collective endpoint of every rank, indexed by rank: the ring order.
   */
  'peers': (string)[];
  /**
   * Shared secret of this generation's process group.
   */
  'collectiveToken': (string);
  /**
   * The run configuration as JSON; the worker validates it with the coordinator package's schema.
   */
  'configJson': (string);
  /**
   * How the run ended, with `run_ended`: a worker exits with the code of a failed run on FAILED alone, so that
   * no wording of `run_ended_reason` decides it. UNSPECIFIED from a coordinator that does not say.
   */
  'runOutcome': (_ringtrain_coordinator_v1_RunOutcome__Output);
}
