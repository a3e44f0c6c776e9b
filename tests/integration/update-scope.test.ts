// update() against moto: one DescribeKey, then only the calls for what the diff says changed (plus the cancel and the
// enable a key pending deletion needs), counted at the proxy.
import { expect } from "chai";
import {
  DescribeKeyCommand,
  DisableKeyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
} from "@aws-sdk/client-kms";
import { Props, useLocalKms } from "../../testing/kms/local-kms";

describe("update(): one DescribeKey, and only what changed", function () {
  this.timeout(120_000);
  const kms = useLocalKms();
  const { provider } = kms;
  const operations = () => kms.proxy.callLog.map((c) => c.operation);
  const state = async (id: string) => (await kms.raw.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;

  it("a key found pending deletion without a refresh: cancel, enable, then the declared change", async () => {
    const { id, inputs, outs } = await kms.newKey({ description: "v1", enableKeyRotation: true });
    await kms.raw.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    kms.proxy.resetCounts();

    // No refresh: the engine hands update() the old state, which still says Enabled.
    const updated = await provider.update(id, outs, { ...inputs, description: "v2" });

    expect(operations()).to.deep.equal(["DescribeKey", "CancelKeyDeletion", "EnableKey", "UpdateKeyDescription"]);
    expect(updated.outs).to.include({ keyState: "Enabled", description: "v2", enableKeyRotation: true });
    expect((await state(id)).KeyState).to.equal("Enabled");
  });

  it("a one-tag change: DescribeKey and TagResource, nothing else; tags another tool added stay", async () => {
    const { id, inputs, outs } = await kms.newKey({ tags: { team: "a" } });
    await kms.raw.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: "abac", TagValue: "x" }] }));
    kms.proxy.resetCounts();

    const updated = await provider.update(id, outs, { ...inputs, tags: { team: "b" } });

    expect(operations()).to.deep.equal(["DescribeKey", "TagResource"]);
    expect(updated.outs.tags).to.deep.equal({ team: "b" });
  });

  it("a description change leaves a key disabled out of band disabled (no refresh: the engine didn't see it)", async () => {
    const { id, inputs, outs } = await kms.newKey({ description: "v1" });
    await kms.raw.send(new DisableKeyCommand({ KeyId: id }));
    kms.proxy.resetCounts();

    const updated = await provider.update(id, outs as Props, { ...inputs, description: "v2" });

    expect(operations()).to.deep.equal(["DescribeKey", "UpdateKeyDescription"]);
    expect(updated.outs).to.include({ keyState: "Disabled", description: "v2" });
  });
});
