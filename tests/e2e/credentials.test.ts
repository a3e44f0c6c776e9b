// Credentials reach KMS through the AWS SDK's own chain and nowhere else: not the state, not the engine's output.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { E2e, e2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "./fixture";

const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "AKIAE2EDISTINCTIVE01",
  AWS_SECRET_ACCESS_KEY: "e2e-distinctive-secret-value",
  AWS_SESSION_TOKEN: "e2e-distinctive-session-token-value",
};

describe("e2e: credentials", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;
  const saved: Record<string, string | undefined> = {};

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
    // The program runs in this process: let it see the credentials too, as a user's program would.
    for (const [name, value] of Object.entries(CREDENTIALS)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });

  after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("are in neither the exported state, nor the backend's files, nor the engine's output", async () => {
    // No other credential source is set up (see PulumiHarness), so a key made means these credentials were used.
    const stack = await env.harness.stack(
      "credentials",
      oneKey({ description: "credential check", tags: { purpose: "test" } }),
      {
        env: CREDENTIALS,
      },
    );
    env.proxy.resetCounts();
    const up = await stack.up();
    await stack.refresh();
    await stack.preview({ refresh: true, diff: true });
    expect(env.proxy.calls("CreateKey")).to.equal(1);

    const exported = JSON.stringify(await stack.exportState());
    const backendFiles = readTree(env.harness.backendDir);
    const output = stack.transcript.stdout + stack.transcript.stderr;
    // The searches can find what is there: the key's ID is in all three.
    const keyId = up.outputs.keyId.value as string;
    expect(exported).to.include(keyId);
    expect(backendFiles).to.include(keyId);
    expect(output).to.include(keyId);
    for (const [name, value] of Object.entries(CREDENTIALS)) {
      expect(exported, `${name} in the exported state`).not.to.include(value);
      expect(backendFiles, `${name} in the backend's files`).not.to.include(value);
      expect(output, `${name} in the engine's output`).not.to.include(value);
    }
  });
});

/** Every file under a folder, concatenated (the file backend: checkpoints, history, backups). */
function readTree(dir: string): string {
  let text = "";
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += fs.readFileSync(path.join(entry.parentPath, entry.name), "utf8");
  }
  return text;
}
