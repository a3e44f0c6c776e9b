// What recovery and a one-tag update cost in KMS calls, counted at the proxy through the real engine; and recovery of
// rotating keys, whose rotation status KMS hides (reports false) while the key is pending deletion.
import { GetKeyRotationStatusCommand } from "@aws-sdk/client-kms";
import { PulumiFn } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import { KmsKey, KmsKeyArgs } from "pulumi-kms-key";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { describeKey, outOfBand, scheduleDeletion } from "../../testing/kms/out-of-band";

/** Recovery includes its refresh: the floor, 4 reads + cancel + enable (issue 9's target was at most 7). */
const MAX_CALLS_PER_RECOVERY = 6;
const MAX_CALLS_PER_ONE_TAG_UPDATE = 2;
const KEYS = 3;

function keys(count: number, args: (i: number) => KmsKeyArgs): PulumiFn {
  return async () => {
    const made = Array.from({ length: count }, (_, i) => new KmsKey(`key-${i}`, args(i)));
    return { keyIds: made.map((key) => key.keyId), keyStates: made.map((key) => key.keyState) };
  };
}

async function rotationEnabled(env: E2e, keyId: string): Promise<boolean | undefined> {
  return (await env.outOfBand.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled;
}

describe("e2e: KMS calls per key, counted at the proxy", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  it(`recovery (up --refresh of keys pending deletion, refresh included): at most ${MAX_CALLS_PER_RECOVERY} calls per key; a one-tag update at most ${MAX_CALLS_PER_ONE_TAG_UPDATE}`, async () => {
    const declared = (tag: string) => (i: number) => ({
      description: `calls ${i}`,
      enableKeyRotation: true,
      tags: { team: tag },
      deletionWindowInDays: 7,
    });
    const stack = await env.harness.stack("calls", keys(KEYS, declared("a")));
    const keyIds = (await stack.up()).outputs.keyIds.value as string[];
    for (const keyId of keyIds) await scheduleDeletion(env.outOfBand, keyId, 7);

    env.proxy.resetCounts();
    const recovered = await stack.up({ refresh: true, program: keys(KEYS, declared("a")) });
    const recoveryCalls = env.proxy.calls();

    expect(recovered.summary.resourceChanges?.update).to.equal(KEYS);
    expect(recovered.outputs.keyIds.value).to.deep.equal(keyIds);
    expect(recovered.outputs.keyStates.value).to.deep.equal(keyIds.map(() => "Enabled"));
    expect(recoveryCalls / KEYS, `recovery: ${recoveryCalls} calls for ${KEYS} keys`).to.be.at.most(
      MAX_CALLS_PER_RECOVERY,
    );
    // Exactly the cancel and the enable per key: no describe after each action, no rotation call.
    expect(env.proxy.writes().sort()).to.deep.equal(
      [...keyIds.map(() => "CancelKeyDeletion"), ...keyIds.map(() => "EnableKey")].sort(),
    );
    expect(env.proxy.calls("EnableKeyRotation")).to.equal(0);
    for (const keyId of keyIds) {
      expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Enabled");
      expect(await rotationEnabled(env, keyId)).to.equal(true);
    }

    env.proxy.resetCounts();
    const retagged = await stack.up({ program: keys(KEYS, declared("b")) });
    const tagCalls = env.proxy.calls();

    console.log(
      `      KMS calls per key: recovery ${recoveryCalls / KEYS} (at most ${MAX_CALLS_PER_RECOVERY}), one-tag update ${tagCalls / KEYS} (at most ${MAX_CALLS_PER_ONE_TAG_UPDATE})`,
    );
    expect(retagged.summary.resourceChanges?.update).to.equal(KEYS);
    expect(tagCalls / KEYS, `one-tag update: ${tagCalls} calls for ${KEYS} keys`).to.be.at.most(
      MAX_CALLS_PER_ONE_TAG_UPDATE,
    );
    expect(env.proxy.writes()).to.deep.equal(keyIds.map(() => "TagResource"));
  });

  it(`recovery by the inline refresh (up --refresh --run-program): the same keys, Enabled, at most ${MAX_CALLS_PER_RECOVERY} calls per key`, async () => {
    const declared = (i: number) => ({ description: `inline ${i}`, deletionWindowInDays: 7 });
    const stack = await env.harness.stack("inline", keys(KEYS, declared));
    const keyIds = (await stack.up()).outputs.keyIds.value as string[];
    for (const keyId of keyIds) await scheduleDeletion(env.outOfBand, keyId, 7);

    env.proxy.resetCounts();
    const recovered = await stack.up({ refresh: true, runProgram: true, program: keys(KEYS, declared) });

    expect(recovered.summary.resourceChanges?.update).to.equal(KEYS);
    expect(recovered.outputs.keyIds.value).to.deep.equal(keyIds);
    expect(recovered.outputs.keyStates.value).to.deep.equal(keyIds.map(() => "Enabled"));
    expect(env.proxy.calls() / KEYS, `${env.proxy.calls()} calls for ${KEYS} keys`).to.be.at.most(
      MAX_CALLS_PER_RECOVERY,
    );
    expect(env.proxy.writes().sort()).to.deep.equal(
      [...keyIds.map(() => "CancelKeyDeletion"), ...keyIds.map(() => "EnableKey")].sort(),
    );
    for (const keyId of keyIds) expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Enabled");
  });
});

describe("e2e: recovering rotating keys (KMS reports rotation off while a key is pending deletion)", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  it("the proxy reports rotation off while pending deletion and the earlier status after the cancel, as KMS does", async () => {
    const stack = await env.harness.stack(
      "rotation-proxy",
      oneKey({ enableKeyRotation: true, deletionWindowInDays: 7 }),
    );
    const keyId = (await stack.up()).outputs.keyId.value as string;
    const client = outOfBand(env.endpoint);
    const viaProxy = async () =>
      (await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled;
    try {
      expect(await viaProxy()).to.equal(true);
      await scheduleDeletion(env.outOfBand, keyId, 7);
      expect(await viaProxy()).to.equal(false);
      await stack.up({ refresh: true });
      expect(await viaProxy()).to.equal(true);
    } finally {
      client.destroy();
    }
  });

  it("a key declared enabled: false, enableKeyRotation: true recovers: cancel only, still Disabled and rotating", async () => {
    const declared = { enabled: false, enableKeyRotation: true, deletionWindowInDays: 7 };
    const stack = await env.harness.stack("rotation-disabled", oneKey(declared));
    const keyId = (await stack.up()).outputs.keyId.value as string;
    await scheduleDeletion(env.outOfBand, keyId, 7);

    env.proxy.resetCounts();
    const up = await stack.up({ refresh: true });

    expect(up.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
    expect(env.proxy.writes()).to.deep.equal(["CancelKeyDeletion"]);
    expect(up.outputs.keyId.value).to.equal(keyId);
    expect(up.outputs.keyState.value).to.equal("Disabled");
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Disabled");
    expect(await rotationEnabled(env, keyId)).to.equal(true);
    const again = await stack.stack.up({ refresh: true, expectNoChanges: true });
    expect(again.summary.resourceChanges).to.deep.equal({ same: 2 });
  });

  it("a rotating key declared enabled: no rotation in the preview, no EnableKeyRotation call", async () => {
    const declared = { enableKeyRotation: true, rotationPeriodInDays: 180, deletionWindowInDays: 7 };
    const stack = await env.harness.stack("rotation-enabled", oneKey(declared));
    const keyId = (await stack.up()).outputs.keyId.value as string;
    await scheduleDeletion(env.outOfBand, keyId, 7);

    const preview = await stack.preview({ refresh: true, diff: true });
    expect(preview.stdout).to.match(/keyState\s*: "PendingDeletion" => "Enabled"/);
    expect(preview.stdout).not.to.match(/(enableKeyRotation|rotationPeriodInDays)\s*:[^\n]*=>/);

    env.proxy.resetCounts();
    const up = await stack.up({ refresh: true });

    expect(env.proxy.writes()).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
    expect(up.outputs.keyState.value).to.equal("Enabled");
    expect(await rotationEnabled(env, keyId)).to.equal(true);
    const again = await stack.stack.up({ refresh: true, expectNoChanges: true });
    expect(again.summary.resourceChanges).to.deep.equal({ same: 2 });
  });
});
