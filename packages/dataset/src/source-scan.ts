import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore } from './object-store.js';
import { openStore, type OpenStoreOptions } from './open-store.js';

/**
 * One labelled image found in the source, before it is read. `read` fetches its bytes from wherever the source
 * lives (a file, an object), so everything after the scan is the same for every kind of source.
 */
export type SourceItem = { sourcePath: string; label: number; read: () => Promise<Buffer> };

export type SourceListing = {
  classes: string[];
  items: SourceItem[];
  /** Files that are not JPEG/PNG/WebP by name; ingest warns about them once. */
  ignored: string[];
};

/** A file of an ImageFolder tree: its `/`-separated path below the root, and how to read it. */
type SourceFile = { path: string; read: () => Promise<Buffer> };

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp']);
const manifestExtensions = new Set(['.csv', '.jsonl']);

export function isImageFileName(name: string): boolean {
  return imageExtensions.has(path.extname(name).toLowerCase());
}

/** `s3://…`, `file://…`, `http(s)://…`: read through an ObjectStore; anything else is a local path. */
export function isStoreUri(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source);
}

/**
 * Lists the labelled images of a source: an ImageFolder tree (one sub-folder per class, files found
 * recursively, classes sorted by name as torchvision's ImageFolder does) or a `.csv` / `.jsonl` manifest of
 * `path,label` rows with paths relative to the manifest's folder. The source is a local path, or a store URI
 * (`s3://bucket/prefix` holding `<prefix>/<class>/<image>`, or naming a manifest object such as
 * `s3://bucket/raw/labels.csv`), which is how a cluster reaches raw images.
 */
export async function scanSource(source: string, storeOptions: OpenStoreOptions = {}): Promise<SourceListing> {
  const listing = isStoreUri(source) ? await scanStoreSource(source, storeOptions) : await scanLocalSource(source);
  if (listing.items.length === 0) {
    throw new Error(
      `no images (JPEG, PNG or WebP) found in ${source}${listing.ignored.length > 0 ? ` (${listing.ignored.length} other files ignored)` : ''}`
    );
  }
  return listing;
}

async function scanLocalSource(source: string): Promise<SourceListing> {
  let info;
  try {
    info = await stat(source);
  } catch {
    throw new Error(`ingest source ${source} does not exist: give an ImageFolder directory or a .csv/.jsonl manifest`);
  }
  if (info.isDirectory()) return scanLocalImageFolder(source);
  const extension = path.extname(source).toLowerCase();
  if (!manifestExtensions.has(extension)) {
    throw new Error(`ingest source ${source} is a file but not a .csv or .jsonl manifest of path,label rows`);
  }
  const base = path.dirname(source);
  const rows = parseRows(await readFile(source, 'utf8'), source, extension);
  return listingFromRows(rows, source, (rowPath) => {
    // Confined to the manifest's folder, as in object storage: a manifest cannot make an ingest read the rest
    // of the disk (../../etc/..., /root/...), and a dataset with its manifest moves as one folder.
    const file = path.resolve(base, rowPath);
    const inside = path.relative(base, file);
    if (inside === '' || inside.startsWith(`..${path.sep}`) || inside === '..' || path.isAbsolute(inside)) {
      throw new Error(
        `${source}: row path ${JSON.stringify(rowPath)} leaves the manifest's folder ${base}; paths are relative to it (move the manifest up, or the images under it)`
      );
    }
    return () => readFile(file);
  });
}

async function scanLocalImageFolder(root: string): Promise<SourceListing> {
  const entries = await readdir(root, { withFileTypes: true });
  const classes = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name);
  const files: SourceFile[] = entries.filter((entry) => entry.isFile()).map((entry) => localFile(root, entry.name));
  for (const name of classes) {
    for (const entry of await readdir(path.join(root, name), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(localFile(root, path.relative(root, path.join(entry.parentPath, entry.name))));
    }
  }
  return imageFolderListing(classes, files, root, (name) => path.join(root, name));
}

function localFile(root: string, relative: string): SourceFile {
  const file = path.join(root, relative);
  return { path: relative.split(path.sep).join('/'), read: () => readFile(file) };
}

async function scanStoreSource(source: string, storeOptions: OpenStoreOptions): Promise<SourceListing> {
  const uri = source.replace(/\/+$/, '');
  const extension = path.posix.extname(uri).toLowerCase();
  if (manifestExtensions.has(extension)) {
    const slash = uri.lastIndexOf('/');
    const store = openStore(uri.slice(0, slash), storeOptions);
    const rows = parseRows((await store.get(uri.slice(slash + 1))).toString('utf8'), uri, extension);
    return listingFromRows(rows, uri, (rowPath) => {
      const key = path.posix.normalize(rowPath);
      if (key.startsWith('../') || key === '..' || path.posix.isAbsolute(key)) {
        throw new Error(
          `${uri}: row path ${JSON.stringify(rowPath)} leaves the manifest's folder; in object storage paths are relative to it`
        );
      }
      return () => store.get(key);
    });
  }
  const store = openStore(uri, storeOptions);
  const objects = await store.list('');
  if (objects.length === 0) {
    throw new Error(
      `ingest source ${uri} holds no objects: give a prefix laid out as <prefix>/<class>/<image>, or a .csv/.jsonl manifest object`
    );
  }
  const [classes, files] = storeImageFolder(
    store,
    objects.map((object) => object.key)
  );
  return imageFolderListing(classes, files, uri, (name) => `${uri}/${name}`);
}

/**
 * Object storage has no folders, only keys: a class is the first segment of a key below the prefix. A key that
 * ends with `/` is a folder marker (what consoles create for an empty folder): it names a class but is no file.
 */
function storeImageFolder(store: ObjectStore, keys: readonly string[]): [string[], SourceFile[]] {
  const classes = new Set<string>();
  const files: SourceFile[] = [];
  for (const key of keys) {
    const slash = key.indexOf('/');
    const top = slash < 0 ? undefined : key.slice(0, slash);
    // Hidden folders are skipped whole, as a local tree's are.
    if (top?.startsWith('.')) continue;
    if (top !== undefined) classes.add(top);
    if (!key.endsWith('/')) files.push({ path: key, read: () => store.get(key) });
  }
  return [[...classes], files];
}

/** The one ImageFolder rule for every kind of source: a class per folder, each with at least one image. */
function imageFolderListing(
  classNames: readonly string[],
  files: readonly SourceFile[],
  root: string,
  locate: (className: string) => string
): SourceListing {
  const classes = [...classNames].sort();
  if (classes.length === 0)
    throw new Error(`no class folders in ${root}: an ImageFolder source has one sub-folder of images per class`);
  const byClass = new Map<string, SourceFile[]>(classes.map((name) => [name, []]));
  const ignored: string[] = [];
  for (const file of files) {
    const slash = file.path.indexOf('/');
    const members = slash < 0 ? undefined : byClass.get(file.path.slice(0, slash));
    if (members === undefined) ignored.push(file.path);
    else members.push(file);
  }
  const items: SourceItem[] = [];
  for (const [label, name] of classes.entries()) {
    const members = byClass.get(name)!.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const images = members.filter((file) => isImageFileName(file.path));
    ignored.push(...members.filter((file) => !isImageFileName(file.path)).map((file) => file.path));
    if (images.length === 0) {
      throw new Error(
        `class folder ${locate(name)} has no images (JPEG, PNG or WebP): add images or remove the folder`
      );
    }
    for (const file of images) items.push({ sourcePath: file.path, label, read: file.read });
  }
  return { classes, items, ignored };
}

/** The one manifest rule for every kind of source: classes sorted by name, each with at least one image row. */
function listingFromRows(
  rows: readonly Row[],
  origin: string,
  reader: (rowPath: string) => () => Promise<Buffer>
): SourceListing {
  const classes = [...new Set(rows.map((row) => row.label))].sort();
  const labelOf = new Map(classes.map((name, index) => [name, index]));
  const items: SourceItem[] = [];
  const ignored: string[] = [];
  for (const row of rows) {
    if (!isImageFileName(row.path)) {
      ignored.push(row.path);
      continue;
    }
    items.push({ sourcePath: row.path, label: labelOf.get(row.label)!, read: reader(row.path) });
  }
  for (const [label, name] of classes.entries()) {
    if (!items.some((item) => item.label === label))
      throw new Error(`class "${name}" in ${origin} has no image rows (JPEG, PNG or WebP)`);
  }
  return { classes, items, ignored };
}

function parseRows(text: string, origin: string, extension: string): Row[] {
  return extension === '.csv' ? parseCsvRows(text, origin) : parseJsonlRows(text, origin);
}

type Row = { path: string; label: string };

function parseCsvRows(text: string, file: string): Row[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const rows: Row[] = [];
  for (const [i, line] of lines.entries()) {
    const fields = splitCsvLine(line);
    if (i === 0 && fields[0]?.trim().toLowerCase() === 'path' && fields[1]?.trim().toLowerCase() === 'label') continue;
    if (fields.length !== 2 || fields[0] === '' || fields[1] === '') {
      throw new Error(`${file}:${i + 1}: expected two fields path,label, got ${JSON.stringify(line)}`);
    }
    rows.push({ path: fields[0]!.trim(), label: fields[1]!.trim() });
  }
  return rows;
}

/** RFC 4180 fields: commas separate, double quotes quote, "" is a literal quote. */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i]!;
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      fields.push(field);
      field = '';
    } else field += char;
  }
  fields.push(field);
  return fields;
}

function parseJsonlRows(text: string, file: string): Row[] {
  const rows: Row[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not JSON`);
    }
    const record = value as { path?: unknown; label?: unknown };
    const label = typeof record.label === 'number' ? String(record.label) : record.label;
    if (typeof record.path !== 'string' || typeof label !== 'string' || record.path === '' || label === '') {
      throw new Error(`${file}:${i + 1}: expected {"path": "...", "label": "..."}`);
    }
    rows.push({ path: record.path, label });
  }
  return rows;
}
