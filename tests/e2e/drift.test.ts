// The product's story through the real engine: a key changed behind Pulumi's back is brought back, never replaced.
import { DisableKeyCommand, TagResourceCommand, UpdateKeyDescriptionCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { describeKey, scheduleDeletion, tagsOf } from "../../testing/kms/out-of-band";
import { TestStack } from "../../testing/pulumi/automation";

const DECLARED = {
  description: "Encrypts the orders database",
  tags: { team: "orders", environment: "e2e" },
  deletionWindowInDays: 7,
};

describe("e2e: a key changed out of band (pulumi up --refresh)", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;
  let stack: TestStack;
  let keyId: string;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
    stack = await env.harness.stack("drift", oneKey(DECLARED));
  });

  beforeEach(() => env.proxy.resetCounts());

  it("up creates the key, and the stack's outputs show it Enabled", async () => {
    const up = await stack.up();

    expect(up.summary.resourceChanges).to.deep.equal({ create: 2 }); // the stack and the key
    expect(env.proxy.writes()).to.deep.equal(["CreateKey"]);
    keyId = up.outputs.keyId.value as string;
    expect(keyId).to.match(/^[0-9a-f-]{36}$/);
    expect(up.outputs.keyState.value).to.equal("Enabled");
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("Enabled");
    expect(live.Description).to.equal(DECLARED.description);
    expect(await tagsOf(env.outOfBand, keyId)).to.deep.equal(DECLARED.tags);
    // The AWS SDK's Node.js 20 notice stays out of what the user sees.
    expect(stack.transcript.stdout + stack.transcript.stderr).not.to.include("NodeVersionSupportWarning");
  });

  it("a deletion scheduled out of band: preview --refresh plans an in-place update of the same key", async () => {
    const deletionDate = await scheduleDeletion(env.outOfBand, keyId, 7);
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("PendingDeletion");

    const preview = await stack.preview({ refresh: true, diff: true });

    expect(preview.changeSummary.update).to.equal(1);
    expect(preview.changeSummary.replace ?? 0).to.equal(0);
    expect(preview.changeSummary.create ?? 0).to.equal(0);
    expect(preview.changeSummary.delete ?? 0).to.equal(0);
    // The planned step for the key (the refresh's own step aside) is an update from PendingDeletion to Enabled.
    const planned = stack.steps().filter((step) => step.op !== "refresh");
    expect(planned.map((step) => step.op)).to.deep.equal(["update"]);
    expect(planned[0].oldInputs?.keyState).to.equal("PendingDeletion");
    expect(planned[0].newInputs?.keyState).to.equal("Enabled");
    expect(preview.stdout).to.match(/~ keyState\s*: "PendingDeletion" => "Enabled"/);
    expect(preview.stdout).to.include(deletionDate.toISOString().slice(0, 10)); // the date it would have gone
    expect(env.proxy.writes()).to.deep.equal([]); // a preview changes nothing
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("PendingDeletion");
  });

  it("up --refresh brings the same key back: CancelKeyDeletion, then EnableKey", async () => {
    const up = await stack.up({ refresh: true });

    expect(up.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
    expect(env.proxy.writes()).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
    expect(up.outputs.keyId.value).to.equal(keyId);
    expect(up.outputs.keyState.value).to.equal("Enabled");
    expect(up.outputs.deletionDate?.value).to.equal(undefined);
    const [state] = await stack.keys();
    expect(state.id).to.equal(keyId);
    expect(state.outputs).not.to.have.property("deletionDate");
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("Enabled");
    expect(live.DeletionDate).to.equal(undefined);
  });

  it("a key disabled, retagged and redescribed out of band: up --refresh reverts each change", async () => {
    await env.outOfBand.send(new DisableKeyCommand({ KeyId: keyId }));
    await env.outOfBand.send(
      new TagResourceCommand({
        KeyId: keyId,
        Tags: [
          { TagKey: "team", TagValue: "someone-else" },
          { TagKey: "added-by-hand", TagValue: "yes" },
        ],
      }),
    );
    await env.outOfBand.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: "changed by hand" }));

    const up = await stack.up({ refresh: true });

    expect(up.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("Enabled");
    expect(live.Description).to.equal(DECLARED.description);
    expect(await tagsOf(env.outOfBand, keyId)).to.deep.equal(DECLARED.tags);
    const calls = env.proxy.writes();
    expect(calls[0]).to.equal("EnableKey"); // enable before modifying
    expect([...calls].sort()).to.deep.equal(["EnableKey", "TagResource", "UntagResource", "UpdateKeyDescription"]);
    expect(up.outputs.keyId.value).to.equal(keyId);
    expect(up.outputs.description.value).to.equal(DECLARED.description);
    expect(up.outputs.tags.value).to.deep.equal(DECLARED.tags);
  });

  it("after recovery the stack is in step: preview --refresh plans no change", async () => {
    const preview = await stack.preview({ refresh: true });
    expect(preview.changeSummary).to.deep.equal({ same: 2 });
  });
});

describe("e2e: a key declared disabled that was scheduled for deletion", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;
  let stack: TestStack;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
    stack = await env.harness.stack("disabled", oneKey({ ...DECLARED, enabled: false }));
  });

  it("up --refresh cancels the deletion and leaves it Disabled, never calling EnableKey", async () => {
    env.proxy.resetCounts();
    const created = await stack.up();
    expect(env.proxy.writes()).to.deep.equal(["CreateKey", "DisableKey"]);
    expect(created.outputs.keyState.value).to.equal("Disabled");
    const keyId = created.outputs.keyId.value as string;
    await scheduleDeletion(env.outOfBand, keyId, 7);

    env.proxy.resetCounts();
    const up = await stack.up({ refresh: true });

    expect(up.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
    expect(env.proxy.writes()).to.deep.equal(["CancelKeyDeletion"]);
    expect(env.proxy.calls("EnableKey")).to.equal(0);
    expect(up.outputs.keyId.value).to.equal(keyId);
    expect(up.outputs.keyState.value).to.equal("Disabled");
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("Disabled");
    expect(live.DeletionDate).to.equal(undefined);
  });
});
