import { checkpointsUri, type TrainingRun } from '../api/training-run.js';
import { s3Location, storeIdentity, type S3Location } from '../resources/storage-credentials.js';

/**
 * One output prefix, one run. A run that wrote into another's output would overwrite its model, checkpoints and
 * run-record.json (and, with credentials minted for its prefixes, be given write access to them), so a run whose
 * output, checkpoints or ingest destination equals, lies within or contains another run's output or checkpoints
 * is refused before anything is created (reason OutputURIInUse).
 *
 * Which other runs hold a prefix: those that started (status.attempt set: they passed this check), and, among
 * runs not started yet, the older one (creationTimestamp, then uid), so that two runs created at once do not
 * both fail. Runs being deleted, and runs refused before they started, hold nothing.
 */

interface Place {
  readonly field: string;
  readonly uri: string;
  /** The store: endpoint origin (AWS S3 when none), bucket and prefix. */
  readonly store: string;
  readonly location: S3Location;
}

function place(run: TrainingRun, field: string, uri: string | undefined): Place[] {
  if (uri === undefined) return [];
  const location = s3Location(uri);
  if (location === undefined) return [];
  return [{ field, uri, store: storeIdentity(run.spec.storage?.endpoint), location }];
}

/** Where a run writes: checked against what others own. */
function written(run: TrainingRun): Place[] {
  return [
    ...place(run, 'spec.output.uri', run.spec.output.uri),
    ...place(run, 'spec.checkpoint.uri', checkpointsUri(run)),
    ...place(run, 'spec.dataset.ingest.into', run.spec.dataset.ingest?.into)
  ];
}

/**
 * What a run reads: its dataset, the ingest's source and its weights. Reading another namespace's run output is
 * refused as well (its credentials would be granted it); within a namespace, one tenant, a run may fine-tune from
 * another's model.
 */
function read(run: TrainingRun): Place[] {
  return [
    ...place(run, 'spec.dataset.uri', run.spec.dataset.uri),
    ...place(run, 'spec.dataset.ingest.source', run.spec.dataset.ingest?.source),
    ...place(run, 'spec.model.pretrained', run.spec.model.pretrained)
  ];
}

/** What a run owns: its output and its checkpoints. */
function owned(run: TrainingRun): Place[] {
  return [...place(run, 'output', run.spec.output.uri), ...place(run, 'checkpoints', checkpointsUri(run))];
}

function overlap(a: Place, b: Place): 'equals' | 'lies within' | 'contains' | undefined {
  if (a.store !== b.store || a.location.bucket !== b.location.bucket) return undefined;
  const [x, y] = [a.location.prefix, b.location.prefix];
  if (x === y) return 'equals';
  if (y === '' || x.startsWith(`${y}/`)) return 'lies within';
  if (x === '' || y.startsWith(`${x}/`)) return 'contains';
  return undefined;
}

const createdAt = (run: TrainingRun) => Date.parse(run.metadata.creationTimestamp ?? '') || 0;

/** Whether `other` holds its prefixes against `run` (see the module comment). */
function holds(other: TrainingRun, run: TrainingRun): boolean {
  if (other.metadata.uid === run.metadata.uid || other.metadata.deletionTimestamp) return false;
  if (other.status?.attempt !== undefined) return true;
  if (other.status?.phase === 'Failed' || other.status?.phase === 'Succeeded') return false;
  const [mine, theirs] = [createdAt(run), createdAt(other)];
  return theirs < mine || (theirs === mine && (other.metadata.uid ?? '') < (run.metadata.uid ?? ''));
}

/**
 * Why `run` may not start because another run owns where it would write: one message naming the field, the
 * other run and the fix; undefined when its prefixes are its own. Pure: the reconciler passes the runs it knows.
 */
export function outputConflict(run: TrainingRun, others: readonly TrainingRun[]): string | undefined {
  for (const other of others) {
    if (!holds(other, run)) continue;
    const otherTenant = (other.metadata.namespace ?? 'default') !== (run.metadata.namespace ?? 'default');
    const writes = written(run);
    const mine = [...writes, ...(otherTenant ? read(run) : [])];
    for (const theirs of owned(other)) {
      for (const place of mine) {
        const how = overlap(place, theirs);
        if (how === undefined) continue;
        const otherName = `${other.metadata.namespace ?? 'default'}/${other.metadata.name}`;
        const where = `${place.field} ${place.uri} ${how} ${theirs.uri}, the ${theirs.field} of TrainingRun ${otherName} (uid ${other.metadata.uid ?? '?'})`;
        return writes.includes(place)
          ? `${where}: each run writes under prefixes of its own; give this run another ${place.field} (e.g. s3://${place.location.bucket}/${run.metadata.name}), or delete ${otherName} first if its results may be overwritten`
          : `${where}: a run reads another run's output only within its own namespace; copy what it needs to a prefix of this namespace's runs, or run it in ${other.metadata.namespace ?? 'default'}`;
      }
    }
  }
  return undefined;
}
