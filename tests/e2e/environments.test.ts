// A key lives in one Region and account, named by its ARN: runs from other Regions and accounts never strand it.
import { CreateKeyCommand, ReplicateKeyCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { KmsKey } from "pulumi-kms-key";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { failure } from "../../testing/fixtures";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { describeKey, outOfBand } from "../../testing/kms/out-of-band";

const ACCOUNT_A = { id: "111111111111", AWS_ACCESS_KEY_ID: "AKIAACCOUNTA0000E2E1", AWS_SECRET_ACCESS_KEY: "secret-a" };
const ACCOUNT_B = { id: "222222222222", AWS_ACCESS_KEY_ID: "AKIAACCOUNTB0000E2E2", AWS_SECRET_ACCESS_KEY: "secret-b" };

function credentials(account: typeof ACCOUNT_A): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: account.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: account.AWS_SECRET_ACCESS_KEY };
}

describe("e2e: a key is addressed by its ARN (Region and account)", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
    env.proxy.mapAccessKey(ACCOUNT_A.AWS_ACCESS_KEY_ID, ACCOUNT_A.id);
    env.proxy.mapAccessKey(ACCOUNT_B.AWS_ACCESS_KEY_ID, ACCOUNT_B.id);
  });

  it("up --refresh from a run in another Region keeps the same key, and destroy schedules it in its own Region", async () => {
    const stack = await env.harness.stack("arn-region", oneKey({ description: "made from us-east-1" }), {
      env: { AWS_REGION: "us-east-1" },
    });
    const first = await stack.up();
    const keyId = first.outputs.keyId.value as string;
    const arn = first.outputs.arn.value as string;
    expect(arn).to.equal(`arn:aws:kms:us-east-1:${MOTO_DEFAULT_ACCOUNT}:key/${keyId}`);

    stack.setEnv({ AWS_REGION: "eu-west-1" });
    env.proxy.resetCounts();
    const again = await stack.up({ refresh: true });

    expect(env.proxy.calls("CreateKey"), "no new key").to.equal(0);
    expect(again.outputs.keyId.value).to.equal(keyId);
    expect(again.outputs.arn.value).to.equal(arn);
    expect(again.outputs.keyState.value).to.equal("Enabled");
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);

    await stack.destroy();
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState, "destroy from eu-west-1 scheduled the us-east-1 key").to.equal("PendingDeletion");
  });

  it("declaring region as the key's own Region neither replaces the key nor loses it, from a run elsewhere", async () => {
    const stack = await env.harness.stack("arn-declared-region", oneKey({ description: "no region declared" }), {
      env: { AWS_REGION: "us-east-1" },
    });
    const keyId = (await stack.up()).outputs.keyId.value as string;
    stack.setEnv({ AWS_REGION: "eu-west-1" });
    env.proxy.resetCounts();

    const up = await stack.up({ program: oneKey({ description: "no region declared", region: "us-east-1" }) });

    expect(up.summary.resourceChanges?.replace ?? 0).to.equal(0);
    expect(up.summary.resourceChanges?.create ?? 0).to.equal(0);
    expect(env.proxy.writes()).to.deep.equal([]);
    expect(up.outputs.keyId.value).to.equal(keyId);
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);
  });

  it("a run under another account's credentials fails saying where the key is and where the run is, and keeps the key", async () => {
    const stack = await env.harness.stack("arn-account", oneKey({ description: "made in account A" }), {
      env: credentials(ACCOUNT_A),
    });
    const first = await stack.up();
    const keyId = first.outputs.keyId.value as string;
    const arn = first.outputs.arn.value as string;
    expect(arn).to.equal(`arn:aws:kms:us-east-1:${ACCOUNT_A.id}:key/${keyId}`);

    stack.setEnv(credentials(ACCOUNT_B));
    env.proxy.resetCounts();
    const refresh = await failure(stack.up({ refresh: true }));
    expect(refresh).to.include(`KMS key ${arn} is in account ${ACCOUNT_A.id}, Region us-east-1`);
    expect(refresh).to.include(`this run's credentials are in account ${ACCOUNT_B.id}, Region us-east-1`);
    expect(refresh).to.include(`Run with credentials for account ${ACCOUNT_A.id}`);
    const destroy = await failure(stack.destroy());
    expect(destroy).to.include(`is in account ${ACCOUNT_A.id}`);
    expect(env.proxy.calls("CreateKey"), "no new key in account B").to.equal(0);
    expect(env.proxy.writes()).to.deep.equal([]);
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);

    const inA = outOfBand(env.endpoint, "us-east-1", ACCOUNT_A.AWS_ACCESS_KEY_ID);
    expect((await describeKey(inA, arn)).KeyState, "untouched").to.equal("Enabled");
    stack.setEnv(credentials(ACCOUNT_A));
    await stack.destroy();
    expect((await describeKey(inA, arn)).KeyState).to.equal("PendingDeletion");
  });

  it("import by ARN reads the key in the ARN's Region", async () => {
    const euWest = outOfBand(env.endpoint, "eu-west-1");
    const made = await euWest.send(new CreateKeyCommand({ Description: "lives in eu-west-1" }));
    const arn = made.KeyMetadata!.Arn!;
    const stack = await env.harness.stack(
      "import-arn-region",
      oneKey({ description: "lives in eu-west-1" }, { import: arn }),
    );
    env.proxy.resetCounts();

    const up = await stack.up();

    expect(up.outputs.arn.value).to.equal(arn);
    expect(up.outputs.keyState.value).to.equal("Enabled");
    // Only the adoption's owner tag, in the key's own Region.
    expect(env.proxy.writes()).to.deep.equal(["TagResource"]);
  });

  it("import by the ARN of a multi-Region key adopts that key, not the replica with the same ID in the run's Region", async () => {
    const euWest = outOfBand(env.endpoint, "eu-west-1");
    const primary = (await euWest.send(new CreateKeyCommand({ Description: "primary", MultiRegion: true })))
      .KeyMetadata!;
    await euWest.send(new ReplicateKeyCommand({ KeyId: primary.KeyId, ReplicaRegion: "us-east-1" }));
    expect(primary.KeyId).to.match(/^mrk-/);
    const stack = await env.harness.stack(
      "import-mrk-arn",
      oneKey({ description: "primary", multiRegion: true }, { import: primary.Arn! }),
    );

    const up = await stack.up();

    expect(up.outputs.arn.value).to.equal(primary.Arn);
    expect(up.outputs.arn.value).to.include(":eu-west-1:");
  });

  it("import by the ARN of a key in another account is refused, naming both accounts", async () => {
    const inA = outOfBand(env.endpoint, "us-east-1", ACCOUNT_A.AWS_ACCESS_KEY_ID);
    const arn = (await inA.send(new CreateKeyCommand({ Description: "account A's" }))).KeyMetadata!.Arn!;
    const stack = await env.harness.stack(
      "import-other-account",
      oneKey({ description: "account A's" }, { import: arn }),
    );
    env.proxy.resetCounts();

    const message = await failure(stack.up());

    expect(message).to.include(`KMS key ${arn} is in account ${ACCOUNT_A.id}, Region us-east-1`);
    expect(message).to.include(`this run's credentials are in account ${MOTO_DEFAULT_ACCOUNT}`);
    expect(env.proxy.writes()).to.deep.equal([]);
    expect(await stack.keys()).to.deep.equal([]);
  });

  it("a multi-Region key made by the provider (moto's ID: mrk- and a dashed UUID) refreshes, and imports by ID", async () => {
    const stack = await env.harness.stack("mrk-refresh", oneKey({ description: "multi-Region", multiRegion: true }));
    const keyId = (await stack.up()).outputs.keyId.value as string;
    expect(keyId).to.match(/^mrk-[0-9a-f]{8}-/);

    const refreshed = await stack.up({ refresh: true });
    expect(refreshed.outputs.keyId.value).to.equal(keyId);

    const adopter = await env.harness.stack(
      "mrk-import",
      oneKey({ description: "multi-Region", multiRegion: true }, { import: keyId }),
    );
    env.proxy.resetCounts();
    const adopted = await adopter.up();
    expect(adopted.outputs.keyId.value).to.equal(keyId);
    expect(env.proxy.calls("CreateKey")).to.equal(0);
  });

  it("KmsKey.get of a multi-Region key by the ID KMS gave it", async () => {
    const made = (
      await outOfBand(env.endpoint, "us-east-1").send(new CreateKeyCommand({ Description: "got", MultiRegion: true }))
    ).KeyMetadata!;
    const stack = await env.harness.stack("mrk-get", async () => ({
      keyState: KmsKey.get("got", made.KeyId!).keyState,
    }));
    expect((await stack.up()).outputs.keyState.value).to.equal("Enabled");
  });
});
