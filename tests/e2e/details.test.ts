// Smaller promises: a create that sent nothing says so; rotation calls never reach a multi-Region replica. (The
// README's state-size figure is checked where users' state comes from: tests/e2e/state-size.test.ts.)
import { CreateKeyCommand, EnableKeyRotationCommand, ReplicateKeyCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { failure } from "../../testing/fixtures";
import { outOfBand } from "../../testing/kms/out-of-band";

describe("e2e: smaller promises", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  it("a create without credentials says none were found, sends nothing, and does not say KMS may have made a key", async () => {
    const stack = await env.harness.stack("no-credentials", oneKey({ description: "never made" }), {
      env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
    });
    env.proxy.resetCounts();

    const message = await failure(stack.up());

    expect(message).to.include("no AWS credentials found for CreateKey");
    expect(message).to.not.include("may have made");
    expect(message).to.not.include("creation-token");
    expect(env.proxy.calls(), "requests that reached KMS").to.equal(0);
  });

  it("never sends EnableKeyRotation or DisableKeyRotation to a multi-Region replica, and says where rotation is set", async () => {
    const euWest = outOfBand(env.endpoint, "eu-west-1");
    const primary = (await euWest.send(new CreateKeyCommand({ Description: "rotating primary", MultiRegion: true })))
      .KeyMetadata!;
    await euWest.send(new EnableKeyRotationCommand({ KeyId: primary.KeyId, RotationPeriodInDays: 365 }));
    const replica = (await euWest.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: "us-east-1" })))
      .ReplicaKeyMetadata!;
    expect(replica.Arn).to.include(":us-east-1:");
    const declared = { description: "rotating primary", multiRegion: true };
    const stack = await env.harness.stack(
      "replica-rotation",
      oneKey({ ...declared, enableKeyRotation: false }, { import: replica.Arn! }),
    );
    env.proxy.resetCounts();

    const message = await failure(stack.up());
    expect(message).to.include("is a multi-Region replica key, and its rotation is set on its primary key");
    expect(message).to.include("declare enableKeyRotation: true and rotationPeriodInDays: 365 here");

    // Declared as the replica has it, the next up makes no rotation call either.
    await stack.up({ program: oneKey({ ...declared, enableKeyRotation: true }, { import: replica.Arn! }) });
    expect(env.proxy.calls("EnableKeyRotation") + env.proxy.calls("DisableKeyRotation")).to.equal(0);
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([replica.KeyId]);
  });
});
