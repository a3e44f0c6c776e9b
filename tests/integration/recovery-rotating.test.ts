// Recovery scenarios not covered in provider.test.ts, each with a rotating key as well: a primary key pending replica
// deletion (KMS shows no DeletionDate then), and a key pending deletion adopted through the import option.
import { expect } from "chai";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  GetKeyRotationStatusCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { useLocalKms } from "../../testing/kms/local-kms";

describe("recovery, with and without rotation", function () {
  this.timeout(120_000);
  const kms = useLocalKms();

  async function rotationOf(id: string) {
    return kms.raw.send(new GetKeyRotationStatusCommand({ KeyId: id }));
  }

  async function stateOf(id: string) {
    return (await kms.raw.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyState;
  }

  for (const rotating of [false, true]) {
    const rotation = rotating ? { enableKeyRotation: true, rotationPeriodInDays: 180 } : {};
    const suffix = rotating ? ", still rotating" : "";

    it(`a key pending replica deletion: read shows no deletionDate; update cancels and enables it${suffix}`, async () => {
      const { id, inputs, outs } = await kms.newKey({ description: "primary", ...rotation });
      await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
      // KMS keeps a multi-Region primary with replicas in PendingReplicaDeletion; moto can't, the proxy can.
      kms.proxy.overrideKeyState(id, "PendingReplicaDeletion");
      try {
        const read = await kms.provider.read(id, outs);
        expect(read.props).to.include({ keyId: id, keyState: "PendingReplicaDeletion" });
        expect(read.props, "KMS gives no DeletionDate while replicas are deleted").to.not.have.property("deletionDate");
        expect((await kms.provider.diff(id, read.props, inputs)).replaces).to.deep.equal([]);
        kms.proxy.resetCounts();
        const updated = await kms.provider.update(id, read.props, inputs);
        expect(updated.outs).to.include({ keyId: id, keyState: "Enabled", enableKeyRotation: rotating });
      } finally {
        kms.proxy.overrideKeyState(id, undefined);
      }
      const writes = kms.proxy.callLog
        .map((c) => c.operation)
        .filter((op) => !["DescribeKey", "GetKeyPolicy", "GetKeyRotationStatus", "ListResourceTags"].includes(op));
      expect(writes).to.deep.equal(["CancelKeyDeletion", "EnableKey"]);
      expect(await stateOf(id)).to.equal("Enabled");
      const status = await rotationOf(id);
      expect(status.KeyRotationEnabled).to.equal(rotating);
      if (rotating) expect(status.RotationPeriodInDays).to.equal(180);
    });

    it(`a key pending deletion adopted by the import option: same key, Enabled${suffix}`, async () => {
      const made = (await kms.raw.send(new CreateKeyCommand({ Description: "made elsewhere" }))).KeyMetadata!;
      const id = made.KeyId!;
      if (rotating) {
        await kms.raw.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 180 }));
      }
      await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 30 }));
      kms.proxy.resetCounts();
      const adopted = await kms.newKey({ description: "made elsewhere", importKeyId: made.Arn!, ...rotation });
      expect(adopted.id).to.equal(id);
      expect(adopted.outs).to.include({ keyId: id, keyState: "Enabled", enableKeyRotation: rotating });
      expect(kms.proxy.calls("CreateKey")).to.equal(0);
      expect(kms.proxy.calls("CancelKeyDeletion")).to.equal(1);
      expect(await stateOf(id)).to.equal("Enabled");
      expect((await rotationOf(id)).KeyRotationEnabled).to.equal(rotating);
    });
  }
});
