// Every program under examples/ runs: up, a refreshed preview that plans nothing, destroy. New examples are picked up.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { exampleNames, exampleProgram, exampleProjectName, REPO_ROOT } from "../support/pulumi";
import { describeKey, E2e, e2e, SETUP_TIMEOUT, TEST_TIMEOUT } from "./fixture";

/** moto's account: config an example may use (examples/basic manages its key policy with it). */
const LOCAL_ACCOUNT_ID = "123456789012";

describe("e2e: examples", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  const names = exampleNames();

  it("each example folder has a program, a Pulumi.yaml, a README and a compiled program", () => {
    expect(names).to.include.members(["basic", "drift-recovery", "fleet"]);
    for (const name of names) {
      const folder = path.join(REPO_ROOT, "examples", name);
      const yaml = fs.readFileSync(path.join(folder, "Pulumi.yaml"), "utf8");
      expect(yaml, `examples/${name}/Pulumi.yaml`).to.match(/^runtime: nodejs$/m);
      expect(yaml, `examples/${name}/Pulumi.yaml`).to.match(/^description: \S/m);
      expect(exampleProjectName(name)).to.match(/^[\w.-]+$/);
      expect(fs.existsSync(path.join(folder, "README.md")), `examples/${name}/README.md`).to.equal(true);
      expect(
        fs.existsSync(path.join(REPO_ROOT, "dist", "examples", name, "index.js")),
        `dist/examples/${name}`,
      ).to.equal(true);
    }
  });

  for (const name of names) {
    it(`examples/${name}: up, preview --refresh plans nothing, destroy`, async () => {
      const stack = await env.harness.stack(`example-${name}`, exampleProgram(name), {
        projectName: exampleProjectName(name),
      });
      await stack.stack.setConfig("accountId", { value: LOCAL_ACCOUNT_ID });

      const up = await stack.up();
      const keys = await stack.keys();
      expect(keys.length, "KmsKeys in the example").to.be.greaterThan(0);
      expect(up.summary.resourceChanges).to.deep.equal({ create: keys.length + 1 });
      expect(Object.keys(up.outputs), "the example's outputs").to.have.length.greaterThan(0);
      for (const key of keys) {
        expect(key.outputs?.keyState, key.urn).to.equal("Enabled");
        expect((await describeKey(env.outOfBand, key.id!)).KeyState, key.urn).to.equal("Enabled");
      }

      const preview = await stack.preview({ refresh: true });
      expect(preview.changeSummary, "a second run plans no change").to.deep.equal({ same: keys.length + 1 });

      const destroyed = await stack.destroy();
      expect(destroyed.summary.resourceChanges).to.deep.equal({ delete: keys.length + 1 });
      for (const key of keys) {
        expect((await describeKey(env.outOfBand, key.id!)).KeyState, key.urn).to.equal("PendingDeletion");
      }
      expect(await stack.keys()).to.deep.equal([]);
    });
  }
});
