import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, symlink, unlink, writeFile, cp } from "node:fs/promises";
import { join } from "node:path";
import { generateFixtureTree } from "../fixtures/data/generate.ts";
import { treeHash, diffManifests } from "./tree-hash.ts";
import { tempDir } from "./restic-context.ts";

test("the fixture tree is deterministic and its hash sees content, names, modes and link targets", async () => {
  const a = join(tempDir("tree"), "a");
  const b = join(tempDir("tree"), "b");
  await generateFixtureTree(a, { largeFileBytes: 1 << 20, smallFiles: 6 });
  await generateFixtureTree(b, { largeFileBytes: 1 << 20, smallFiles: 6 });
  const ha = await treeHash(a);
  assert.equal((await treeHash(b)).hash, ha.hash);
  assert.ok(ha.files > 20 && ha.symlinks === 4 && ha.dirs > 10, JSON.stringify({ ...ha, manifest: undefined }));
  assert.ok(ha.manifest.some((l) => l.startsWith("f 0000") === false && l.includes('"ünïcödé/日本語のファイル.txt"')));
  assert.ok(ha.manifest.includes('d 2750 "modes/setgid-dir"'));
  assert.ok(ha.manifest.includes('l "dangling-link" -> "does/not/exist"'));

  const other = await generateFixtureTree(join(tempDir("tree"), "c"), { seed: "other", largeFileBytes: 1 << 20, smallFiles: 6 });
  assert.ok(other.files > 0);

  const mutations: [string, (dir: string) => Promise<void>][] = [
    ["content", (d) => writeFile(join(d, "config/app.yaml"), "replicas: 4\n")],
    ["mode", (d) => chmod(join(d, "modes/run.sh"), 0o700)],
    [
      "link target",
      async (d) => {
        await unlink(join(d, "link-to-dir"));
        await symlink("deep", join(d, "link-to-dir"));
      },
    ],
    ["new empty file", (d) => writeFile(join(d, "new-empty"), "")],
  ];
  for (const [what, mutate] of mutations) {
    const c = join(tempDir("tree"), "m");
    await cp(a, c, { recursive: true, verbatimSymlinks: true });
    assert.equal((await treeHash(c)).hash, ha.hash, `copy before ${what}`);
    await mutate(c);
    const hc = await treeHash(c);
    assert.notEqual(hc.hash, ha.hash, what);
    assert.ok(diffManifests(ha.manifest, hc.manifest).length > 0, what);
  }
});
