// Credentials reach KMS through the AWS SDK's own chain and nowhere else: not the state, not the engine's output.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { failure } from "../../testing/fixtures";

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
    const backendFiles = readTree(env.harness.runDir);
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

  it("through a create, an update and endpoints carrying them (an input, AWS_ENDPOINT_URL_KMS) reach neither the state nor any output", async () => {
    // Credentials written into an endpoint, with a port `new URL` refuses: the form that used to be echoed whole.
    const userinfo = `${CREDENTIALS.AWS_ACCESS_KEY_ID}:${CREDENTIALS.AWS_SECRET_ACCESS_KEY}@`;
    const endpointWithCredentials = `https://${userinfo}kms.example.com:99999`;
    const stack = await env.harness.stack("credentials-update", oneKey({ description: "before" }), {
      env: CREDENTIALS,
    });
    env.proxy.resetCounts();
    const up = await stack.up();
    await stack.up({ program: oneKey({ description: "after", tags: { purpose: "test" } }) });
    expect(env.proxy.calls("CreateKey")).to.equal(1);
    expect(env.proxy.calls("UpdateKeyDescription")).to.equal(1);

    const refusals = [
      // As an input: check() refuses it, so the run stores nothing of it.
      await failure(stack.up({ program: oneKey({ description: "after", endpoint: endpointWithCredentials }) })),
    ];
    // From a pipeline's environment: the refresh's read and the update refuse it before any call.
    stack.setEnv({ AWS_ENDPOINT_URL_KMS: endpointWithCredentials });
    try {
      refusals.push(await failure(stack.refresh()));
      refusals.push(await failure(stack.up({ program: oneKey({ description: "changed again" }) })));
    } finally {
      stack.setEnv({ AWS_ENDPOINT_URL_KMS: env.endpoint });
    }

    const exported = JSON.stringify(await stack.exportState());
    const backendFiles = readTree(env.harness.runDir);
    const output = [stack.transcript.stdout, stack.transcript.stderr, ...refusals].join("\n");
    // The searches can find what is there: the key, as last updated, is in the state and the output.
    const keyId = up.outputs.keyId.value as string;
    expect(exported).to.include(keyId).and.include('"after"');
    expect(backendFiles).to.include(keyId);
    expect(output).to.include(keyId);
    for (const [name, value] of [...Object.entries(CREDENTIALS), ["the endpoint's user:password@", userinfo]]) {
      expect(exported, `${name} in the exported state`).not.to.include(value);
      expect(backendFiles, `${name} in the backend's files`).not.to.include(value);
      expect(output, `${name} in the engine's output and errors`).not.to.include(value);
    }
    for (const refusal of refusals) expect(refusal).to.include("endpoint must not carry credentials");
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
