// Finds the line of a field inside a YAML document, so errors found after parsing (semantic
// checks, rendering) still name the line. Uses the `yaml` package for its source positions.
import { parseAllDocuments, LineCounter, isMap, isSeq, isScalar, type Node } from "yaml";

export interface FieldLocator {
  /** 1-based line of `path` in document `docIndex`; the nearest existing parent if it is absent. */
  line(docIndex: number, path: string | (string | number)[]): number;
}

export function fieldLocator(content: string): FieldLocator {
  const lc = new LineCounter();
  const docs = parseAllDocuments(content, { lineCounter: lc });
  const list = Array.isArray(docs) ? docs : [];
  const lineOf = (offset: number) => lc.linePos(offset).line;
  return {
    line(docIndex, path) {
      const doc = list[docIndex];
      if (!doc) return 1;
      const segs = typeof path === "string" ? splitPath(path) : path;
      let node: Node | null | undefined = doc.contents as Node | null;
      let line = node?.range ? lineOf(node.range[0]) : 1;
      for (const seg of segs) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) return line;
          const key = pair.key as Node;
          if (key.range) line = lineOf(key.range[0]);
          node = pair.value as Node | null;
        } else if (isSeq(node) && typeof seg === "number") {
          const item = node.items[seg] as Node | undefined;
          if (!item) return line;
          if (item.range) line = lineOf(item.range[0]);
          node = item;
        } else return line;
      }
      return line;
    },
  };
}

/** "spec.target.paths[0]" -> ["spec", "target", "paths", 0] */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
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
