import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** One labelled image found in the source, before it is read. */
export type SourceItem = { file: string; sourcePath: string; label: number };

export type SourceListing = {
  classes: string[];
  items: SourceItem[];
  /** Files that are not JPEG/PNG/WebP by name; ingest warns about them once. */
  ignored: string[];
};

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp']);

export function isImageFileName(name: string): boolean {
  return imageExtensions.has(path.extname(name).toLowerCase());
}

/**
 * Lists the labelled images of a source: an ImageFolder tree (one sub-folder per class, files found
 * recursively, classes sorted by name as torchvision's ImageFolder does) or a `.csv` / `.jsonl` manifest of
 * `path,label` rows with paths relative to the manifest's folder.
 */
export async function scanSource(source: string): Promise<SourceListing> {
  let info;
  try {
    info = await stat(source);
  } catch {
    throw new Error(`ingest source ${source} does not exist: give an ImageFolder directory or a .csv/.jsonl manifest`);
  }
  const listing = info.isDirectory() ? await scanImageFolder(source) : await scanManifestFile(source);
  if (listing.items.length === 0) {
    throw new Error(`no images (JPEG, PNG or WebP) found in ${source}${listing.ignored.length > 0 ? ` (${listing.ignored.length} other files ignored)` : ''}`);
  }
  return listing;
}

async function scanImageFolder(root: string): Promise<SourceListing> {
  const entries = await readdir(root, { withFileTypes: true });
  const classes = entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name).sort();
  const ignored = entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  if (classes.length === 0) throw new Error(`no class folders in ${root}: an ImageFolder source has one sub-folder of images per class`);
  const items: SourceItem[] = [];
  for (const [label, name] of classes.entries()) {
    const files = (await readdir(path.join(root, name), { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
      .sort();
    const images = files.filter(isImageFileName);
    ignored.push(...files.filter((file) => !isImageFileName(file)));
    if (images.length === 0) {
      throw new Error(`class folder ${path.join(root, name)} has no images (JPEG, PNG or WebP): add images or remove the folder`);
    }
    for (const file of images) items.push({ file: path.join(root, file), sourcePath: file.split(path.sep).join('/'), label });
  }
  return { classes, items, ignored };
}

async function scanManifestFile(file: string): Promise<SourceListing> {
  const extension = path.extname(file).toLowerCase();
  if (extension !== '.csv' && extension !== '.jsonl') {
    throw new Error(`ingest source ${file} is a file but not a .csv or .jsonl manifest of path,label rows`);
  }
  const text = await readFile(file, 'utf8');
  const rows = extension === '.csv' ? parseCsvRows(text, file) : parseJsonlRows(text, file);
  const classes = [...new Set(rows.map((row) => row.label))].sort();
  const labelOf = new Map(classes.map((name, index) => [name, index]));
  const base = path.dirname(file);
  const items: SourceItem[] = [];
  const ignored: string[] = [];
  for (const row of rows) {
    if (!isImageFileName(row.path)) {
      ignored.push(row.path);
      continue;
    }
    items.push({ file: path.resolve(base, row.path), sourcePath: row.path, label: labelOf.get(row.label)! });
  }
  for (const [label, name] of classes.entries()) {
    if (!items.some((item) => item.label === label)) throw new Error(`class "${name}" in ${file} has no image rows (JPEG, PNG or WebP)`);
  }
  return { classes, items, ignored };
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
