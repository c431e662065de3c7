// Original file: proto/collective.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Frame as _ringtrain_collective_v1_Frame, Frame__Output as _ringtrain_collective_v1_Frame__Output } from '../../../ringtrain/collective/v1/Frame';
import type { LinkRequest as _ringtrain_collective_v1_LinkRequest, LinkRequest__Output as _ringtrain_collective_v1_LinkRequest__Output } from '../../../ringtrain/collective/v1/LinkRequest';

export interface CollectiveClient extends grpc.Client {
  Link(argument: _ringtrain_collective_v1_LinkRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ringtrain_collective_v1_Frame__Output>;
  Link(argument: _ringtrain_collective_v1_LinkRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ringtrain_collective_v1_Frame__Output>;
  link(argument: _ringtrain_collective_v1_LinkRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ringtrain_collective_v1_Frame__Output>;
  link(argument: _ringtrain_collective_v1_LinkRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ringtrain_collective_v1_Frame__Output>;
  
}

export interface CollectiveHandlers extends grpc.UntypedServiceImplementation {
  Link: grpc.handleServerStreamingCall<_ringtrain_collective_v1_LinkRequest__Output, _ringtrain_collective_v1_Frame>;
  
}

export interface CollectiveDefinition extends grpc.ServiceDefinition {
  Link: MethodDefinition<_ringtrain_collective_v1_LinkRequest, _ringtrain_collective_v1_Frame, _ringtrain_collective_v1_LinkRequest__Output, _ringtrain_collective_v1_Frame__Output>
}
