// An adoption (the import option) outlives the provider process that made it: each KeyProvider below stands for the
// provider process of one deployment, as the engine starts one per `up`, so nothing is remembered between them.
import { expect } from "chai";
import { CreateKeyCommand, DescribeKeyCommand } from "@aws-sdk/client-kms";
import { KeyProvider } from "../../provider/key/provider";
import { Props, useLocalKms } from "../../testing/kms/local-kms";

describe("an adoption outlives its provider process", function () {
  this.timeout(120_000);
  const kms = useLocalKms();
  const keyState = async (id: string) =>
    (await kms.raw.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState;

  async function adoptedKey(description: string) {
    const made = await kms.raw.send(new CreateKeyCommand({ Description: description }));
    const inputs = await kms.checked({ description, importKeyId: made.KeyMetadata!.Arn! });
    return { id: made.KeyMetadata!.KeyId!, inputs };
  }

  it("a replacement that adopted the same key in one run: the replaced resource's delete in a later run leaves it", async () => {
    const { id, inputs } = await adoptedKey("replaced by one that adopts it again");
    const first = await new KeyProvider().create(inputs);
    const replacement = await new KeyProvider().create(inputs);

    kms.proxy.resetCounts();
    await new KeyProvider().delete(id, first.outs as Props);
    expect(kms.proxy.calls("ScheduleKeyDeletion"), "the replaced resource's delete").to.equal(0);
    expect(await keyState(id)).to.equal("Enabled");

    await new KeyProvider().delete(id, replacement.outs as Props);
    expect(await keyState(id), "the resource that owns it now").to.equal("PendingDeletion");
  });

  it("the same, with the replaced resource's delete right after a refresh read of the key", async () => {
    const { id, inputs } = await adoptedKey("replaced, then refreshed");
    const first = await new KeyProvider().create(inputs);
    await new KeyProvider().create(inputs);

    const later = new KeyProvider();
    const read = await later.read(id, first.outs as Props);
    await later.delete(id, read.props as Props);
    expect(await keyState(id)).to.equal("Enabled");
  });

  it("a created key that another resource adopted since: the creator's delete leaves it", async () => {
    const created = await kms.newKey({ description: "created, then adopted elsewhere" });
    const inputs = await kms.checked({ description: "created, then adopted elsewhere", importKeyId: created.id });
    await new KeyProvider().create(inputs);

    await new KeyProvider().delete(created.id, created.outs);
    expect(await keyState(created.id)).to.equal("Enabled");
  });

  it("an adopted key's state keeps its owner tag through updates, so its own destroy still schedules it", async () => {
    const { id, inputs } = await adoptedKey("adopted, then updated");
    const adopted = await new KeyProvider().create(inputs);
    const news = await kms.checked({ description: "adopted, then updated: new description" });
    const updated = await new KeyProvider().update(id, adopted.outs as Props, news);
    expect(updated.outs).to.have.property("ownerTag", (adopted.outs as Props).ownerTag);

    await new KeyProvider().delete(id, updated.outs as Props);
    expect(await keyState(id)).to.equal("PendingDeletion");
  });
});
