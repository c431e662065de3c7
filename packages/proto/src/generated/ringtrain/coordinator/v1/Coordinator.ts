// Original file: proto/coordinator.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Ack as _ringtrain_coordinator_v1_Ack, Ack__Output as _ringtrain_coordinator_v1_Ack__Output } from '../../../ringtrain/coordinator/v1/Ack';
import type { CheckpointReport as _ringtrain_coordinator_v1_CheckpointReport, CheckpointReport__Output as _ringtrain_coordinator_v1_CheckpointReport__Output } from '../../../ringtrain/coordinator/v1/CheckpointReport';
import type { EpochReport as _ringtrain_coordinator_v1_EpochReport, EpochReport__Output as _ringtrain_coordinator_v1_EpochReport__Output } from '../../../ringtrain/coordinator/v1/EpochReport';
import type { FailureReport as _ringtrain_coordinator_v1_FailureReport, FailureReport__Output as _ringtrain_coordinator_v1_FailureReport__Output } from '../../../ringtrain/coordinator/v1/FailureReport';
import type { FinishedReport as _ringtrain_coordinator_v1_FinishedReport, FinishedReport__Output as _ringtrain_coordinator_v1_FinishedReport__Output } from '../../../ringtrain/coordinator/v1/FinishedReport';
import type { HeartbeatRequest as _ringtrain_coordinator_v1_HeartbeatRequest, HeartbeatRequest__Output as _ringtrain_coordinator_v1_HeartbeatRequest__Output } from '../../../ringtrain/coordinator/v1/HeartbeatRequest';
import type { HeartbeatResponse as _ringtrain_coordinator_v1_HeartbeatResponse, HeartbeatResponse__Output as _ringtrain_coordinator_v1_HeartbeatResponse__Output } from '../../../ringtrain/coordinator/v1/HeartbeatResponse';
import type { RegisterRequest as _ringtrain_coordinator_v1_RegisterRequest, RegisterRequest__Output as _ringtrain_coordinator_v1_RegisterRequest__Output } from '../../../ringtrain/coordinator/v1/RegisterRequest';
import type { RegisterResponse as _ringtrain_coordinator_v1_RegisterResponse, RegisterResponse__Output as _ringtrain_coordinator_v1_RegisterResponse__Output } from '../../../ringtrain/coordinator/v1/RegisterResponse';
import type { StepReport as _ringtrain_coordinator_v1_StepReport, StepReport__Output as _ringtrain_coordinator_v1_StepReport__Output } from '../../../ringtrain/coordinator/v1/StepReport';

export interface CoordinatorClient extends grpc.Client {
  /**
   * Liveness; the answer tells the worker to abandon its generation (a peer failed) or to stop cleanly.
   */
  Heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Liveness; the answer tells the worker to abandon its generation (a peer failed) or to stop cleanly.
   */
  heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _ringtrain_coordinator_v1_HeartbeatRequest, callback: grpc.requestCallback<_ringtrain_coordinator_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Joins the next generation. Answers once `world_size` workers have registered (gang semantics), or at once
   * with `run_ended` when the run is over. A worker that registers while a generation is running ends that
   * generation: its previous incarnation is gone.
   */
  Register(argument: _ringtrain_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _ringtrain_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _ringtrain_coordinator_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _ringtrain_coordinator_v1_RegisterRequest, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Joins the next generation. Answers once `world_size` workers have registered (gang semantics), or at once
   * with `run_ended` when the run is over. A worker that registers while a generation is running ends that
   * generation: its previous incarnation is gone.
   */
  register(argument: _ringtrain_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _ringtrain_coordinator_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _ringtrain_coordinator_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _ringtrain_coordinator_v1_RegisterRequest, callback: grpc.requestCallback<_ringtrain_coordinator_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  
  ReportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportCheckpoint(argument: _ringtrain_coordinator_v1_CheckpointReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  ReportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportEpoch(argument: _ringtrain_coordinator_v1_EpochReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  /**
   * A worker's generation failed (collective error, data error); the coordinator ends the generation.
   */
  ReportFailure(argument: _ringtrain_coordinator_v1_FailureReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportFailure(argument: _ringtrain_coordinator_v1_FailureReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportFailure(argument: _ringtrain_coordinator_v1_FailureReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportFailure(argument: _ringtrain_coordinator_v1_FailureReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  /**
   * A worker's generation failed (collective error, data error); the coordinator ends the generation.
   */
  reportFailure(argument: _ringtrain_coordinator_v1_FailureReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportFailure(argument: _ringtrain_coordinator_v1_FailureReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportFailure(argument: _ringtrain_coordinator_v1_FailureReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportFailure(argument: _ringtrain_coordinator_v1_FailureReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  /**
   * A rank finished the run (or stopped cleanly on request); the run ends when every rank has.
   */
  ReportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  /**
   * A rank finished the run (or stopped cleanly on request); the run ends when every rank has.
   */
  reportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportFinished(argument: _ringtrain_coordinator_v1_FinishedReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  ReportStep(argument: _ringtrain_coordinator_v1_StepReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportStep(argument: _ringtrain_coordinator_v1_StepReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportStep(argument: _ringtrain_coordinator_v1_StepReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  ReportStep(argument: _ringtrain_coordinator_v1_StepReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportStep(argument: _ringtrain_coordinator_v1_StepReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportStep(argument: _ringtrain_coordinator_v1_StepReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportStep(argument: _ringtrain_coordinator_v1_StepReport, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  reportStep(argument: _ringtrain_coordinator_v1_StepReport, callback: grpc.requestCallback<_ringtrain_coordinator_v1_Ack__Output>): grpc.ClientUnaryCall;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Liveness; the answer tells the worker to abandon its generation (a peer failed) or to stop cleanly.
   */
  Heartbeat: grpc.handleUnaryCall<_ringtrain_coordinator_v1_HeartbeatRequest__Output, _ringtrain_coordinator_v1_HeartbeatResponse>;
  
  /**
   * Joins the next generation. Answers once `world_size` workers have registered (gang semantics), or at once
   * with `run_ended` when the run is over. A worker that registers while a generation is running ends that
   * generation: its previous incarnation is gone.
   */
  Register: grpc.handleUnaryCall<_ringtrain_coordinator_v1_RegisterRequest__Output, _ringtrain_coordinator_v1_RegisterResponse>;
  
  ReportCheckpoint: grpc.handleUnaryCall<_ringtrain_coordinator_v1_CheckpointReport__Output, _ringtrain_coordinator_v1_Ack>;
  
  ReportEpoch: grpc.handleUnaryCall<_ringtrain_coordinator_v1_EpochReport__Output, _ringtrain_coordinator_v1_Ack>;
  
  /**
   * A worker's generation failed (collective error, data error); the coordinator ends the generation.
   */
  ReportFailure: grpc.handleUnaryCall<_ringtrain_coordinator_v1_FailureReport__Output, _ringtrain_coordinator_v1_Ack>;
  
  /**
   * A rank finished the run (or stopped cleanly on request); the run ends when every rank has.
   */
  ReportFinished: grpc.handleUnaryCall<_ringtrain_coordinator_v1_FinishedReport__Output, _ringtrain_coordinator_v1_Ack>;
  
  ReportStep: grpc.handleUnaryCall<_ringtrain_coordinator_v1_StepReport__Output, _ringtrain_coordinator_v1_Ack>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  Heartbeat: MethodDefinition<_ringtrain_coordinator_v1_HeartbeatRequest, _ringtrain_coordinator_v1_HeartbeatResponse, _ringtrain_coordinator_v1_HeartbeatRequest__Output, _ringtrain_coordinator_v1_HeartbeatResponse__Output>
  Register: MethodDefinition<_ringtrain_coordinator_v1_RegisterRequest, _ringtrain_coordinator_v1_RegisterResponse, _ringtrain_coordinator_v1_RegisterRequest__Output, _ringtrain_coordinator_v1_RegisterResponse__Output>
  ReportCheckpoint: MethodDefinition<_ringtrain_coordinator_v1_CheckpointReport, _ringtrain_coordinator_v1_Ack, _ringtrain_coordinator_v1_CheckpointReport__Output, _ringtrain_coordinator_v1_Ack__Output>
  ReportEpoch: MethodDefinition<_ringtrain_coordinator_v1_EpochReport, _ringtrain_coordinator_v1_Ack, _ringtrain_coordinator_v1_EpochReport__Output, _ringtrain_coordinator_v1_Ack__Output>
  ReportFailure: MethodDefinition<_ringtrain_coordinator_v1_FailureReport, _ringtrain_coordinator_v1_Ack, _ringtrain_coordinator_v1_FailureReport__Output, _ringtrain_coordinator_v1_Ack__Output>
  ReportFinished: MethodDefinition<_ringtrain_coordinator_v1_FinishedReport, _ringtrain_coordinator_v1_Ack, _ringtrain_coordinator_v1_FinishedReport__Output, _ringtrain_coordinator_v1_Ack__Output>
  ReportStep: MethodDefinition<_ringtrain_coordinator_v1_StepReport, _ringtrain_coordinator_v1_Ack, _ringtrain_coordinator_v1_StepReport__Output, _ringtrain_coordinator_v1_Ack__Output>
}
