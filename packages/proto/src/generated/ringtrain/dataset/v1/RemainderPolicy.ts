// Original file: proto/dataset.proto

export const RemainderPolicy = {
  REMAINDER_POLICY_UNSPECIFIED: 'REMAINDER_POLICY_UNSPECIFIED',
  /**
   * Skip the last (fewer than world_size) samples so that every rank gets the same count.
   */
  REMAINDER_POLICY_DROP: 'REMAINDER_POLICY_DROP',
  /**
   * Repeat samples from the start of the epoch's order to top up the last step (MosaicML Streaming's default).
   */
  REMAINDER_POLICY_PAD: 'REMAINDER_POLICY_PAD',
} as const;

export type RemainderPolicy =
  | 'REMAINDER_POLICY_UNSPECIFIED'
  | 0
  /**
   * Skip the last (fewer than world_size) samples so that every rank gets the same count.
   */
  | 'REMAINDER_POLICY_DROP'
  | 1
  /**
   * Repeat samples from the start of the epoch's order to top up the last step (MosaicML Streaming's default).
   */
  | 'REMAINDER_POLICY_PAD'
  | 2

export type RemainderPolicy__Output = typeof RemainderPolicy[keyof typeof RemainderPolicy]
