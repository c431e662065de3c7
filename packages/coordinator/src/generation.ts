import type { Registration } from './rendezvous.js';

/**
 * The books of the latest generation: each member's rank, address, last sign of life and end of training. Who is
 * in it is the rendezvous's to say (rendezvous.ts); these are what the coordinator learns of them as they report.
 */
export interface Member {
  workerId: string;
  rank: number;
  address: string;
  /** Milliseconds since the epoch of its last heartbeat or report. */
  lastSeen: number;
  finished?: { stopped: boolean; weightsSha256: string; summary: Record<string, unknown> };
}

export interface Generation {
  number: number;
  members: Map<string, Member>;
}

/** A report from a generation that is not the current one (or from a non-member): the worker must register again. */
export class StaleGenerationError extends Error {
  override readonly name = 'StaleGenerationError';
}

/** The books of a generation the rendezvous formed: `registrations` in rank order, all seen `now`. */
export function generationBooks(number: number, registrations: readonly Registration[], now: number): Generation {
  const members = new Map<string, Member>();
  registrations.forEach(({ workerId, address }, rank) =>
    members.set(workerId, { workerId, rank, address, lastSeen: now })
  );
  return { number, members };
}

/** The members by rank. */
export function membersByRank(generation: Generation | undefined): Member[] {
  return [...(generation?.members.values() ?? [])].sort((a, b) => a.rank - b.rank);
}

/**
 * The member a report comes from, marked seen `now`. A report from an ended generation is refused with
 * StaleGenerationError (FAILED_PRECONDITION on the wire), so the worker registers again.
 */
export function reportingMember(
  current: Generation | undefined,
  workerId: string,
  generation: number,
  now: number
): Member {
  const member = current?.members.get(workerId);
  if (current === undefined || current.number !== generation || member === undefined) {
    throw new StaleGenerationError(
      `generation ${generation} is not the current one (${current?.number ?? 'none'}): register again`
    );
  }
  member.lastSeen = now;
  return member;
}
