// Ctrl-C, or a CI runner cancelling the job: every running engine operation is cancelled as `pulumi` cancels on ^C (it
// finishes the resource operations in flight, writes the state and unlocks the stack), and none is started after.

export type CancelSignal = "SIGINT" | "SIGTERM";

/** What one Automation API operation needs to be cancellable: pass both among its options. */
interface Cancellable {
  /** Aborted, the Automation API sends the `pulumi` it runs a SIGINT. */
  signal: AbortSignal;
  /** The CLI's output, watched for its own word that it is cancelling. */
  onOutput: (text: string) => void;
}

/** Thrown by an operation that a cancellation stopped, or that was not started because of one. */
export class CancelledError extends Error {
  constructor(readonly signal: CancelSignal) {
    super(`cancelled (${signal})`);
  }
}

/** The CLI's line on its first ^C or SIGTERM ("^C received; cancelling. ..."). */
const CLI_CANCELLING = /received; cancelling/;
/** How long a signalled `pulumi` has to say it got the signal itself before it is sent one. */
const OWN_SIGNAL_WAIT_MS = 2000;

export class Cancellation {
  private requested?: CancelSignal;
  private readonly running = new Set<RunningOperation>();

  /** progress: a line for the user (to stderr) on how each running operation is being cancelled. */
  constructor(private readonly progress: (line: string) => void) {}

  /** The signal that asked for the cancellation; undefined while nobody asked. */
  get signal(): CancelSignal | undefined {
    return this.requested;
  }

  /** Cancels the running operations; later ones are not started. Only the first request counts. */
  request(signal: CancelSignal): void {
    if (this.requested) return;
    this.requested = signal;
    for (const operation of this.running) operation.cancel();
  }

  /**
   * Runs one engine operation (`what`, e.g. "dev: update", names it in progress lines) with the options that make it
   * cancellable; CancelledError when it was cancelled.
   */
  async run<T>(what: string, operation: (options: Cancellable) => Promise<T>): Promise<T> {
    if (this.requested) throw new CancelledError(this.requested);
    const running = new RunningOperation(what, this.progress);
    this.running.add(running);
    try {
      return await operation(running.options);
    } catch (err) {
      if (this.requested) throw new CancelledError(this.requested);
      throw err;
    } finally {
      this.running.delete(running);
    }
  }
}

class RunningOperation {
  private readonly controller = new AbortController();
  private output = "";
  private cancelling = false;

  constructor(
    private readonly what: string,
    private readonly progress: (line: string) => void,
  ) {}

  readonly options: Cancellable = {
    signal: this.controller.signal,
    onOutput: (text) => {
      // The last stretch of output is kept, so a line split between two chunks is still seen.
      this.output = (this.output + text).slice(-200);
      if (CLI_CANCELLING.test(this.output)) this.cancelling = true;
    },
  };

  cancel(): void {
    // A ^C in a terminal reaches the whole process group, `pulumi` included: a second SIGINT would make it terminate
    // at once, mid-operation. So it gets one only if it does not say it is cancelling already.
    setTimeout(() => {
      if (this.cancelling) {
        this.progress(`${this.what}: pulumi got the signal too and is cancelling; waiting for it`);
      } else {
        this.progress(`${this.what}: asking pulumi to cancel (SIGINT); waiting for it`);
        this.controller.abort();
      }
    }, OWN_SIGNAL_WAIT_MS);
  }
}
