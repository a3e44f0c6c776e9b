// Each module of the package loads first in a fresh process: an import cycle would leave a value undefined at load
// time (a schema reading LIMITS before validation.ts has set it), depending only on which module a program loads first.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { REPO_ROOT } from "../../testing/repo";

/** The compiled modules of a folder of dist/, recursively. */
function modulesIn(folder: string): string[] {
  const root = path.join(REPO_ROOT, "dist", folder);
  return fs
    .readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".js"))
    .map((file) => path.join(root, file));
}

describe("modules load in any order", () => {
  // The command's entry point runs the command when loaded: its modules are loaded here one by one instead.
  const modules = [...modulesIn("provider"), ...modulesIn("sdk"), ...modulesIn("cli")].filter(
    (file) => !file.endsWith("kms-key-drift.js"),
  );
  it(`each of the ${modules.length} modules of provider/, sdk/ and cli/ loads first without an error`, function () {
    this.timeout(120_000);
    expect(modules.length).to.be.greaterThan(20);
    const failed = modules.filter((file) => {
      try {
        execFileSync(process.execPath, ["-e", `require(${JSON.stringify(file)})`], { stdio: "pipe" });
        return false;
      } catch {
        return true;
      }
    });
    expect(failed.map((file) => path.relative(REPO_ROOT, file))).to.deep.equal([]);
  });
});
