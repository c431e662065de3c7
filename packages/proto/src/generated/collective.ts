import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CollectiveClient as _ringtrain_collective_v1_CollectiveClient, CollectiveDefinition as _ringtrain_collective_v1_CollectiveDefinition } from './ringtrain/collective/v1/Collective';
import type { Frame as _ringtrain_collective_v1_Frame, Frame__Output as _ringtrain_collective_v1_Frame__Output } from './ringtrain/collective/v1/Frame';
import type { LinkRequest as _ringtrain_collective_v1_LinkRequest, LinkRequest__Output as _ringtrain_collective_v1_LinkRequest__Output } from './ringtrain/collective/v1/LinkRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  ringtrain: {
    collective: {
      v1: {
        Collective: SubtypeConstructor<typeof grpc.Client, _ringtrain_collective_v1_CollectiveClient> & { service: _ringtrain_collective_v1_CollectiveDefinition }
        Frame: MessageTypeDefinition<_ringtrain_collective_v1_Frame, _ringtrain_collective_v1_Frame__Output>
        FrameKind: EnumTypeDefinition
        LinkRequest: MessageTypeDefinition<_ringtrain_collective_v1_LinkRequest, _ringtrain_collective_v1_LinkRequest__Output>
        WireFormat: EnumTypeDefinition
      }
    }
  }
}

