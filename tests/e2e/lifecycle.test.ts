// destroy (schedules deletion with the declared window) and the one case where a new key is made: the old one is gone.
import { expect } from "chai";
import { DAY_MS, e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { describeKey, outOfBand, scheduleDeletion } from "../../testing/kms/out-of-band";
import { KmsProxy } from "../../testing/kms/proxy";
import { startKmsServerWithProxy } from "../../testing/kms/server";

describe("e2e: destroy", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  it("schedules the key's deletion with the declared window", async () => {
    const windowInDays = 9; // neither KMS's default (30) nor its minimum (7)
    const stack = await env.harness.stack(
      "destroy-window",
      oneKey({ description: "short-lived", deletionWindowInDays: windowInDays }),
    );
    const keyId = (await stack.up()).outputs.keyId.value as string;
    env.proxy.resetCounts();

    const started = Date.now();
    const destroyed = await stack.destroy();
    const finished = Date.now();

    expect(destroyed.summary.resourceChanges).to.deep.equal({ delete: 2 });
    expect(env.proxy.writes()).to.deep.equal(["ScheduleKeyDeletion"]);
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("PendingDeletion");
    const deletion = live.DeletionDate!.getTime();
    expect(deletion).to.be.within(started + windowInDays * DAY_MS - 5_000, finished + windowInDays * DAY_MS + 5_000);
    expect(await stack.keys()).to.deep.equal([]);
  });

  it("of a key already pending deletion succeeds and leaves its deletion date alone", async () => {
    const stack = await env.harness.stack(
      "destroy-pending",
      oneKey({ description: "already going", deletionWindowInDays: 7 }),
    );
    const keyId = (await stack.up()).outputs.keyId.value as string;
    const scheduled = await scheduleDeletion(env.outOfBand, keyId, 20);
    env.proxy.resetCounts();

    const destroyed = await stack.destroy();

    expect(destroyed.summary.resourceChanges).to.deep.equal({ delete: 2 });
    expect(env.proxy.calls("ScheduleKeyDeletion")).to.equal(0);
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("PendingDeletion");
    expect(live.DeletionDate!.getTime()).to.be.closeTo(scheduled.getTime(), 1_000);
    expect(await stack.keys()).to.deep.equal([]);
  });
});

// A key is truly gone only when KMS answers NotFoundException. moto never deletes a key by itself (its deletion date
// passes without effect), so these tests use a moto of their own and empty it with moto's /moto-api/reset: the keys
// then vanish exactly as a deleted key does, with real NotFoundException answers, and the suite's shared moto keeps
// its keys.
describe("e2e: a key that is gone (NotFoundException)", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;
  let gone: { proxy: KmsProxy; endpoint: string; motoEndpoint: string; stop(): Promise<void> };

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
    const kms = await startKmsServerWithProxy();
    gone = { proxy: kms.proxy, endpoint: kms.endpoint, motoEndpoint: kms.server.endpoint, stop: () => kms.stop() };
  });

  after(async () => {
    await gone?.stop();
  });

  /** Every key on this test's moto disappears. */
  async function deleteEveryKey(): Promise<void> {
    const response = await fetch(`${gone.motoEndpoint}/moto-api/reset`, { method: "POST" });
    expect(response.status).to.equal(200);
  }

  it("is dropped by refresh, and up then creates a new key (the only case a new key is made)", async () => {
    const stack = await env.harness.stack("gone", oneKey({ description: "will vanish" }), {
      env: { AWS_ENDPOINT_URL_KMS: gone.endpoint },
    });
    const oldKeyId = (await stack.up()).outputs.keyId.value as string;
    await deleteEveryKey();
    const client = outOfBand(gone.motoEndpoint);
    try {
      await describeKey(client, oldKeyId).then(
        () => expect.fail("the key should be gone"),
        (err: Error) => expect(err.name).to.equal("NotFoundException"),
      );

      const refreshed = await stack.refresh();
      expect(refreshed.summary.resourceChanges?.delete).to.equal(1);
      expect(await stack.keys()).to.deep.equal([]);

      gone.proxy.resetCounts();
      const up = await stack.up();
      expect(up.summary.resourceChanges).to.deep.equal({ same: 1, create: 1 });
      expect(gone.proxy.writes()).to.deep.equal(["CreateKey"]);
      const newKeyId = up.outputs.keyId.value as string;
      expect(newKeyId).not.to.equal(oldKeyId);
      expect(up.outputs.keyState.value).to.equal("Enabled");
      expect((await describeKey(client, newKeyId)).KeyState).to.equal("Enabled");
    } finally {
      client.destroy();
    }
  });

  it("destroy of a stack whose key is gone succeeds", async () => {
    const stack = await env.harness.stack("destroy-gone", oneKey({ description: "gone before destroy" }), {
      env: { AWS_ENDPOINT_URL_KMS: gone.endpoint },
    });
    await stack.up();
    await deleteEveryKey();
    gone.proxy.resetCounts();

    const destroyed = await stack.destroy();

    expect(destroyed.summary.resourceChanges).to.deep.equal({ delete: 2 });
    expect(gone.proxy.writes()).to.deep.equal([]);
    expect(gone.proxy.calls("DescribeKey")).to.be.greaterThan(0); // it did look, and found nothing to delete
    expect(await stack.keys()).to.deep.equal([]);
  });
});
