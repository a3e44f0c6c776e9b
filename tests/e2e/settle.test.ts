// Diffs that settle, through the real engine: after one up, the next shows no changes (pulumi up --expect-no-changes)
// for keys in states the provider can't or needn't change, keys carrying tags AWS reserves, and policies KMS hands
// back in another, equivalent form.
import { PutKeyPolicyCommand, TagResourceCommand } from "@aws-sdk/client-kms";
import { PulumiFn, UpResult } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import { KmsKeyArgs } from "pulumi-kms-key";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { describeKey, tagsOf } from "../../testing/kms/out-of-band";
import { TestStack } from "../../testing/pulumi/automation";

/** `pulumi up --expect-no-changes`: fails when the engine plans any change. */
async function upExpectingNoChanges(stack: TestStack, refresh: boolean, program?: PulumiFn): Promise<UpResult> {
  return stack.stack.up({ refresh, expectNoChanges: true, program });
}

const ACCOUNT_ROOT = "arn:aws:iam::123456789012:root";
const ROLES = ["sultan", "mercedes", "jasmine", "aladdin", "iago"].map(
  (name) => `arn:aws:iam::123456789012:role/key-users-${name}`,
);

/** A key policy in the form a program declares it, or in the form KMS or IAM may hand it back. */
function policy(form: "declared" | "returned"): string {
  const declared = form === "declared";
  const admin = { Sid: "Admin", Effect: "Allow", Principal: { AWS: ACCOUNT_ROOT }, Action: "kms:*", Resource: "*" };
  const use = {
    Sid: "Use",
    Effect: "Allow",
    Principal: { AWS: declared ? ROLES : [...ROLES].reverse() },
    Action: declared ? ["kms:Encrypt", "kms:Decrypt"] : ["kms:Decrypt", "kms:Encrypt"],
    Resource: declared ? "*" : ["*"],
    Condition: { Bool: { "kms:GrantIsForAWSResource": declared ? true : "true" } },
  };
  return declared
    ? JSON.stringify({ Version: "2012-10-17", Statement: [admin, use] })
    : JSON.stringify(
        { Statement: [use, { ...admin, Principal: { AWS: [ACCOUNT_ROOT] } }], Version: "2012-10-17" },
        null,
        2,
      );
}

describe("e2e: two ups in a row; the second shows no changes", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  const settled: [string, KmsKeyArgs][] = [
    [
      "an enabled, rotating key with tags and a policy",
      { enableKeyRotation: true, tags: { team: "a" }, policy: policy("declared") },
    ],
    ["a disabled key", { enabled: false, description: "off" }],
  ];
  for (const [name, args] of settled) {
    it(`${name}: up, then up --expect-no-changes (with and without --refresh)`, async () => {
      const stack = await env.harness.stack(`settled-${settled.findIndex(([n]) => n === name)}`, oneKey(args));
      await stack.up();
      env.proxy.resetCounts();
      await upExpectingNoChanges(stack, false);
      expect(env.proxy.calls(), "a plain up with nothing changed calls KMS not once").to.equal(0);
      await upExpectingNoChanges(stack, true);
      expect(env.proxy.writes()).to.deep.equal([]);
    });
  }

  it("a PendingImport key declared enabled: false: no diff, and no reads, on every up", async () => {
    const stack = await env.harness.stack("pending-import", oneKey({ enabled: false, deletionWindowInDays: 7 }));
    const keyId = (await stack.up()).outputs.keyId.value as string;
    // KMS keeps a key whose imported key material is gone in PendingImport; moto can't, the proxy can.
    env.proxy.overrideKeyState(keyId, "PendingImport");
    try {
      const refreshed = await stack.up({ refresh: true });
      expect(refreshed.summary.resourceChanges).to.deep.equal({ same: 2 });
      expect(refreshed.outputs.keyState.value).to.equal("PendingImport");
      const preview = await stack.preview({ diff: true });
      expect(preview.changeSummary).to.deep.equal({ same: 2 });
      expect(preview.stdout).not.to.include('=> "Disabled"');
      env.proxy.resetCounts();
      await upExpectingNoChanges(stack, false);
      expect(env.proxy.calls(), "no reads on a plain up").to.equal(0);
      await upExpectingNoChanges(stack, true);
      expect(env.proxy.writes()).to.deep.equal([]);
    } finally {
      env.proxy.overrideKeyState(keyId, undefined);
    }
  });

  it("an Unavailable key (custom key store disconnected) doesn't fail an up in which nothing changed", async () => {
    const stack = await env.harness.stack(
      "unavailable",
      oneKey({ description: "in a key store", deletionWindowInDays: 7 }),
    );
    const keyId = (await stack.up()).outputs.keyId.value as string;
    env.proxy.overrideKeyState(keyId, "Unavailable");
    env.proxy.resetCounts();
    try {
      const refreshed = await stack.up({ refresh: true });
      expect(refreshed.outputs.keyState.value).to.equal("Unavailable");
      await upExpectingNoChanges(stack, true);
      await upExpectingNoChanges(stack, false);
      expect(env.proxy.writes()).to.deep.equal([]);
    } finally {
      env.proxy.overrideKeyState(keyId, undefined);
    }
  });

  it("aws: tags on a key are never untagged and never shown as drift", async () => {
    const declared = { tags: { team: "orders" }, deletionWindowInDays: 7 };
    const stack = await env.harness.stack("aws-tags", oneKey(declared));
    const keyId = (await stack.up()).outputs.keyId.value as string;
    // Put there by CloudFormation or an AWS service (straight to moto: KMS refuses aws: tags from users).
    const reserved = { "aws:cloudformation:stack-name": "orders-stack", "aws:cloudformation:logical-id": "OrdersKey" };
    await env.outOfBand.send(
      new TagResourceCommand({
        KeyId: keyId,
        Tags: Object.entries(reserved).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      }),
    );

    env.proxy.resetCounts();
    const preview = await stack.preview({ refresh: true, diff: true });
    expect(preview.changeSummary).to.deep.equal({ same: 2 });
    expect(preview.stdout).not.to.include("aws:cloudformation");
    await upExpectingNoChanges(stack, true);
    // A tag change of the user's own touches only the user's tags.
    const ledger = oneKey({ ...declared, tags: { team: "ledger" } });
    const retagged = await stack.up({ refresh: true, program: ledger });
    expect(retagged.outputs.tags.value).to.deep.equal({ team: "ledger" });

    expect(env.proxy.calls("UntagResource")).to.equal(0);
    expect(env.proxy.writes()).to.deep.equal(["TagResource"]);
    expect(await tagsOf(env.outOfBand, keyId)).to.deep.equal({ ...reserved, team: "ledger" });
    await upExpectingNoChanges(stack, true, ledger);
  });

  it('a policy that differs only in form (principal order, true vs "true", lists vs strings, statement order) is unchanged', async () => {
    const stack = await env.harness.stack(
      "policy-form",
      oneKey({ policy: policy("declared"), deletionWindowInDays: 7 }),
    );
    const keyId = (await stack.up()).outputs.keyId.value as string;
    // KMS hands the policy back in another form.
    await env.outOfBand.send(
      new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: "default", Policy: policy("returned") }),
    );

    env.proxy.resetCounts();
    await upExpectingNoChanges(stack, true);
    // And the program may declare it in the other form too.
    const program: PulumiFn = oneKey({ policy: policy("returned"), deletionWindowInDays: 7 });
    const up = await upExpectingNoChanges(stack, true, program);
    expect(up.summary.resourceChanges).to.deep.equal({ same: 2 });
    expect(env.proxy.calls("PutKeyPolicy")).to.equal(0);

    // A real change is still one.
    const changed = JSON.parse(policy("declared")) as { Statement: { Principal: { AWS: string | string[] } }[] };
    changed.Statement[1].Principal.AWS = ROLES.slice(1);
    const updated = await stack.up({ program: oneKey({ policy: JSON.stringify(changed), deletionWindowInDays: 7 }) });
    expect(updated.summary.resourceChanges?.update).to.equal(1);
    expect(env.proxy.writes()).to.deep.equal(["PutKeyPolicy"]);
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Enabled");
  });
});
