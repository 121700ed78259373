// Multi-document YAML files → Kubernetes objects, each with the file and line it came from.
// Every problem becomes a SourceError naming the file and line; nothing here throws.
import { load, YAMLException } from "js-yaml";
import type { KubeObject } from "../lib/kube/client.ts";
import type { SourceError } from "./source-error.ts";

export interface LoadedObject {
  file: string;
  /** 1-based line of the document's first content line. */
  line: number;
  /** 0-based index of the YAML document in the file (empty documents count). */
  docIndex: number;
  object: KubeObject;
}

export interface YamlChunk {
  /** Text of the document, with lines before it blanked so positions stay file-relative after adding startLine. */
  text: string;
  /** 0-based line in the file where the chunk's text begins. */
  startLine: number;
  /** 0-based index of the document. */
  index: number;
}

const DOC_START = /^---(?=\s|$)/;
const DOC_END = /^\.\.\.\s*$/;
const NOT_CONTENT = /^\s*(#.*)?$/;
const DIRECTIVE = /^%/; // %YAML / %TAG lines precede a "---"; js-yaml reads YAML 1.2 anyway

/**
 * Splits a YAML stream at its document markers. A `---` or `...` in column 0 always ends a document
 * (inside block scalars content is indented), so a line scan is exact for the streams people write.
 * A leading chunk holding only comments or blank lines is not a document.
 */
export function splitDocuments(content: string): YamlChunk[] {
  const lines = content.split("\n");
  const chunks: YamlChunk[] = [];
  let start = 0;
  let buf: string[] = [];
  let open = false; // a document was opened by "---" (so it counts even when empty)
  const flushIfDocument = () => {
    if (open || buf.some((b) => !NOT_CONTENT.test(b))) chunks.push({ text: buf.join("\n"), startLine: start, index: chunks.length });
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (DOC_START.test(l)) {
      flushIfDocument();
      // Keep what follows the marker on its line (e.g. "--- {a: 1}"), with the marker blanked.
      [buf, start, open] = [["   " + l.slice(3)], i, true];
    } else if (DOC_END.test(l)) {
      flushIfDocument();
      [buf, start, open] = [[], i + 1, false];
    } else buf.push(DIRECTIVE.test(l) ? "" : l);
  }
  flushIfDocument();
  return chunks;
}

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i];
    let n: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

function lineOfOffset(buf: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) if (buf[i] === 0x0a) [line, lineStart] = [line + 1, i + 1];
  return { line, column: offset - lineStart + 1 };
}

function yamlReason(e: unknown): { reason: string; line?: number; column?: number } {
  if (e instanceof YAMLException) {
    return { reason: e.reason || "invalid YAML", line: e.mark?.line, column: e.mark?.column };
  }
  return { reason: e instanceof Error ? e.message.split("\n")[0] : String(e) };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** "Kind ns/name" or "Kind name", from whatever the document has. */
export function describeObject(obj: Record<string, unknown>): string | undefined {
  const kind = typeof obj.kind === "string" ? obj.kind : undefined;
  const md = isPlainObject(obj.metadata) ? obj.metadata : {};
  const name = typeof md.name === "string" ? md.name : undefined;
  const ns = typeof md.namespace === "string" ? md.namespace : undefined;
  if (!kind && !name) return undefined;
  const id = name ? (ns ? `${ns}/${name}` : name) : "(no name)";
  return kind ? `${kind} ${id}` : id;
}

/**
 * Parses a (multi-document) YAML file. Empty documents are skipped; a document that is not a
 * mapping, or lacks apiVersion or kind, is an error rather than an object.
 */
export function parseYaml(file: string, content: string | Buffer): { objects: LoadedObject[]; errors: SourceError[] } {
  const objects: LoadedObject[] = [];
  const errors: SourceError[] = [];
  let text: string;
  if (typeof content === "string") text = content;
  else {
    const bad = firstInvalidUtf8(content);
    if (bad >= 0) {
      const { line, column } = lineOfOffset(content, bad);
      const byte = content[bad].toString(16).padStart(2, "0");
      errors.push({ file, line, column, message: `not valid UTF-8 (byte 0x${byte}); YAML files must be UTF-8 encoded` });
      return { objects, errors };
    }
    text = content.toString("utf8");
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.replace(/\r\n?/g, "\n");

  for (const chunk of splitDocuments(text)) {
    if (chunk.text.split("\n").every((l) => NOT_CONTENT.test(l))) continue;
    const firstContent = chunk.text.split("\n").findIndex((l) => !NOT_CONTENT.test(l) && l.trim() !== "---");
    const docLine = chunk.startLine + Math.max(0, firstContent) + 1;
    let value: unknown;
    try {
      value = load(chunk.text, { filename: file });
    } catch (e) {
      const r = yamlReason(e);
      const line = r.line !== undefined ? chunk.startLine + r.line + 1 : docLine;
      errors.push({ file, line, column: r.column !== undefined ? r.column + 1 : undefined, message: `invalid YAML: ${r.reason}` });
      continue;
    }
    if (value === null || value === undefined) continue;
    if (!isPlainObject(value)) {
      errors.push({ file, line: docLine, message: `a Kubernetes object must be a YAML mapping, not ${Array.isArray(value) ? "a list" : `a ${typeof value}`}` });
      continue;
    }
    const object = describeObject(value);
    const missing = ["apiVersion", "kind"].filter((k) => typeof value[k] !== "string" || value[k] === "");
    if (missing.length) {
      for (const k of missing) {
        const present = k in value;
        errors.push({
          file,
          line: docLine,
          object,
          field: k,
          message: present ? `must be a non-empty string` : `required field is missing (every document needs apiVersion and kind)`,
        });
      }
      continue;
    }
    if (value.metadata !== undefined && !isPlainObject(value.metadata)) {
      errors.push({ file, line: docLine, object, field: "metadata", message: "must be a mapping" });
      continue;
    }
    if (value.metadata === undefined) value.metadata = {};
    objects.push({ file, line: docLine, docIndex: chunk.index, object: value as unknown as KubeObject });
  }
  return { objects, errors };
}
