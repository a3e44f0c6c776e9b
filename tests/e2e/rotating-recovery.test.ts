// The recovery story through the engine, with a rotating key: KMS stops rotating a key pending deletion and restores
// rotation when the deletion is cancelled, so the key comes back rotating as declared, with no extra rotation call.
import { GetKeyRotationStatusCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { describeKey, scheduleDeletion } from "../../testing/kms/out-of-band";

for (const enabled of [true, false]) {
  describe(`e2e: a rotating key declared ${enabled ? "enabled" : "disabled"}, scheduled for deletion out of band`, function () {
    this.timeout(TEST_TIMEOUT);
    let env: E2e;

    before(async function () {
      this.timeout(SETUP_TIMEOUT);
      env = await e2e();
    });

    it("up --refresh brings the same key back, still rotating with its period; then nothing is left to change", async () => {
      const declared = { description: "rotating", enabled, enableKeyRotation: true, rotationPeriodInDays: 90 };
      const stack = await env.harness.stack(`rotating-${enabled ? "enabled" : "disabled"}`, oneKey(declared));
      env.proxy.resetCounts();
      const created = await stack.up();
      expect(env.proxy.writes()).to.deep.equal(
        enabled ? ["CreateKey", "EnableKeyRotation"] : ["CreateKey", "EnableKeyRotation", "DisableKey"],
      );
      const keyId = created.outputs.keyId.value as string;
      await scheduleDeletion(env.outOfBand, keyId, 7);

      env.proxy.resetCounts();
      const up = await stack.up({ refresh: true });

      expect(up.summary.resourceChanges).to.deep.equal({ same: 1, update: 1 });
      expect(env.proxy.writes()).to.deep.equal(enabled ? ["CancelKeyDeletion", "EnableKey"] : ["CancelKeyDeletion"]);
      expect(up.outputs.keyId.value).to.equal(keyId);
      expect(up.outputs.keyState.value).to.equal(enabled ? "Enabled" : "Disabled");
      expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal(enabled ? "Enabled" : "Disabled");
      const rotation = await env.outOfBand.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
      expect(rotation.KeyRotationEnabled, "still rotating").to.equal(true);
      const [state] = await stack.keys();
      expect(state.outputs).to.include({ enableKeyRotation: true, rotationPeriodInDays: 90 });

      const preview = await stack.preview({ refresh: true });
      expect(preview.changeSummary).to.deep.equal({ same: 2 });
      await stack.destroy();
    });
  });
}
