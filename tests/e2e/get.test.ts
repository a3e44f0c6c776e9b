// KmsKey.get: an existing key read into the program, in any key state, and never changed.
import { CreateKeyCommand, DisableKeyCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { KmsKey } from "pulumi-kms-key";
import { e2e, E2e, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { failure } from "../../testing/fixtures";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { createForeignKey, describeKey, outOfBand, scheduleDeletion } from "../../testing/kms/out-of-band";

/** States moto can't produce: the proxy reports them (overrideKeyState). */
const OVERRIDDEN = ["PendingImport", "Unavailable", "Creating", "Updating", "PendingReplicaDeletion"];

describe("e2e: KmsKey.get", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  it("reads a key in every key state, and neither up nor destroy changes it", async () => {
    const keys: Record<string, string> = {};
    for (const state of ["Enabled", "Disabled", "PendingDeletion", ...OVERRIDDEN]) {
      keys[state] = (await createForeignKey(env.outOfBand, `a key ${state}`)).KeyId!;
    }
    await env.outOfBand.send(new DisableKeyCommand({ KeyId: keys.Disabled }));
    await scheduleDeletion(env.outOfBand, keys.PendingDeletion);
    for (const state of OVERRIDDEN) env.proxy.overrideKeyState(keys[state], state);
    try {
      const stack = await env.harness.stack("get-states", async () =>
        Object.fromEntries(
          Object.entries(keys).map(([state, keyId]) => {
            const key = KmsKey.get(`key-${state}`, keyId);
            return [state, { keyId: key.keyId, keyState: key.keyState, description: key.description }];
          }),
        ),
      );
      env.proxy.resetCounts();

      const up = await stack.up();
      const again = await stack.up();
      await stack.destroy();

      for (const [state, keyId] of Object.entries(keys)) {
        expect(up.outputs[state].value, JSON.stringify(up.outputs)).to.deep.equal({
          keyId,
          keyState: state,
          description: `a key ${state}`,
        });
        expect(again.outputs[state].value.keyState, state).to.equal(state);
      }
      const mutating = env.proxy.callLog
        .map((entry) => entry.operation)
        .filter((operation) => !/^(Describe|Get|List)/.test(operation));
      expect(mutating, "calls that change a key").to.deep.equal([]);
      expect(env.proxy.calls("DescribeKey")).to.be.at.least(2 * Object.keys(keys).length);
    } finally {
      for (const state of OVERRIDDEN) env.proxy.overrideKeyState(keys[state], undefined);
    }
    expect((await describeKey(env.outOfBand, keys.Enabled)).KeyState).to.equal("Enabled");
    expect((await describeKey(env.outOfBand, keys.Disabled)).KeyState).to.equal("Disabled");
    expect((await describeKey(env.outOfBand, keys.PendingDeletion)).KeyState).to.equal("PendingDeletion");
  });

  it("reads a key in another Region by its ARN", async () => {
    const made = (
      await outOfBand(env.endpoint, "eu-west-1").send(new CreateKeyCommand({ Description: "in eu-west-1" }))
    ).KeyMetadata!;
    const stack = await env.harness.stack("get-arn", async () => {
      const key = KmsKey.get("key", made.Arn!);
      return { arn: key.arn, keyState: key.keyState };
    });
    const up = await stack.up();
    expect(up.outputs.arn.value).to.equal(made.Arn);
    expect(up.outputs.keyState.value).to.equal("Enabled");
  });

  it("fails saying so for a key KMS does not have", async () => {
    const missing = "0b5e8f5a-1111-4000-8000-000000000000";
    const stack = await env.harness.stack("get-missing", async () => ({
      keyState: KmsKey.get("key", missing).keyState,
    }));
    const message = await failure(stack.up());
    expect(message).to.include(
      `KMS has no key ${missing} in this run's account ${MOTO_DEFAULT_ACCOUNT}, Region us-east-1`,
    );
    expect(await stack.keys()).to.deep.equal([]);
  });

  it("fails saying so for a key in another Region named by its ID, and says to give its ARN", async () => {
    const made = (
      await outOfBand(env.endpoint, "eu-west-1").send(new CreateKeyCommand({ Description: "in eu-west-1" }))
    ).KeyMetadata!;
    const stack = await env.harness.stack("get-other-region", async () => ({
      keyState: KmsKey.get("key", made.KeyId!).keyState,
    }));
    const message = await failure(stack.up());
    expect(message).to.include(
      `KMS has no key ${made.KeyId} in this run's account ${MOTO_DEFAULT_ACCOUNT}, Region us-east-1`,
    );
    expect(message).to.include("give its key ARN");
  });

  it("refuses a malformed key ID before any call, naming what is allowed", async () => {
    const stack = await env.harness.stack("get-malformed", async () => ({
      keyState: KmsKey.get("key", "alias/orders").keyState,
    }));
    env.proxy.resetCounts();
    const message = await failure(stack.up());
    expect(message).to.include('the key ID "alias/orders" is neither a key ID');
    expect(env.proxy.calls()).to.equal(0);
  });
});
