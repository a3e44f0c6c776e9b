// A local KMS (moto behind the key-state proxy) for a mocha suite, with the provider pointed at it.
import { expect } from "chai";
import { KMSClient } from "@aws-sdk/client-kms";
import { KmsKeyProvider } from "../../sdk";
import { useFakeCredentials } from "../credentials";
import { outOfBand } from "./out-of-band";
import { KmsProxy } from "./proxy";
import { startKmsServerWithProxy } from "./server";

export type Props = Record<string, unknown>;

interface LocalKms {
  endpoint: string;
  proxy: KmsProxy;
  /** Out-of-band changes, as a console click or a script would make them. */
  raw: KMSClient;
  provider: KmsKeyProvider;
  /** check() then create(), with the endpoint filled in. */
  newKey(news?: Props): Promise<{ id: string; inputs: Props; outs: Props }>;
  /** check() that must pass, with the endpoint filled in. */
  checked(news?: Props): Promise<Props>;
}

/** Registers before/after hooks that start and stop the local KMS; faults and counts are reset before each test. */
export function useLocalKms(env: Record<string, string> = {}): LocalKms {
  let stop: (() => Promise<void>) | undefined;
  const provider = new KmsKeyProvider();
  const local = { provider } as LocalKms;
  local.checked = async (news = {}) => {
    const result = await provider.check({}, { endpoint: local.endpoint, ...news });
    expect(result.failures, JSON.stringify(result.failures)).to.equal(undefined);
    return result.inputs as Props;
  };
  local.newKey = async (news = {}) => {
    const inputs = await local.checked(news);
    const created = await provider.create(inputs);
    return { id: created.id, inputs, outs: created.outs as Props };
  };

  before(async () => {
    useFakeCredentials();
    Object.assign(process.env, env);
    const kms = await startKmsServerWithProxy();
    stop = kms.stop;
    local.endpoint = kms.endpoint;
    // The run's account, asked when a key can't be seen, comes from moto's STS through the proxy.
    process.env.AWS_ENDPOINT_URL_STS = kms.endpoint;
    local.proxy = kms.proxy;
    local.raw = outOfBand(kms.endpoint);
  });
  after(async () => {
    for (const name of [...Object.keys(env), "AWS_ENDPOINT_URL_STS"]) delete process.env[name];
    await stop?.();
  });
  beforeEach(() => {
    local.proxy.clearFaults();
    local.proxy.resetCounts();
  });
  return local;
}
