// Collects a possibly huge output while keeping only its head and tail, so a command printing megabytes costs
// bounded memory and the model still sees how it started and how it ended.
export const MAX_TOOL_OUTPUT_CHARS = 30_000;

export class CappedOutput {
  private head = '';
  private tail = '';
  private total = 0;
  constructor(private readonly max: number = MAX_TOOL_OUTPUT_CHARS) {}

  append(chunk: string): void {
    this.total += chunk.length;
    const half = Math.floor(this.max / 2);
    const room = half - this.head.length;
    if (room > 0) {
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
    }
    if (chunk === '') return;
    this.tail += chunk;
    // Trim only once the tail is well past its budget, so megabytes of small chunks are not quadratic.
    if (this.tail.length > 4 * half) this.tail = this.tail.slice(-half);
  }

  toString(): string {
    if (this.total <= this.max) return this.head + this.tail;
    const tail = this.tail.slice(-(this.max - this.head.length));
    const cut = this.total - this.head.length - tail.length;
    return `${this.head}\n[... ${cut} characters cut from the middle of the output ...]\n${tail}`;
  }
}

/** Caps a string already in memory the same way. */
export function capText(text: string, max: number = MAX_TOOL_OUTPUT_CHARS): string {
  const out = new CappedOutput(max);
  out.append(text);
  return out.toString();
}
