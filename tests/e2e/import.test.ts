// A key pending deletion that this stack never created: taken under management, then brought back.
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { KmsKeyProvider } from "pulumi-kms-key";
import { KMS_KEY_TYPE } from "../../cli/drift";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { createForeignKey, describeKey, scheduleDeletion } from "../../testing/kms/out-of-band";

/** What a KmsKey puts in its state as `__provider`: the serialized KmsKeyProvider. */
async function serializedProvider(): Promise<string> {
  const provider = new KmsKeyProvider();
  return (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
}

const DECLARED = { description: "Made by another team, adopted by the platform", tags: { owner: "platform" } };

describe("e2e: importing a key that is pending deletion", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  for (const by of ["key ID", "key ARN"] as const) {
    // The engine can't import dynamic resources (pulumi/pulumi#16175); KmsKey adopts the key in create instead.
    it(`the import resource option (by ${by}), then up, recovers the key`, async function () {
      const foreign = await createForeignKey(env.outOfBand, DECLARED.description, DECLARED.tags);
      const keyId = foreign.KeyId!;
      await scheduleDeletion(env.outOfBand, keyId, 7);
      const reference = by === "key ID" ? keyId : foreign.Arn!;
      const stack = await env.harness.stack(
        `import-${by === "key ID" ? "id" : "arn"}`,
        oneKey(DECLARED, { import: reference }),
      );
      env.proxy.resetCounts();

      const up = await stack.up();

      // The owner tag of the adoption goes on once the deletion is cancelled (KMS tags no key pending deletion).
      expect(env.proxy.writes()).to.deep.equal(["CancelKeyDeletion", "EnableKey", "TagResource"]);
      expect(up.outputs.keyId.value).to.equal(keyId);
      expect(up.outputs.keyState.value).to.equal("Enabled");
      expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Enabled");
      expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);
    });
  }

  for (const by of ["key ID", "key ARN"] as const) {
    it(`a state entry for the key (by ${by}, as \`pulumi stack import\` takes it), then up --refresh, recovers the key`, async () => {
      const foreign = await createForeignKey(env.outOfBand, DECLARED.description, DECLARED.tags);
      const keyId = foreign.KeyId!;
      await scheduleDeletion(env.outOfBand, keyId, 7);
      const stack = await env.harness.stack(`adopt-${by === "key ID" ? "id" : "arn"}`, oneKey(DECLARED));
      await stack.importIntoState({
        type: KMS_KEY_TYPE,
        name: "key",
        id: by === "key ID" ? keyId : foreign.Arn!,
        properties: { __provider: await serializedProvider() },
      });
      env.proxy.resetCounts();

      const up = await stack.up({ refresh: true });

      expect(up.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
      expect(env.proxy.writes()).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
      expect(up.outputs.keyId.value).to.equal(keyId);
      expect(up.outputs.keyState.value).to.equal("Enabled");
      expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]); // the read turned an ARN into the ID
      const live = await describeKey(env.outOfBand, keyId);
      expect(live.KeyState).to.equal("Enabled");
      expect(live.DeletionDate).to.equal(undefined);
    });
  }
});
