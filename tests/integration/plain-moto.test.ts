// The provider against moto's own server, no proxy in front: what a user who starts `moto_server` gets.
// moto answers CancelKeyDeletion, EnableKey and ScheduleKeyDeletion that name a key by its ARN with HTTP 500, so
// these prove the provider's calls name the key in a form any KMS-compatible server takes.
import { DescribeKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from "@aws-sdk/client-kms";
import { expect } from "chai";
import { KmsKeyProvider } from "../../sdk";
import { useFakeCredentials } from "../../testing/credentials";
import { KmsServer, startKmsServer } from "../../testing/kms/server";

type Props = Record<string, unknown>;

describe("against moto's own server (no proxy)", function () {
  this.timeout(120_000);
  const provider = new KmsKeyProvider();
  let moto: KmsServer;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    useFakeCredentials();
    moto = await startKmsServer();
    // As a user would point every AWS client at moto: STS included.
    for (const name of ["AWS_ENDPOINT_URL", "AWS_REGION", "AWS_MAX_ATTEMPTS"]) saved[name] = process.env[name];
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    process.env.AWS_REGION = "us-east-1";
    process.env.AWS_MAX_ATTEMPTS = "1";
  });
  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await moto?.stop();
  });

  const client = (region: string) => new KMSClient({ region, endpoint: moto.endpoint, maxAttempts: 1 });
  const stateOf = async (id: string, region = "us-east-1") =>
    (await client(region).send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;

  async function newKey(news: Props): Promise<{ id: string; state: Props }> {
    const checked = await provider.check({}, news);
    expect(checked.failures, JSON.stringify(checked.failures)).to.equal(undefined);
    const created = await provider.create(checked.inputs as Props);
    return { id: created.id, state: { ...(checked.inputs as Props), ...(created.outs as Props) } };
  }

  /** read() then update(), as `pulumi up --refresh` calls them. */
  async function upRefresh(id: string, state: Props, declared: Props): Promise<Props> {
    const read = await provider.read(id, state);
    const news = (await provider.check(read.inputs as Props, declared)).inputs as Props;
    const diff = await provider.diff(id, read.props as Props, news);
    expect(diff.changes, "the refresh shows the key must change").to.equal(true);
    return (await provider.update(id, read.props as Props, news)).outs as Props;
  }

  it("recovers a key scheduled for deletion out of band: same key, Enabled, by up --refresh's calls", async () => {
    const { id, state } = await newKey({ description: "plain moto", deletionWindowInDays: 7 });
    await client("us-east-1").send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    const outs = await upRefresh(id, state, { description: "plain moto", deletionWindowInDays: 7 });
    expect(outs.keyId).to.equal(id);
    expect(outs.keyState).to.equal("Enabled");
    expect((await stateOf(id)).KeyState).to.equal("Enabled");
  });

  it("recovers a key of another Region than the run's, then destroys it there with the declared window", async () => {
    const { id, state } = await newKey({ description: "in eu-west-1", region: "eu-west-1", deletionWindowInDays: 9 });
    expect(state.arn).to.match(/^arn:aws:kms:eu-west-1:/);
    await client("eu-west-1").send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    // The run's Region is us-east-1 and the program no longer says where the key is: its ARN does.
    const outs = await upRefresh(id, state, { description: "in eu-west-1", deletionWindowInDays: 9 });
    expect((await stateOf(id, "eu-west-1")).KeyState).to.equal("Enabled");
    await provider.delete(id, outs);
    const deleted = await stateOf(id, "eu-west-1");
    expect(deleted.KeyState).to.equal("PendingDeletion");
    const days = (deleted.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).to.be.closeTo(9, 0.05);
  });

  it("a disabled key declared enabled is enabled again; declared disabled, it is disabled", async () => {
    const { id, state } = await newKey({ description: "toggle" });
    const disabled = await upRefresh(id, state, { description: "toggle", enabled: false });
    expect((await stateOf(id)).KeyState).to.equal("Disabled");
    await upRefresh(id, { ...state, ...disabled }, { description: "toggle", enabled: true });
    expect((await stateOf(id)).KeyState).to.equal("Enabled");
  });
});
