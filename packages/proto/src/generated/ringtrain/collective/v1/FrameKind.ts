// Original file: proto/collective.proto

export const FrameKind = {
  FRAME_KIND_UNSPECIFIED: 'FRAME_KIND_UNSPECIFIED',
  FRAME_KIND_ACCEPTED: 'FRAME_KIND_ACCEPTED',
  FRAME_KIND_ALL_REDUCE: 'FRAME_KIND_ALL_REDUCE',
  FRAME_KIND_BROADCAST: 'FRAME_KIND_BROADCAST',
  FRAME_KIND_ALL_GATHER: 'FRAME_KIND_ALL_GATHER',
} as const;

export type FrameKind =
  | 'FRAME_KIND_UNSPECIFIED'
  | 0
  | 'FRAME_KIND_ACCEPTED'
  | 1
  | 'FRAME_KIND_ALL_REDUCE'
  | 2
  | 'FRAME_KIND_BROADCAST'
  | 3
  | 'FRAME_KIND_ALL_GATHER'
  | 4

export type FrameKind__Output = typeof FrameKind[keyof typeof FrameKind]
