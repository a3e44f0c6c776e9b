// ignoreChanges through the real engine: an update changes only what the diff says, so inputs the engine fed from
// old state (tags owned by another tool, a key disabled during an incident) are never "restored".
import { DisableKeyCommand, TagResourceCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { describeKey, scheduleDeletion, tagsOf } from "../../testing/kms/out-of-band";
import { TestStack } from "../../testing/pulumi/automation";

/** ABAC tags another tool puts on the key: they grant access, so removing them would lock people out. */
const ABAC_TAGS = { "abac-project": "orders", "abac-clearance": "confidential" };

describe("e2e: ignoreChanges is respected by updates, with and without --refresh", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  for (const refresh of [false, true]) {
    const how = refresh ? "up --refresh" : "up";

    it(`ignoreChanges tags: tags owned by another tool survive a description change (${how})`, async () => {
      const stack = await env.harness.stack(
        `ignore-tags-${refresh ? "refresh" : "plain"}`,
        oneKey({ description: "v1", deletionWindowInDays: 7 }, { ignoreChanges: ["tags"] }),
      );
      const keyId = (await stack.up()).outputs.keyId.value as string;
      await env.outOfBand.send(
        new TagResourceCommand({
          KeyId: keyId,
          Tags: Object.entries(ABAC_TAGS).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        }),
      );

      env.proxy.resetCounts();
      const up = await stack.up({
        refresh,
        program: oneKey({ description: "v2", deletionWindowInDays: 7 }, { ignoreChanges: ["tags"] }),
      });

      expect(up.summary.resourceChanges?.update).to.equal(1);
      expect(env.proxy.writes()).to.deep.equal(["UpdateKeyDescription"]);
      expect(env.proxy.calls("UntagResource")).to.equal(0);
      expect(await tagsOf(env.outOfBand, keyId)).to.deep.equal(ABAC_TAGS);
      expect((await describeKey(env.outOfBand, keyId)).Description).to.equal("v2");
    });

    it(`ignoreChanges enabled: a key disabled out of band stays disabled on a routine up (${how})`, async () => {
      const program = (description: string) =>
        oneKey({ description, deletionWindowInDays: 7 }, { ignoreChanges: ["enabled"] });
      const stack = await env.harness.stack(`ignore-enabled-${refresh ? "refresh" : "plain"}`, program("v1"));
      const keyId = (await stack.up()).outputs.keyId.value as string;
      // Disabled during an incident, by someone outside Pulumi.
      await env.outOfBand.send(new DisableKeyCommand({ KeyId: keyId }));

      env.proxy.resetCounts();
      await stack.up({ refresh, program: program("v1") }); // nothing declared changed
      await stack.up({ refresh, program: program("v2") }); // a routine change elsewhere

      expect(env.proxy.calls("EnableKey")).to.equal(0);
      expect(env.proxy.writes()).to.deep.equal(["UpdateKeyDescription"]);
      const live = await describeKey(env.outOfBand, keyId);
      expect(live.KeyState).to.equal("Disabled");
      expect(live.Description).to.equal("v2");
    });
  }

  it("ignoreChanges keyState: the key's state is left to others (no cancel, enable or disable), said in plain words", async () => {
    const program = (description: string) =>
      oneKey({ description, deletionWindowInDays: 7 }, { ignoreChanges: ["keyState"] });
    const stack: TestStack = await env.harness.stack("ignore-keystate", program("v1"));
    const keyId = (await stack.up()).outputs.keyId.value as string;

    // Disabled out of band: a refresh shows it, and the next up leaves it.
    await env.outOfBand.send(new DisableKeyCommand({ KeyId: keyId }));
    env.proxy.resetCounts();
    const quiet = await stack.up({ refresh: true, program: program("v1") });
    expect(quiet.summary.resourceChanges?.update ?? 0).to.equal(0);
    const changed = await stack.up({ refresh: true, program: program("v2") });
    expect(changed.summary.resourceChanges?.update).to.equal(1);
    expect(env.proxy.writes()).to.deep.equal(["UpdateKeyDescription"]);
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Disabled");

    // Scheduled for deletion out of band: up --refresh does not cancel it.
    await scheduleDeletion(env.outOfBand, keyId, 7);
    env.proxy.resetCounts();
    const left = await stack.up({ refresh: true, program: program("v2") });
    expect(left.summary.resourceChanges?.update ?? 0).to.equal(0);
    expect(env.proxy.writes()).to.deep.equal([]);
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("PendingDeletion");

    // A change KMS can't make on a key pending deletion is refused, saying why and what to do.
    const failed = await stack.up({ refresh: true, program: program("v3") }).catch((err: Error) => err);
    expect(failed).to.be.instanceOf(Error);
    expect(String((failed as Error).message))
      .to.include(keyId)
      .and.include("ignoreChanges");
    expect(env.proxy.calls("CancelKeyDeletion")).to.equal(0);
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("PendingDeletion");
  });
});
