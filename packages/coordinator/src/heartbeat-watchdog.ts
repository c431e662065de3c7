import type { HeartbeatAnswer } from '@ringtrain/protocol';
import type { Generation } from './generation.js';
import type { HungWorker } from './records.js';
import { runningGeneration, type RendezvousState } from './rendezvous.js';

/**
 * Heartbeats: what a beating worker is told, and which silent workers hang. Pure functions of the books, so the
 * coordinator decides what follows (the hung list, `workerLost`, the end of a generation) and tests need no clock.
 */

export interface HeartbeatBooks {
  current: Generation | undefined;
  rendezvous: RendezvousState;
  /** How the run ended, once it has. */
  result: { state: string; reason: string } | undefined;
}

/** How often the watchdog looks: a quarter of the deadline, between 100 ms and 1 s. */
export function watchdogPeriodMs(deadlineMs: number): number {
  return Math.max(100, Math.min(1_000, deadlineMs / 4));
}

/** The answer to a heartbeat of `workerId` in `generation`; a member of the current generation is marked seen `now`. */
export function answerHeartbeat(
  books: HeartbeatBooks,
  workerId: string,
  generation: number,
  now: number
): HeartbeatAnswer {
  const { current, rendezvous, result } = books;
  if (result !== undefined && result.state !== 'succeeded') return { abort: true, reason: result.reason, stop: false };
  if (current === undefined || current.number !== generation) {
    return { abort: true, reason: `generation ${generation} has ended`, stop: false };
  }
  const member = current.members.get(workerId);
  // A member of a generation that ended still counts as alive while it beats (its step has yet to notice).
  if (member !== undefined) member.lastSeen = now;
  const ended = rendezvous.generation?.ended;
  if (ended !== undefined) return { abort: true, reason: ended, stop: false };
  if (member === undefined)
    return { abort: true, reason: `${workerId} is not a member of generation ${generation}`, stop: false };
  return { abort: false, reason: '', stop: rendezvous.stopRequested };
}

export interface WatchdogBooks {
  current: Generation | undefined;
  rendezvous: RendezvousState;
  /** Workers whose process exited (the supervisor said so) and that have not registered since. */
  exited: ReadonlySet<string>;
  /** Workers already declared hung. */
  hung: ReadonlyMap<string, HungWorker>;
  deadlineMs: number;
  now: number;
}

export interface HungVerdict {
  hung: HungWorker;
  /** A member of the running generation: its generation ends (else a straggler of one that already ended). */
  endsGeneration: boolean;
}

/**
 * The workers that hang now. While a generation runs: its first live member silent past the deadline (one is
 * enough to end the generation). While the gang gathers again: every member of the generation that ended,
 * silent past the deadline, that has not registered again and whose process did not exit: its step hangs
 * while its heartbeat thread gave up, after its peers' collective timed out. Nothing else would notice, and
 * the gang would wait for it.
 */
export function findHungWorkers(books: WatchdogBooks): HungVerdict[] {
  const { current, rendezvous, now, deadlineMs } = books;
  if (current === undefined) return [];
  const silentFor = (lastSeen: number) => `${((now - lastSeen) / 1000).toFixed(1)} s`;
  if (runningGeneration(rendezvous) !== undefined) {
    for (const member of current.members.values()) {
      if (member.finished !== undefined || now - member.lastSeen <= deadlineMs) continue;
      const reason = `worker ${member.workerId} (rank ${member.rank}) sent no heartbeat for ${silentFor(member.lastSeen)}: hung or unreachable`;
      return [{ hung: hungWorker(member.workerId, member.rank, member.lastSeen, reason), endsGeneration: true }];
    }
    return [];
  }
  if (rendezvous.phase !== 'gathering') return [];
  const back = new Set(rendezvous.pending.map((each) => each.workerId));
  const verdicts: HungVerdict[] = [];
  for (const member of current.members.values()) {
    const { workerId } = member;
    if (
      member.finished !== undefined ||
      back.has(workerId) ||
      books.exited.has(workerId) ||
      books.hung.has(workerId) ||
      now - member.lastSeen <= deadlineMs
    )
      continue;
    const reason = `worker ${workerId} (rank ${member.rank} of generation ${current.number}, which ended) sent no heartbeat for ${silentFor(member.lastSeen)} and did not register again: hung`;
    verdicts.push({ hung: hungWorker(workerId, member.rank, member.lastSeen, reason), endsGeneration: false });
  }
  return verdicts;
}

function hungWorker(workerId: string, rank: number, lastSeen: number, reason: string): HungWorker {
  return { workerId, rank, since: new Date(lastSeen).toISOString(), reason };
}
