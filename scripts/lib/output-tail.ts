// The last lines a child server printed: passed on to a log as they come, kept for the error when it fails to start.
export interface OutputTail {
  add(text: string): void;
  /** "; its last output:\n…", or '' when it printed nothing. */
  said(): string;
}

export function outputTail(keep: number, log?: (line: string) => void): OutputTail {
  const lines: string[] = [];
  return {
    add(text) {
      const trimmed = text.trim();
      log?.(trimmed);
      lines.push(...trimmed.split('\n').filter(Boolean));
      lines.splice(0, Math.max(0, lines.length - keep));
    },
    said: () => (lines.length > 0 ? `; its last output:\n${lines.join('\n')}` : ''),
  };
}
