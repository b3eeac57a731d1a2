// The progress line: one redrawn line per phase on a terminal, a line every few seconds otherwise (CI logs).
const INTERVAL_NON_TTY_MS = 5_000;

export class Progress {
  private label = '';
  private started = Date.now();
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  /** Starts a phase: the previous line is left as it was. */
  phase(label: string): void {
    if (this.tty && this.label) this.out.write('\n');
    this.label = label;
    this.started = Date.now();
    this.lastPrint = 0;
    this.update('');
  }

  update(detail: string, force = false): void {
    const secs = ((Date.now() - this.started) / 1000).toFixed(0).padStart(4);
    const line = `  ${this.label}${detail ? ` · ${detail}` : ''}  [${secs} s]`;
    if (this.tty) {
      const width = this.out.columns ?? 120;
      this.out.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
    } else if (force || !detail || Date.now() - this.lastPrint >= INTERVAL_NON_TTY_MS) {
      this.out.write(`${line}\n`);
      this.lastPrint = Date.now();
    }
  }

  /** Ends the phase with a final word on its line. */
  done(detail = 'done'): void {
    this.update(detail, true);
    if (this.tty) this.out.write('\n');
    this.label = '';
  }

  log(message: string): void {
    if (this.tty && this.label) this.out.write('\r\x1b[2K');
    this.out.write(`${message}\n`);
  }
}
