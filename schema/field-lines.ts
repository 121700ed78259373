// Where a field sits in a YAML file. Used only once validation has found errors, so the fast path
// never builds a position-tracking document.
import { parseDocument, LineCounter, isMap, isSeq, isPair, isScalar, type Node } from "yaml";
import { splitDocuments } from "./parse-yaml.ts";

export type FieldPath = (string | number)[];

export interface Position {
  line: number;
  column: number;
}

/** Finds field positions in one document of a file; build it once per document with errors. */
export function fieldLocator(source: string, docIndex: number): (path: FieldPath) => Position | undefined {
  const text = source.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const chunk = splitDocuments(text).find((c) => c.index === docIndex);
  if (!chunk) return () => undefined;
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
