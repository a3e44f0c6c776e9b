// versions.json is the one place tool versions are written; what the package declares follows from the legs it names.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS, NODE_LINE_LEGS } from "../../testing/versions";

const major = (version: string) => Number(version.split(".")[0]);

describe("versions.json", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
    engines: { node: string };
  };

  it("the package's engines name exactly the Node.js lines a test leg runs", () => {
    const lines = [...new Set([LEGS.oldest, ...NODE_LINE_LEGS, LEGS.newest].map((leg) => major(leg.node)))];
    expect(manifest.engines.node).to.equal(lines.map((line) => `^${line}`).join(" || "));
  });

  it("the programs outside examples/ declare @pulumi/pulumi from the oldest leg's version on, as the package does", () => {
    const programs = [
      "bench/project",
      ...fs.readdirSync(path.join(REPO_ROOT, "tests", "projects")).map((p) => `tests/projects/${p}`),
    ];
    for (const folder of programs) {
      const declared = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, folder, "package.json"), "utf8")) as {
        dependencies: Record<string, string>;
      };
      expect(declared.dependencies["@pulumi/pulumi"], `${folder}/package.json`).to.equal(`^${LEGS.oldest.pulumi}`);
    }
  });

  it("the other Node.js lines lie between the oldest and the newest leg's", () => {
    for (const leg of NODE_LINE_LEGS) {
      expect(major(leg.node), leg.name).to.be.above(major(LEGS.oldest.node)).and.below(major(LEGS.newest.node));
    }
  });
});
