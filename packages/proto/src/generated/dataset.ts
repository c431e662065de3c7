import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { DatasetServiceClient as _ringtrain_dataset_v1_DatasetServiceClient, DatasetServiceDefinition as _ringtrain_dataset_v1_DatasetServiceDefinition } from './ringtrain/dataset/v1/DatasetService';
import type { GetEpochPlanRequest as _ringtrain_dataset_v1_GetEpochPlanRequest, GetEpochPlanRequest__Output as _ringtrain_dataset_v1_GetEpochPlanRequest__Output } from './ringtrain/dataset/v1/GetEpochPlanRequest';
import type { GetEpochPlanResponse as _ringtrain_dataset_v1_GetEpochPlanResponse, GetEpochPlanResponse__Output as _ringtrain_dataset_v1_GetEpochPlanResponse__Output } from './ringtrain/dataset/v1/GetEpochPlanResponse';
import type { GetManifestRequest as _ringtrain_dataset_v1_GetManifestRequest, GetManifestRequest__Output as _ringtrain_dataset_v1_GetManifestRequest__Output } from './ringtrain/dataset/v1/GetManifestRequest';
import type { GetManifestResponse as _ringtrain_dataset_v1_GetManifestResponse, GetManifestResponse__Output as _ringtrain_dataset_v1_GetManifestResponse__Output } from './ringtrain/dataset/v1/GetManifestResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ringtrain: {
    dataset: {
      v1: {
        DatasetService: SubtypeConstructor<typeof grpc.Client, _ringtrain_dataset_v1_DatasetServiceClient> & { service: _ringtrain_dataset_v1_DatasetServiceDefinition }
        GetEpochPlanRequest: MessageTypeDefinition<_ringtrain_dataset_v1_GetEpochPlanRequest, _ringtrain_dataset_v1_GetEpochPlanRequest__Output>
        GetEpochPlanResponse: MessageTypeDefinition<_ringtrain_dataset_v1_GetEpochPlanResponse, _ringtrain_dataset_v1_GetEpochPlanResponse__Output>
        GetManifestRequest: MessageTypeDefinition<_ringtrain_dataset_v1_GetManifestRequest, _ringtrain_dataset_v1_GetManifestRequest__Output>
        GetManifestResponse: MessageTypeDefinition<_ringtrain_dataset_v1_GetManifestResponse, _ringtrain_dataset_v1_GetManifestResponse__Output>
        RemainderPolicy: EnumTypeDefinition
      }
    }
  }
}

