/**
 * The coordinator's rendezvous as an explicit state machine: a pure function (state, event) → (state, actions).
 * It decides who is in which generation and when the run ends; the coordinator (coordinator.ts) keeps the books
 * (heartbeat times, reports, metrics) and carries out the actions (answers registrations, writes metrics.json).
 *
 *   Gathering ──enough registrations──► Running(g) ──a member lost, failed, re-registered──► Gathering
 *       │                                   │                                   (a restart, counted)
 *       └──stop, abort, close, restart budget spent, a permanent failure, every member finished──► Finishing
 *   Finishing ──the final write is done──► Finished
 *
 * Finishing and Finished accept no registration and form no generation: once the run has begun to end,
 * nothing reopens it (a failure report, a lost worker or a registration that arrives during the final write).
 */

export interface RendezvousConfig {
  /** Members of every generation. */
  readonly worldSize: number;
  /** Generations that may end in failure before the run is Failed. */
  readonly maxRestarts: number;
  /** The number of the first generation this coordinator forms (continuing a predecessor's). */
  readonly firstGeneration: number;
}

export type RendezvousPhase = 'gathering' | 'running' | 'finishing' | 'finished';
export type RunOutcome = 'succeeded' | 'failed' | 'stopped';

export interface Registration {
  readonly workerId: string;
  readonly address: string;
}

export interface GenerationState {
  readonly number: number;
  /** Worker ids by rank. */
  readonly ranks: readonly string[];
  /** Members that reported their end of training. */
  readonly finished: readonly string[];
  /** Whether any of them stopped on request rather than finishing training. */
  readonly stopped: boolean;
  /** Why it ended; undefined while it runs. */
  readonly ended: string | undefined;
}

export interface RendezvousState {
  readonly config: RendezvousConfig;
  readonly phase: RendezvousPhase;
  /** Registrations waiting for the gang, in arrival order. */
  readonly pending: readonly Registration[];
  /** The latest generation formed (ended or not); undefined before the first. */
  readonly generation: GenerationState | undefined;
  /** Generations of this session that ended in failure. */
  readonly restarts: number;
  readonly stopRequested: boolean;
  /** How the run ends: set when finishing begins. */
  readonly outcome: { readonly state: RunOutcome; readonly reason: string } | undefined;
}

export type RendezvousEvent =
  | { readonly kind: 'register'; readonly workerId: string; readonly address: string }
  /** A worker's process exited (the local supervisor, or the operator, saw it go). */
  | { readonly kind: 'leave'; readonly workerId: string; readonly description: string }
  | { readonly kind: 'heartbeat-missed'; readonly workerId: string; readonly reason: string }
  /** A member reported that its generation failed. */
  | {
      readonly kind: 'generation-failed';
      readonly generation: number;
      readonly workerId: string;
      readonly reason: string;
      readonly retryable: boolean;
    }
  /** A member reported the end of its training (or of its part of a stop). */
  | {
      readonly kind: 'member-finished';
      readonly generation: number;
      readonly workerId: string;
      readonly stopped: boolean;
    }
  | { readonly kind: 'stop'; readonly reason: string }
  /** The run fails from outside (e.g. the supervisor cannot keep a worker alive). */
  | { readonly kind: 'abort'; readonly reason: string }
  /** The coordinator is closed. */
  | { readonly kind: 'close' }
  /** The final write (metrics.json, run record) is done. */
  | { readonly kind: 'finished' };

export type RendezvousAction =
  /** Answer this registration: the run has ended, or is ending. */
  | { readonly kind: 'answer-ended'; readonly reason: string; readonly outcome: RunOutcome | undefined }
  /** Refuse this registration. */
  | { readonly kind: 'refuse'; readonly code: 'invalid-argument' | 'resource-exhausted'; readonly message: string }
  /** The earlier waiting registration of this worker is answered: a newer one replaces it. */
  | { readonly kind: 'supersede'; readonly workerId: string; readonly message: string }
  /** This registration waits for the gang. */
  | { readonly kind: 'wait'; readonly workerId: string; readonly address: string; readonly waiting: number }
  /** A generation forms: answer these waiting registrations with their ranks (index = rank). */
  | { readonly kind: 'form'; readonly generation: number; readonly members: readonly Registration[] }
  /** The running generation ended; `counted` ones are a restart of the budget, `restart` ones go on to the next generation. */
  | {
      readonly kind: 'generation-ended';
      readonly generation: number;
      readonly reason: string;
      readonly counted: boolean;
      readonly restart: boolean;
    }
  /** The run ends: write the final books, then send the `finished` event. */
  | { readonly kind: 'finish'; readonly state: RunOutcome; readonly reason: string }
  /** The run has ended: answer every registration still waiting. */
  | { readonly kind: 'release'; readonly reason: string; readonly outcome: RunOutcome | undefined };

export interface Transition {
  readonly state: RendezvousState;
  readonly actions: readonly RendezvousAction[];
}

export function initialRendezvous(
  config: RendezvousConfig,
  finished?: { state: RunOutcome; reason: string }
): RendezvousState {
  return {
    config,
    phase: finished ? 'finished' : 'gathering',
    pending: [],
    generation: undefined,
    restarts: 0,
    stopRequested: false,
    outcome: finished
  };
}

/** worker-2 before worker-10: ranks follow the slot numbers people read in logs. */
export function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Whether the run has begun to end: no generation forms from here on. */
export function isEnding(state: RendezvousState): boolean {
  return state.phase === 'finishing' || state.phase === 'finished';
}

/** The generation that runs now, if any. */
export function runningGeneration(state: RendezvousState): GenerationState | undefined {
  return state.phase === 'running' ? state.generation : undefined;
}

export function rendezvous(state: RendezvousState, event: RendezvousEvent): Transition {
  const machine = new Machine(state);
  machine.apply(event);
  return { state: machine.state, actions: machine.actions };
}

class Machine {
  readonly actions: RendezvousAction[] = [];

  constructor(public state: RendezvousState) {}

  apply(event: RendezvousEvent): void {
    switch (event.kind) {
      case 'register':
        return this.register(event.workerId, event.address);
      case 'leave': {
        const rank = this.liveMemberRank(event.workerId);
        if (rank !== undefined)
          this.endGeneration(`worker ${event.workerId} (rank ${rank}) ${event.description}`, true);
        return;
      }
      case 'heartbeat-missed':
        if (this.liveMemberRank(event.workerId) !== undefined) this.endGeneration(event.reason, true);
        return;
      case 'generation-failed': {
        const generation = runningGeneration(this.state);
        if (generation?.number !== event.generation) return;
        const rank = generation.ranks.indexOf(event.workerId);
        this.endGeneration(
          `rank ${rank < 0 ? '?' : rank} (${event.workerId}) failed: ${event.reason}`,
          event.retryable
        );
        return;
      }
      case 'member-finished':
        return this.memberFinished(event.generation, event.workerId, event.stopped);
      case 'stop':
        if (isEnding(this.state) || this.state.stopRequested) return;
        this.state = { ...this.state, stopRequested: true };
        if (this.state.phase === 'gathering') this.finish('stopped', `stopped: ${event.reason}`);
        return;
      case 'abort':
        if (isEnding(this.state)) return;
        if (this.state.phase === 'running') this.markEnded(event.reason, false, false);
        this.finish('failed', event.reason);
        return;
      case 'close':
        if (!isEnding(this.state)) this.finish('stopped', 'the coordinator was closed');
        return;
      case 'finished':
        if (this.state.phase !== 'finishing') return;
        this.state = { ...this.state, phase: 'finished', pending: [] };
        this.actions.push({
          kind: 'release',
          reason: this.state.outcome?.reason ?? 'the run has ended',
          outcome: this.state.outcome?.state
        });
        return;
    }
  }

  private register(workerId: string, address: string): void {
    if (workerId === '' || address === '') {
      this.actions.push({
        kind: 'refuse',
        code: 'invalid-argument',
        message: 'register needs a worker_id and the collective_address it listens on'
      });
      return;
    }
    if (isEnding(this.state)) {
      this.actions.push({
        kind: 'answer-ended',
        reason:
          this.state.phase === 'finished' ? (this.state.outcome?.reason ?? 'the run has ended') : 'the run is ending',
        outcome: this.state.outcome?.state
      });
      return;
    }
    const running = runningGeneration(this.state);
    // A member that finished its part registers again to learn how the run ends: it waits, and joins the next
    // generation should another member still fail (rank 0's last checkpoint, say), instead of having exited.
    const waitsForOutcome = running?.finished.includes(workerId) === true;
    if (running && running.ranks.includes(workerId) && !waitsForOutcome) {
      this.endGeneration(`worker ${workerId} registered again: its previous process is gone`, true);
      if (isEnding(this.state)) {
        this.actions.push({ kind: 'answer-ended', reason: 'the run is ending', outcome: this.state.outcome?.state });
        return;
      }
    } else if (running && !waitsForOutcome) {
      this.actions.push({
        kind: 'refuse',
        code: 'resource-exhausted',
        message: `already has its ${this.state.config.worldSize} workers; ${workerId} is one too many`
      });
      return;
    }
    if (this.state.pending.some((each) => each.workerId === workerId)) {
      this.actions.push({
        kind: 'supersede',
        workerId,
        message: `worker ${workerId} registered again from another call`
      });
    }
    const pending = [...this.state.pending.filter((each) => each.workerId !== workerId), { workerId, address }];
    this.state = { ...this.state, pending };
    this.actions.push({ kind: 'wait', workerId, address, waiting: pending.length });
    this.formGeneration();
  }

  private formGeneration(): void {
    const { state } = this;
    if (state.phase !== 'gathering' || state.pending.length < state.config.worldSize) return;
    if (state.stopRequested) {
      this.finish('stopped', 'stopped on request before the run could continue; resume with --resume');
      return;
    }
    const number = state.generation === undefined ? state.config.firstGeneration : state.generation.number + 1;
    const members = [...state.pending]
      .sort((a, b) => naturalOrder(a.workerId, b.workerId))
      .slice(0, state.config.worldSize);
    const chosen = new Set(members.map((each) => each.workerId));
    this.state = {
      ...state,
      phase: 'running',
      pending: state.pending.filter((each) => !chosen.has(each.workerId)),
      generation: {
        number,
        ranks: members.map((each) => each.workerId),
        finished: [],
        stopped: false,
        ended: undefined
      }
    };
    this.actions.push({ kind: 'form', generation: number, members });
  }

  private memberFinished(generation: number, workerId: string, stopped: boolean): void {
    const running = runningGeneration(this.state);
    if (running?.number !== generation || !running.ranks.includes(workerId)) return;
    const finished = running.finished.includes(workerId) ? running.finished : [...running.finished, workerId];
    const anyStopped = running.stopped || stopped;
    this.state = { ...this.state, generation: { ...running, finished, stopped: anyStopped } };
    if (finished.length < running.ranks.length) return;
    this.finish(
      anyStopped ? 'stopped' : 'succeeded',
      anyStopped ? 'stopped on request; resume with --resume' : 'training finished'
    );
  }

  /** The rank of a member of the running generation that has not finished; undefined for anyone else. */
  private liveMemberRank(workerId: string): number | undefined {
    const running = runningGeneration(this.state);
    if (!running || running.finished.includes(workerId)) return undefined;
    const rank = running.ranks.indexOf(workerId);
    return rank < 0 ? undefined : rank;
  }

  private markEnded(reason: string, counted: boolean, restart: boolean): void {
    const generation = this.state.generation!;
    this.state = {
      ...this.state,
      phase: 'gathering',
      generation: { ...generation, ended: reason },
      restarts: this.state.restarts + (counted ? 1 : 0)
    };
    this.actions.push({ kind: 'generation-ended', generation: generation.number, reason, counted, restart });
  }

  private endGeneration(reason: string, retryable: boolean): void {
    const running = runningGeneration(this.state);
    if (!running) return;
    if (this.state.stopRequested) {
      this.markEnded(reason, false, false);
      this.finish(
        'stopped',
        `stopped on request (generation ${running.number} ended: ${reason}); resume with --resume`
      );
      return;
    }
    const restarts = this.state.restarts + 1;
    const goesOn = retryable && restarts <= this.state.config.maxRestarts;
    this.markEnded(reason, true, goesOn);
    if (!retryable) {
      this.finish('failed', `${reason} (not retryable)`);
      return;
    }
    if (!goesOn) {
      this.finish(
        'failed',
        `gave up after ${restarts} failed generations (limit ${this.state.config.maxRestarts}); last: ${reason}`
      );
      return;
    }
    this.formGeneration();
  }

  private finish(state: RunOutcome, reason: string): void {
    if (isEnding(this.state)) return;
    this.state = { ...this.state, phase: 'finishing', outcome: { state, reason } };
    this.actions.push({ kind: 'finish', state, reason });
  }
}
