// The import option left in the program: a replacement adopts the same key, and the engine's delete of the replaced
// resource must never schedule that key for deletion.
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { failure } from "../../testing/fixtures";
import { createForeignKey, describeKey } from "../../testing/kms/out-of-band";

describe("e2e: the import option left in the program, then a replacement", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });

  async function adopted(name: string, description: string) {
    const keyId = (await createForeignKey(env.outOfBand, description)).KeyId!;
    const stack = await env.harness.stack(name, oneKey({ description }, { import: keyId }));
    await stack.up();
    const [state] = await stack.keys();
    expect(state.id).to.equal(keyId);
    return { keyId, stack, urn: state.urn };
  }

  it("up --replace <urn> keeps the key: it is adopted again and not scheduled for deletion", async () => {
    const { keyId, stack, urn } = await adopted("import-replace", "adopted, then replaced by --replace");
    env.proxy.resetCounts();

    const up = await stack.stack.up({ replace: [urn] });

    expect(up.summary.resourceChanges).to.deep.include({ replace: 1 });
    expect(env.proxy.writes()).to.not.include("ScheduleKeyDeletion");
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Enabled");
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);
    expect(up.outputs.keyState.value).to.equal("Enabled");
  });

  // The dynamic-provider host reports no per-input diff, so the engine updates instead of replacing: still, no
  // delete may reach the key.
  it("replaceOnChanges on a changed input keeps the key and applies the change", async () => {
    const { keyId, stack } = await adopted("import-replace-on-changes", "before");
    env.proxy.resetCounts();

    await stack.up({ program: oneKey({ description: "after" }, { import: keyId, replaceOnChanges: ["description"] }) });

    expect(env.proxy.writes()).to.deep.equal(["UpdateKeyDescription"]);
    const live = await describeKey(env.outOfBand, keyId);
    expect(live.KeyState).to.equal("Enabled");
    expect(live.Description).to.equal("after");
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);
  });

  it("a real replacement (keySpec) with the import option still set says what to do, and changes nothing", async () => {
    const { keyId, stack } = await adopted("import-replace-keyspec", "symmetric");
    env.proxy.resetCounts();

    const message = await failure(
      stack.up({ program: oneKey({ description: "symmetric", keySpec: "RSA_2048" }, { import: keyId }) }),
    );

    expect(message).to.include(
      `keySpec changed, which needs a new key, but the import option still names KMS key ${keyId}`,
    );
    expect(message).to.include("Remove the import option");
    expect(env.proxy.writes()).to.deep.equal([]);
    expect((await describeKey(env.outOfBand, keyId)).KeyState).to.equal("Enabled");
    expect((await stack.keys()).map((key) => key.id)).to.deep.equal([keyId]);
  });
});
