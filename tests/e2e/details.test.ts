// Smaller promises: a create that sent nothing says so; rotation calls never reach a multi-Region replica; the
// README's state-size figure is what a real export holds.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { KmsKey } from "pulumi-kms-key";
import { CreateKeyCommand, EnableKeyRotationCommand, ReplicateKeyCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { REPO_ROOT, TestStack } from "../support/pulumi";
import { E2e, e2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "./fixture";
import { clientIn, failure } from "./support-places";

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
    const euWest = clientIn(env.endpoint, "eu-west-1");
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
    expect(message).to.include("declare enableKeyRotation: true here");

    // Declared as the replica has it, the next up makes no rotation call either.
    await stack.up({ program: oneKey({ ...declared, enableKeyRotation: true }, { import: replica.Arn! }) });
    expect(env.proxy.calls("EnableKeyRotation") + env.proxy.calls("DisableKeyRotation")).to.equal(0);
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([replica.KeyId]);
  });

  it("the README's state size per key is what `pulumi stack export` holds", async () => {
    const twoKeys = async () => {
      new KmsKey("a", { description: "measured" });
      new KmsKey("b", { description: "measured" });
    };
    const stack = await env.harness.stack("state-size", twoKeys);
    await stack.up();
    const withTwo = await exportedBytes(stack);
    await stack.up({ program: async () => void new KmsKey("a", { description: "measured" }) });
    const withOne = await exportedBytes(stack);
    // One key's share of the export: what the second key added.
    const perKey = withTwo - withOne;
    const [key] = await stack.keys();
    const provider = Buffer.byteLength(String(key.inputs?.__provider ?? ""), "utf8");
    console.log(
      `      pulumi stack export: ${perKey} bytes per key; its serialized provider, ${provider} bytes, is in it twice`,
    );

    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const figure = /about ([0-9.]+) KB per key in `pulumi stack export`/.exec(readme);
    expect(figure, "the README states the figure").to.not.equal(null);
    expect(Number(figure![1])).to.be.closeTo(perKey / 1024, 0.5);
  });

  /** The size of what `pulumi stack export` prints for the stack. */
  async function exportedBytes(stack: TestStack): Promise<number> {
    const workspace = stack.stack.workspace as LocalWorkspace;
    const { stdout } = await promisify(execFile)(
      path.join(env.harness.binDir, "pulumi"),
      ["stack", "export", "--stack", stack.name],
      { cwd: workspace.workDir, env: { ...process.env, ...workspace.envVars }, maxBuffer: 64 * 1024 * 1024 },
    );
    return Buffer.byteLength(stdout, "utf8");
  }
});
