// What the KmsKey resource loads at run time, in the engine's provider process.
export { KeyProvider } from "./keyProvider";
export type { KeyInputs, KeyOutputs } from "./inputs";
export { shownOnce } from "./shownOnce";
