// Original file: proto/dataset.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetEpochPlanRequest as _ringtrain_dataset_v1_GetEpochPlanRequest, GetEpochPlanRequest__Output as _ringtrain_dataset_v1_GetEpochPlanRequest__Output } from '../../../ringtrain/dataset/v1/GetEpochPlanRequest';
import type { GetEpochPlanResponse as _ringtrain_dataset_v1_GetEpochPlanResponse, GetEpochPlanResponse__Output as _ringtrain_dataset_v1_GetEpochPlanResponse__Output } from '../../../ringtrain/dataset/v1/GetEpochPlanResponse';
import type { GetManifestRequest as _ringtrain_dataset_v1_GetManifestRequest, GetManifestRequest__Output as _ringtrain_dataset_v1_GetManifestRequest__Output } from '../../../ringtrain/dataset/v1/GetManifestRequest';
import type { GetManifestResponse as _ringtrain_dataset_v1_GetManifestResponse, GetManifestResponse__Output as _ringtrain_dataset_v1_GetManifestResponse__Output } from '../../../ringtrain/dataset/v1/GetManifestResponse';

export interface DatasetServiceClient extends grpc.Client {
  GetEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  GetEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  GetEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  GetEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  getEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  getEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  getEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  getEpochPlan(argument: _ringtrain_dataset_v1_GetEpochPlanRequest, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetEpochPlanResponse__Output>): grpc.ClientUnaryCall;
  
  GetManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  GetManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  GetManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  GetManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  getManifest(argument: _ringtrain_dataset_v1_GetManifestRequest, callback: grpc.requestCallback<_ringtrain_dataset_v1_GetManifestResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface DatasetServiceHandlers extends grpc.UntypedServiceImplementation {
  GetEpochPlan: grpc.handleUnaryCall<_ringtrain_dataset_v1_GetEpochPlanRequest__Output, _ringtrain_dataset_v1_GetEpochPlanResponse>;
  
  GetManifest: grpc.handleUnaryCall<_ringtrain_dataset_v1_GetManifestRequest__Output, _ringtrain_dataset_v1_GetManifestResponse>;
  
}

export interface DatasetServiceDefinition extends grpc.ServiceDefinition {
  GetEpochPlan: MethodDefinition<_ringtrain_dataset_v1_GetEpochPlanRequest, _ringtrain_dataset_v1_GetEpochPlanResponse, _ringtrain_dataset_v1_GetEpochPlanRequest__Output, _ringtrain_dataset_v1_GetEpochPlanResponse__Output>
  GetManifest: MethodDefinition<_ringtrain_dataset_v1_GetManifestRequest, _ringtrain_dataset_v1_GetManifestResponse, _ringtrain_dataset_v1_GetManifestRequest__Output, _ringtrain_dataset_v1_GetManifestResponse__Output>
}
