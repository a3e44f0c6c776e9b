// Every examples/<name> folder is a complete Pulumi project a user can copy (tests/e2e/projects-*.test.ts run them).
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { exampleNames } from "../../testing/pulumi/project";
import { REPO_ROOT } from "../../testing/repo";
import { LEGS } from "../../testing/versions";

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");

describe("examples are project folders", () => {
  const names = exampleNames();

  it("has the examples the README names", () => {
    expect(names).to.include.members(["basic", "drift-recovery", "fleet"]);
  });

  for (const name of names) {
    it(`examples/${name}: Pulumi.yaml, package.json, tsconfig.json, index.ts and README.md as a user's project`, () => {
      const folder = `examples/${name}`;
      const yaml = read(`${folder}/Pulumi.yaml`);
      expect(yaml, `${folder}/Pulumi.yaml`).to.match(/^name: [\w.-]+$/m);
      expect(yaml, `${folder}/Pulumi.yaml`).to.match(/^description: \S/m);
      expect(yaml, `${folder}/Pulumi.yaml`).to.match(/^runtime:\n {2}name: nodejs\n/m);
      expect(yaml, `${folder}/Pulumi.yaml`).to.match(/^ {4}typescript: true$/m);

      const manifest = JSON.parse(read(`${folder}/package.json`)) as Manifest;
      // By a version range from the registry, as a user's program depends on it: never a path into this repository.
      expect(manifest.dependencies?.["pulumi-kms-key"], `${folder}: pulumi-kms-key`).to.equal("^0.1.0");
      expect(manifest.dependencies?.["@pulumi/pulumi"], `${folder}: @pulumi/pulumi`).to.equal(`^${LEGS.oldest.pulumi}`);
      expect(manifest.devDependencies, `${folder}: devDependencies`).to.have.keys("typescript", "@types/node");

      const tsconfig = JSON.parse(read(`${folder}/tsconfig.json`)) as { compilerOptions: { strict?: boolean } };
      expect(tsconfig.compilerOptions.strict, `${folder}/tsconfig.json strict`).to.equal(true);
      expect(read(`${folder}/index.ts`)).to.match(/from "pulumi-kms-key"/);
      expect(read(`${folder}/README.md`)).to.match(/pulumi up/);
    });
  }

  it("the package declares @pulumi/pulumi from the oldest supported version up, and the AWS SDK by caret ranges", () => {
    const manifest = JSON.parse(read("package.json")) as Manifest & { scripts: Record<string, string> };
    expect(manifest.dependencies).to.deep.equal({
      "@aws-sdk/client-kms": "^3.1164.0",
      "@aws-sdk/client-sts": "^3.1164.0",
      "@aws-sdk/util-arn-parser": "^3.972.55",
      "@pulumi/pulumi": `^${LEGS.oldest.pulumi}`,
      "@smithy/core": "^3.41.1",
      "cli-table3": "^0.6.5",
      commander: "^14.0.3",
    });
    expect(manifest.scripts.prepack, "npm pack builds the package").to.match(/build/);
  });
});
