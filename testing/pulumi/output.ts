// What one engine operation printed, as the Automation API hands it over, and the lines a person reads as errors.
export interface Capture {
  stdout: string;
  stderr: string;
  onOutput: (out: string) => void;
  onError: (err: string) => void;
}

/** Collects what one engine operation prints (TestStack's transcript spans all its operations). */
export function capture(): Capture {
  const c: Capture = {
    stdout: "",
    stderr: "",
    onOutput: (out) => {
      c.stdout += out;
    },
    onError: (err) => {
      c.stderr += err;
    },
  };
  return c;
}

/** The message of a failed Automation API command, with the CLI's own stdout/stderr. */
export function commandErrorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Lines a person reads as errors in engine output. */
export function errorLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /\berror\b/i.test(line));
}
