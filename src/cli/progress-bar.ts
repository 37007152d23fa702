import type { WarmProgress } from "../stats/warm.js";

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const WIDTH = 30;

/**
 * warm()'s progress. On a terminal one line redrawn in place; in a log (not a TTY) a line per
 * tenth of the way, so CI logs stay short.
 */
export class ProgressBar {
  readonly #stream: ProgressStream;
  #lastTenth = -1;
  #drawn = false;

  constructor(stream: ProgressStream) {
    this.#stream = stream;
  }

  update(progress: WarmProgress): void {
    if (this.#stream.isTTY === true) {
      this.#stream.write(`\r${render(progress)}`);
      this.#drawn = true;
      return;
    }
    const tenth = progress.total === 0 ? 10 : Math.floor((progress.done * 10) / progress.total);
    if (tenth === this.#lastTenth) return;
    this.#lastTenth = tenth;
    this.#stream.write(`${render(progress)}\n`);
  }

  finish(): void {
    if (this.#drawn) this.#stream.write("\n");
  }
}

export function render(progress: WarmProgress): string {
  const fraction = progress.total === 0 ? 1 : progress.done / progress.total;
  const filled = Math.round(fraction * WIDTH);
  const bar = "█".repeat(filled) + "░".repeat(WIDTH - filled);
  const width = String(progress.total).length;
  return `warming [${bar}] ${String(progress.done).padStart(width)}/${progress.total}  warmed ${progress.warmed} · failed ${progress.failed} · skipped ${progress.skipped}`;
}
