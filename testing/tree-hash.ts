// A hash of a directory tree that changes if any name, type, permission mode, file content or
// symlink target changes: equal hashes before backup and after restore prove a byte-identical
// restore. The manifest (one line per entry) says what differs when they are not equal.
//
//   treeHash(root) -> Promise<TreeHash>   { hash, manifest, files, dirs, symlinks, bytes }
//   diffManifests(a, b) -> string[]        lines only in a ("- ...") or only in b ("+ ...")
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

export interface TreeHash {
  hash: string;
  /** "<type> <mode> <relative path> <size|target> <sha256>" per entry, in walk order. */
  manifest: string[];
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

function fileSha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}

/** Names compare by their UTF-8 bytes, so the order does not depend on locale. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export async function treeHash(root: string): Promise<TreeHash> {
  const out: TreeHash = { hash: "", manifest: [], files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort(byBytes);
    for (const name of names) {
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
      const q = JSON.stringify(r);
      if (st.isSymbolicLink()) {
        out.symlinks++;
        out.manifest.push(`l ${q} -> ${JSON.stringify(await readlink(p))}`);
      } else if (st.isDirectory()) {
        out.dirs++;
        out.manifest.push(`d ${mode} ${q}`);
        await walk(p, r);
      } else if (st.isFile()) {
        out.files++;
        out.bytes += st.size;
        out.manifest.push(`f ${mode} ${q} ${st.size} ${await fileSha256(p)}`);
      } else {
        out.manifest.push(`o ${mode} ${q}`);
      }
    }
  };
  await walk(root, "");
  out.hash = createHash("sha256").update(out.manifest.join("\n")).digest("hex");
  return out;
}

export function diffManifests(a: string[], b: string[]): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  return [...a.filter((l) => !sb.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !sa.has(l)).map((l) => `+ ${l}`)];
}
