// Through the engine: CreateKey sends exactly the declared tags, and a CreateKey whose answer is lost while KMS's
// ListKeys lags behind still leaves one key, tracked by the stack.
import { expect } from "chai";
import { e2e, E2e, oneKey, SETUP_TIMEOUT, TEST_TIMEOUT } from "../../testing/e2e";
import { tagsOf } from "../../testing/kms/out-of-band";
import { TestStack } from "../../testing/pulumi/automation";

describe("e2e: creating a key with what the program declares and the role permits", function () {
  this.timeout(TEST_TIMEOUT);
  let env: E2e;
  const stacks: TestStack[] = [];

  before(async function () {
    this.timeout(SETUP_TIMEOUT);
    env = await e2e();
  });
  beforeEach(() => env.proxy.resetCounts());
  afterEach(() => {
    env.proxy.clearFaults();
    env.proxy.setListKeysLag(0);
  });
  after(async function () {
    this.timeout(5 * 60_000);
    for (const stack of stacks) await stack.destroy().catch(() => undefined);
  });

  async function stackFor(name: string, program: Parameters<E2e["harness"]["stack"]>[1], env2 = {}) {
    const stack = await env.harness.stack(name, program, { env: env2 });
    stacks.push(stack);
    return stack;
  }

  it("50 declared tags: pulumi up sends those 50 in CreateKey and the key has exactly them", async () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`tag${i}`, `value${i}`]));
    const stack = await stackFor("fifty-tags", oneKey({ description: "fifty tags", tags }));
    const up = await stack.up();
    expect(up.summary.resourceChanges).to.deep.equal({ create: 2 });
    const sent = env.proxy.callLog.find((entry) => entry.operation === "CreateKey")?.tagKeys ?? [];
    expect([...sent].sort()).to.deep.equal(Object.keys(tags).sort());
    expect(await tagsOf(env.outOfBand, up.outputs.keyId.value as string)).to.deep.equal(tags);
  });

  it("a role without kms:TagResource: pulumi up creates a key that declares no tags", async () => {
    env.proxy.addFault({ operation: "TagResource", kind: "accessDenied" });
    const stack = await stackFor("no-tag-permission", oneKey({ description: "least privilege" }));
    const up = await stack.up();
    expect(up.summary.resourceChanges).to.deep.equal({ create: 2 });
    expect(env.proxy.writes()).to.deep.equal(["CreateKey"]);
    expect(env.proxy.callLog.find((entry) => entry.operation === "CreateKey")?.tagKeys).to.equal(undefined);
    expect(await tagsOf(env.outOfBand, up.outputs.keyId.value as string)).to.deep.equal({});
  });

  it("CreateKey's answer lost while ListKeys lags 1.5 s: pulumi up makes one key and the stack tracks it", async () => {
    env.proxy.setListKeysLag(1500);
    env.proxy.addFault({ operation: "CreateKey", kind: "resetAfter", times: 1 });
    const stack = await stackFor("lost-answer", oneKey({ description: "answer lost", tags: { team: "ledger" } }), {
      PULUMI_KMS_KEY_CREATE_LOOKUP_SECONDS: "3",
    });
    const up = await stack.up();
    expect(up.summary.resourceChanges).to.deep.equal({ create: 2 });
    expect(env.proxy.calls("CreateKey"), "CreateKey sent once").to.equal(1);
    const made = env.proxy.callLog
      .filter((entry) => entry.operation === "DescribeKey" && entry.status === 200)
      // The lookup names keys by their ARN: the ID is its last part.
      .map((entry) => entry.keyId?.split("/").pop());
    const [state] = await stack.keys();
    expect(state.id).to.equal(up.outputs.keyId.value);
    expect(made, "the key found is the one the stack tracks").to.include(state.id);
    expect(await tagsOf(env.outOfBand, state.id ?? "")).to.deep.equal({ team: "ledger" });
  });
});
