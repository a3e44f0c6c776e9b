// Where the repository is, from compiled code anywhere below it.
import * as fs from "node:fs";
import * as path from "node:path";

/** The folder of the package.json named pulumi-kms-key above `start`. */
function findRepoRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string }).name === "pulumi-kms-key") return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no pulumi-kms-key package.json above ${start}`);
    dir = parent;
  }
}

/** The repository's root: the folder whose package.json is pulumi-kms-key's. */
export const REPO_ROOT = findRepoRoot(__dirname);
