// The provider and the proxy with keys in several accounts and Regions: where calls go, and what "not found" means.
import { CreateKeyCommand, DescribeKeyCommand, EnableKeyCommand } from "@aws-sdk/client-kms";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { expect } from "chai";
import { MOTO_DEFAULT_ACCOUNT } from "../../testing/kms/accounts";
import { outOfBand } from "../../testing/kms/out-of-band";
import { useLocalKms } from "../../testing/kms/local-kms";

const ACCOUNT_A = "111111111111";
const KEY_A = "AKIAINTEGRATIONACCTA";

describe("keys in other accounts and Regions (provider and proxy)", function () {
  this.timeout(120_000);
  const kms = useLocalKms();
  const { provider } = kms;

  const client = (region: string, accessKeyId?: string) => outOfBand(kms.endpoint, region, accessKeyId);

  before(() => kms.proxy.mapAccessKey(KEY_A, ACCOUNT_A));

  it("the proxy puts each access key in its account, for KMS and for STS GetCallerIdentity", async () => {
    const made = (await client("us-east-1", KEY_A).send(new CreateKeyCommand({}))).KeyMetadata!;
    expect(made.Arn).to.include(`:${ACCOUNT_A}:key/`);
    const other = await client("us-east-1")
      .send(new DescribeKeyCommand({ KeyId: made.KeyId }))
      .catch((err: Error) => err);
    expect((other as Error).name).to.equal("NotFoundException");
    const sts = new STSClient({
      region: "us-east-1",
      endpoint: kms.endpoint,
      credentials: { accessKeyId: KEY_A, secretAccessKey: "x" },
    });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Account).to.equal(ACCOUNT_A);
  });

  it("the proxy finds a key by ARN only in the ARN's account and Region, and resolves it in every operation", async () => {
    const made = (await client("eu-west-1").send(new CreateKeyCommand({}))).KeyMetadata!;
    const arn = made.Arn!;
    // moto resolves an ARN in some operations only; KMS in all of them.
    await client("eu-west-1").send(new EnableKeyCommand({ KeyId: arn }));
    for (const [region, accessKeyId] of [
      ["us-east-1", "out-of-band"],
      ["eu-west-1", KEY_A],
    ]) {
      const err = await client(region, accessKeyId)
        .send(new DescribeKeyCommand({ KeyId: arn }))
        .catch((e: Error) => e);
      expect((err as Error).name, `${region} ${accessKeyId}`).to.equal("NotFoundException");
    }
  });

  it("read() of a tracked key from a run in another account fails, naming both accounts, instead of dropping it", async () => {
    const made = (await client("us-east-1", KEY_A).send(new CreateKeyCommand({}))).KeyMetadata!;
    const state = { endpoint: kms.endpoint, keyId: made.KeyId, arn: made.Arn };
    const err = await provider.read(made.KeyId!, state).catch((e: Error) => e);
    expect((err as Error).message).to.include(`KMS key ${made.Arn} is in account ${ACCOUNT_A}, Region us-east-1`);
    expect((err as Error).message).to.include(`this run's credentials are in account ${MOTO_DEFAULT_ACCOUNT}`);
    const deleting = await provider.delete(made.KeyId!, state).catch((e: Error) => e);
    expect((deleting as Error).message).to.include(`is in account ${ACCOUNT_A}`);
    expect(kms.proxy.calls("ScheduleKeyDeletion")).to.equal(0);
  });

  it("when the run's account can't be told, a key KMS doesn't show is kept, and the error says why", async () => {
    const made = (await client("us-east-1", KEY_A).send(new CreateKeyCommand({}))).KeyMetadata!;
    const saved = process.env.AWS_ENDPOINT_URL_STS;
    process.env.AWS_ENDPOINT_URL_STS = "http://127.0.0.1:9"; // nothing listens there
    try {
      const err = await provider
        .read(made.KeyId!, { endpoint: kms.endpoint, keyId: made.KeyId, arn: made.Arn })
        .catch((e: Error) => e);
      expect((err as Error).message).to.include("its account is unknown (STS GetCallerIdentity failed");
      expect((err as Error).message).to.include("pulumi state delete");
    } finally {
      process.env.AWS_ENDPOINT_URL_STS = saved;
    }
  });

  it("read() of a key gone from its own account and Region reports it gone", async () => {
    const arn = `arn:aws:kms:us-east-1:${MOTO_DEFAULT_ACCOUNT}:key/0b5e8f5a-2222-4000-8000-000000000000`;
    const read = await provider.read("0b5e8f5a-2222-4000-8000-000000000000", {
      endpoint: kms.endpoint,
      keyId: "0b5e8f5a-2222-4000-8000-000000000000",
      arn,
    });
    expect(read).to.deep.equal({});
    expect(kms.proxy.calls("GetCallerIdentity"), "the account was checked").to.equal(1);
  });

  it("an update of a key in another Region goes there, whatever the region input says", async () => {
    const { id, inputs, outs } = await kms.newKey({ description: "before", region: "eu-west-1" });
    kms.proxy.resetCounts();
    const news = await kms.checked({ description: "after", region: "us-east-1" });
    await provider.update(id, { ...inputs, ...outs }, news);
    const live = (await client("eu-west-1").send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(live.Description).to.equal("after");
    // Named by ID (the call never works across accounts) to the key's Region, where alone that ID exists.
    const update = kms.proxy.callLog.find((entry) => entry.operation === "UpdateKeyDescription");
    expect(update?.keyId).to.equal(id);
  });
});
