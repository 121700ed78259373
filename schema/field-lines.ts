// Where a field sits in a YAML file, so errors found after parsing (schema validation, semantic
// checks, rendering) name the line. Documents are numbered as parseYaml numbers them
// (splitDocuments), so a LoadedObject's docIndex finds its own document. Built only once there are
// errors to point at: the fast path never builds a position-tracking document.
import { parseDocument, LineCounter, isMap, isSeq, isPair, isScalar, type Node } from "yaml";
import { splitDocuments, type YamlChunk } from "./parse-yaml.ts";

export type FieldPath = (string | number)[];

export interface Position {
  line: number;
  column: number;
}

/** One file's field lines, document by document (what policy builds keep per file). */
export interface FieldLocator {
  /** 1-based line of `path` in document `docIndex`; the nearest existing parent if it is absent. */
  line(docIndex: number, path: string | FieldPath): number;
}

const normalize = (source: string) => source.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");

function chunkLocator(chunk: YamlChunk): (path: FieldPath) => Position | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(chunk.text, { lineCounter: lc, uniqueKeys: false, strict: false });
  const at = (offset: number): Position => {
    const p = lc.linePos(offset);
    return { line: chunk.startLine + p.line, column: p.col };
  };
  return (path) => {
    // The deepest node on the path that exists: a missing field points at its parent's key.
    let node: unknown = doc.contents;
    let pos: Position | undefined = (doc.contents as Node | null)?.range ? at((doc.contents as Node).range![0]) : undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        const key = pair.key as Node;
        if (key.range) pos = at(key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        if (item.range) pos = at(item.range[0]);
        node = item;
      } else break;
    }
    return pos;
  };
}

/** Finds field positions in one document of a file; build it once per document with errors. */
export function fieldLocator(source: string, docIndex: number): (path: FieldPath) => Position | undefined {
  const chunk = splitDocuments(normalize(source)).find((c) => c.index === docIndex);
  return chunk ? chunkLocator(chunk) : () => undefined;
}

/** Field lines of every document of a file; nothing is parsed until a line is asked for. */
export function fileFieldLocator(source: string): FieldLocator {
  let chunks: YamlChunk[] | undefined;
  const byDoc = new Map<number, (path: FieldPath) => Position | undefined>();
  return {
    line(docIndex, path) {
      let locate = byDoc.get(docIndex);
      if (!locate) {
        const chunk = (chunks ??= splitDocuments(normalize(source))).find((c) => c.index === docIndex);
        locate = chunk ? chunkLocator(chunk) : () => undefined;
        byDoc.set(docIndex, locate);
      }
      return locate(typeof path === "string" ? splitPath(path) : path)?.line ?? 1;
    },
  };
}

/** "spec.target.paths[0]" -> ["spec", "target", "paths", 0] */
export function splitPath(path: string): FieldPath {
  const out: FieldPath = [];
  for (const part of path.replace(/^\./, "").split(".")) {
    const m = part.match(/^([^[\]]*)((\[\d+\])*)$/);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}
