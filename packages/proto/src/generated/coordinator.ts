import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _ringtrain_coordinator_v1_Ack, Ack__Output as _ringtrain_coordinator_v1_Ack__Output } from './ringtrain/coordinator/v1/Ack';
import type { CheckpointReport as _ringtrain_coordinator_v1_CheckpointReport, CheckpointReport__Output as _ringtrain_coordinator_v1_CheckpointReport__Output } from './ringtrain/coordinator/v1/CheckpointReport';
import type { CoordinatorClient as _ringtrain_coordinator_v1_CoordinatorClient, CoordinatorDefinition as _ringtrain_coordinator_v1_CoordinatorDefinition } from './ringtrain/coordinator/v1/Coordinator';
import type { EpochReport as _ringtrain_coordinator_v1_EpochReport, EpochReport__Output as _ringtrain_coordinator_v1_EpochReport__Output } from './ringtrain/coordinator/v1/EpochReport';
import type { FailureReport as _ringtrain_coordinator_v1_FailureReport, FailureReport__Output as _ringtrain_coordinator_v1_FailureReport__Output } from './ringtrain/coordinator/v1/FailureReport';
import type { FinishedReport as _ringtrain_coordinator_v1_FinishedReport, FinishedReport__Output as _ringtrain_coordinator_v1_FinishedReport__Output } from './ringtrain/coordinator/v1/FinishedReport';
import type { HeartbeatRequest as _ringtrain_coordinator_v1_HeartbeatRequest, HeartbeatRequest__Output as _ringtrain_coordinator_v1_HeartbeatRequest__Output } from './ringtrain/coordinator/v1/HeartbeatRequest';
import type { HeartbeatResponse as _ringtrain_coordinator_v1_HeartbeatResponse, HeartbeatResponse__Output as _ringtrain_coordinator_v1_HeartbeatResponse__Output } from './ringtrain/coordinator/v1/HeartbeatResponse';
import type { RankStepTime as _ringtrain_coordinator_v1_RankStepTime, RankStepTime__Output as _ringtrain_coordinator_v1_RankStepTime__Output } from './ringtrain/coordinator/v1/RankStepTime';
import type { RegisterRequest as _ringtrain_coordinator_v1_RegisterRequest, RegisterRequest__Output as _ringtrain_coordinator_v1_RegisterRequest__Output } from './ringtrain/coordinator/v1/RegisterRequest';
import type { RegisterResponse as _ringtrain_coordinator_v1_RegisterResponse, RegisterResponse__Output as _ringtrain_coordinator_v1_RegisterResponse__Output } from './ringtrain/coordinator/v1/RegisterResponse';
import type { StepReport as _ringtrain_coordinator_v1_StepReport, StepReport__Output as _ringtrain_coordinator_v1_StepReport__Output } from './ringtrain/coordinator/v1/StepReport';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ringtrain: {
    coordinator: {
      v1: {
        Ack: MessageTypeDefinition<_ringtrain_coordinator_v1_Ack, _ringtrain_coordinator_v1_Ack__Output>
        CheckpointReport: MessageTypeDefinition<_ringtrain_coordinator_v1_CheckpointReport, _ringtrain_coordinator_v1_CheckpointReport__Output>
        Coordinator: SubtypeConstructor<typeof grpc.Client, _ringtrain_coordinator_v1_CoordinatorClient> & { service: _ringtrain_coordinator_v1_CoordinatorDefinition }
        EpochReport: MessageTypeDefinition<_ringtrain_coordinator_v1_EpochReport, _ringtrain_coordinator_v1_EpochReport__Output>
        FailureReport: MessageTypeDefinition<_ringtrain_coordinator_v1_FailureReport, _ringtrain_coordinator_v1_FailureReport__Output>
        FinishedReport: MessageTypeDefinition<_ringtrain_coordinator_v1_FinishedReport, _ringtrain_coordinator_v1_FinishedReport__Output>
        HeartbeatRequest: MessageTypeDefinition<_ringtrain_coordinator_v1_HeartbeatRequest, _ringtrain_coordinator_v1_HeartbeatRequest__Output>
        HeartbeatResponse: MessageTypeDefinition<_ringtrain_coordinator_v1_HeartbeatResponse, _ringtrain_coordinator_v1_HeartbeatResponse__Output>
        RankStepTime: MessageTypeDefinition<_ringtrain_coordinator_v1_RankStepTime, _ringtrain_coordinator_v1_RankStepTime__Output>
        RegisterRequest: MessageTypeDefinition<_ringtrain_coordinator_v1_RegisterRequest, _ringtrain_coordinator_v1_RegisterRequest__Output>
        RegisterResponse: MessageTypeDefinition<_ringtrain_coordinator_v1_RegisterResponse, _ringtrain_coordinator_v1_RegisterResponse__Output>
        RunOutcome: EnumTypeDefinition
        StepReport: MessageTypeDefinition<_ringtrain_coordinator_v1_StepReport, _ringtrain_coordinator_v1_StepReport__Output>
      }
    }
  }
}

