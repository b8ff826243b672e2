import { reporters } from 'mocha';

/**
 * Spec output plus one closing line, `N passed, N failed[, N skipped]`, which CI reads to tell
 * how many tests ran. Spec calls this.epilogue() on EVENT_RUN_END, so overriding it prints the
 * line last and synchronously, before mocha exits.
 */
class SummaryReporter extends reporters.Spec {
  override epilogue(): void {
    super.epilogue();
    const { passes, failures, pending } = this.stats;
    const skipped = pending > 0 ? `, ${pending} skipped` : '';
    reporters.Base.consoleLog(`${passes} passed, ${failures} failed${skipped}`);
  }
}

export = SummaryReporter;
